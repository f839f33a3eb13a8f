"""Schema-driven fuzzing of the published OpenAPI (schemathesis, in-process, fixed seed, bounded examples).

Every operation gets generated requests with one of two accounts' keys; known task and personnel ids are mixed in,
so the task and profile routes answer real objects (the caller's own and the other account's) and not only 404s.
Asserted for each response: no 5xx, the response matches its documented schema, content type and headers, valid
data is accepted and invalid data refused (with the statuses below), and nothing of the other account leaks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
)

from contactvault.server.api.app import create_app
from contactvault.server.runtime import Runtime
from tests.engine import drain, submit
from tests.factories import BIG_EVENT, Account, email_of, phone_of

EXAMPLES_PER_OPERATION = 30
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
    positive_data_acceptance,
    negative_data_rejection,
]
# A valid request can still be refused for what it names or costs: an unknown id (404), more than the balance
# (402), an Idempotency-Key already used with another body (422) or still running (409). Precheck answers an
# unknown action_type and more than 100 ids with 200 (unsupported_action / exceed_max_unlock_limit): the document
# says so (its schema admits both), so those are positive data, not negative.
ACCEPTED = ["2xx", "304", "402", "404", "409", "422"]
# Invalid data is 400; a body past the size limit 413; an id that cannot exist 404 (an id is opaque text); a
# dropped or mangled Authorization header 401.
REFUSED = ["400", "401", "404", "413"]
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ACCEPTED},
            "negative_data_rejection": {"expected-statuses": REFUSED},
        }
    }
)
# What each account unlocked: disjoint, so any of them in the other account's responses is a leak.
PEOPLE = ({"email": [1, 2], "phone": [3]}, {"email": [5, 7], "phone": [6]})


def _unlock_all(rt: Runtime, account: Account, people: dict[str, list[int]]) -> tuple[set[str], set[str]]:
    """Unlock this account's people; returns (its task ids, the values revealed to it)."""
    from contactvault.server.domain.ledger import Channel

    tasks = {str(submit(rt, account, people["email"])["task_id"])}
    tasks.add(str(submit(rt, account, people["phone"], channel=Channel.PHONE)["task_id"]))
    values = {email_of(p) for p in people["email"]} | {phone_of(p) for p in people["phone"]}
    return tasks, values


def test_the_published_api_survives_schema_driven_fuzzing(
    directory: Runtime, account: Account, other_account: Account
) -> None:
    directory.settings = directory.settings.model_copy(update={"rate_limit_per_key": 0, "rate_limit_per_ip": 0})
    owned = [_unlock_all(directory, a, p) for a, p in zip((account, other_account), PEOPLE, strict=True)]
    drain(directory)  # every known task is terminal, so a long-poll on one answers at once
    callers = (account, other_account)
    known_tasks = sorted(owned[0][0] | owned[1][0])
    known_people = sorted({str(p) for people in PEOPLE for ids in people.values() for p in ids})
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(runtime=directory), config=CONFIG)
    # The external API: the operator API refuses these accounts' keys by design (tests/api/test_operator_auth.py).
    every = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    operations = [operation for operation in every if operation.path.startswith("/external/")]
    assert len(operations) >= 10

    answered: dict[str, set[int]] = {}
    for operation in operations:
        check = _fuzz(operation, callers, owned, known_tasks, known_people, answered)
        check()
    # The real ids took the task and profile routes past 404: to the caller's own objects.
    for path in ("/external/contacts/unlock-tasks/{task_id}", "/external/personnel/profile"):
        assert 200 in answered[path], (path, answered[path])


def _fuzz(
    operation: Any,
    callers: tuple[Account, Account],
    owned: list[tuple[set[str], set[str]]],
    known_tasks: list[str],
    known_people: list[str],
    answered: dict[str, set[int]],
) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)),
        who=st.sampled_from([0, 1]),
        event=st.none() | st.just(str(BIG_EVENT)),
        task=st.none() | st.sampled_from(known_tasks),
        person=st.none() | st.sampled_from(known_people),
    )
    def check(case: Any, who: int, event: str | None, task: str | None, person: str | None) -> None:
        if not case.meta.generation.mode.is_positive:
            event = task = person = None  # a real id would make an invalid request valid again
        for part in (case.path_parameters, case.query, case.body):
            if event is not None and isinstance(part, dict) and "event_id" in part:
                part["event_id"] = event  # a real event, so valid requests reach the deeper code
        if task is not None and "task_id" in (case.path_parameters or {}):
            case.path_parameters["task_id"] = task
        if person is not None and isinstance(case.query, dict) and "personnel_id" in case.query:
            case.query["personnel_id"] = person
        if isinstance(case.query, dict) and str(case.query.get("wait", "")).isdigit():
            case.query["wait"] = 0  # a valid long-poll would only make the run slower
        caller = callers[who]
        headers = caller.headers
        dropped_key = "authorization" not in {h.lower() for h in case.headers or {}}
        if not case.meta.generation.mode.is_positive and dropped_key:
            headers = {}  # the invalid request generated is the one without a key: adding ours would undo it
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)
        answered.setdefault(operation.path, set()).add(response.status_code)
        # Negative generation sometimes drops headers, ours included; a request that kept the key is never a 401.
        if response.request.headers.get("Authorization") == caller.headers["Authorization"]:
            assert response.status_code not in (401, 403), response.text
        other_tasks, other_values = owned[1 - who]
        text = response.text.lower()
        # A 404 may echo the id the caller sent; anything else of the other account's is a leak.
        sent = repr((case.path_parameters, case.query, case.body))
        leaked = {v for v in other_values if v.lower() in text} | {
            t for t in other_tasks if t in text and t not in sent
        }
        assert not leaked, f"{operation.method.upper()} {operation.path} showed another account's data: {leaked}"

    return check
