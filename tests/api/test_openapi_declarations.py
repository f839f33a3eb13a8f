"""/openapi.json declares what the server really does: every status it sends, the headers it sends and reads,
its servers, and inputs typed as tightly as the server checks them (and no tighter)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contactvault.server.api.app import create_app
from contactvault.server.api.openapi import OPERATION_ERRORS
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings

SUBMITS = ["/external/contacts/unlock", "/external/contacts/unlock-phone"]
POLLS = ["/external/contacts/unlock-tasks/{task_id}", "/external/contacts/unlock-phone-tasks/{task_id}"]
PRECHECK = "/external/actions/precheck"
RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit",
    "RateLimit-Policy",
}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The published document (it does not depend on the data)."""
    tmp: Path = tmp_path_factory.mktemp("spec")
    rt = build_runtime(Settings(database_url=f"sqlite:///{tmp}/cv.db", encryption_key_file=tmp / "keys.json"))
    try:
        yield create_app(runtime=rt).openapi()
    finally:
        rt.db.dispose()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) of every public operation."""
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def component(spec: dict[str, Any], ref: str) -> dict[str, Any]:
    """The component a ``$ref`` points at."""
    found: dict[str, Any] = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return found


def error_schema(spec: dict[str, Any], path: str, method: str, status: str) -> dict[str, Any]:
    """The body schema of one error answer."""
    response = spec["paths"][path][method]["responses"][status]
    return component(spec, response["content"]["application/json"]["schema"]["$ref"])


def test_every_operation_has_its_errors_listed(spec: dict[str, Any]) -> None:
    # A route added without an entry would publish only the common errors.
    assert {(method, path) for method, path, _ in operations(spec)} == set(OPERATION_ERRORS)


def test_a_server_is_declared(spec: dict[str, Any]) -> None:
    assert spec["servers"]
    assert all("url" in s for s in spec["servers"])


@pytest.mark.parametrize("path", [*SUBMITS, PRECHECK])
def test_post_routes_declare_the_413_for_a_body_too_large(spec: dict[str, Any], path: str) -> None:
    assert error_schema(spec, path, "post", "413")["properties"]["errorKey"]["const"] == "INVALID_REQUEST"


@pytest.mark.parametrize("path", POLLS)
def test_polls_declare_no_status_a_get_cannot_produce(spec: dict[str, Any], path: str) -> None:
    responses = spec["paths"][path]["get"]["responses"]
    assert not {"402", "409", "413", "422"} & set(responses)
    assert {"200", "304", "404"} <= set(responses)


@pytest.mark.parametrize("path", SUBMITS)
def test_submit_conflicts_name_their_error_keys(spec: dict[str, Any], path: str) -> None:
    responses = spec["paths"][path]["post"]["responses"]
    assert "IDEMPOTENCY_KEY_IN_USE" in responses["409"]["description"]
    assert "IDEMPOTENCY_KEY_REUSED" in responses["422"]["description"]
    assert "PRICE_CHANGED" in responses["409"]["description"]
    conflict_keys = error_schema(spec, path, "post", "409")["properties"]["errorKey"]["enum"]
    assert conflict_keys == ["IDEMPOTENCY_KEY_IN_USE", "PRICE_CHANGED"]
    assert error_schema(spec, path, "post", "422")["properties"]["errorKey"]["const"] == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.parametrize("path", SUBMITS)
def test_the_402_details_are_typed(spec: dict[str, Any], path: str) -> None:
    schema = error_schema(spec, path, "post", "402")
    assert "details" in schema["required"]
    details = component(spec, schema["properties"]["details"]["$ref"])
    assert details["properties"]["required"]["type"] == details["properties"]["available"]["type"] == "integer"
    assert set(details["required"]) == {"required", "available"}


def test_every_answer_declares_its_headers(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            headers = response.get("headers", {})
            assert headers.get("X-Request-ID", {}).get("required") is True, (method, path, status)
            if status != "401":
                assert set(headers) >= RATE_LIMIT_HEADERS, (method, path, status)
            if status == "429":
                assert headers["Retry-After"]["required"] is True
                assert headers["Retry-After"]["schema"]["type"] == "integer"
            if status == "503":
                assert "Retry-After" in headers
            if path in POLLS and status in ("200", "304"):
                assert headers["ETag"]["required"] is True
            if path in SUBMITS:
                assert headers["Idempotent-Replayed"]["schema"]["enum"] == ["true"]


def test_every_operation_reads_x_request_id_and_the_polls_if_none_match(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert "X-Request-ID" in headers, (method, path)
        if path in POLLS:
            assert "If-None-Match" in headers


@pytest.mark.parametrize("path", SUBMITS)
def test_the_idempotency_key_is_constrained_as_the_server_checks_it(spec: dict[str, Any], path: str) -> None:
    param = next(p for p in spec["paths"][path]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    schema = param["schema"]
    assert (schema["minLength"], schema["maxLength"]) == (1, 255)
    pattern = re.compile(schema["pattern"])
    assert pattern.search("order-42 retry:1~")
    for refused in ("caf\u00e9", "a\tb", "a\x7f"):
        assert not pattern.search(refused), refused


def test_every_string_query_parameter_refuses_nul(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        for param in operation["parameters"]:
            if param["in"] != "query":
                continue
            for branch in param["schema"].get("anyOf", [param["schema"]]):
                if branch.get("type") == "string":
                    assert not re.search(branch["pattern"], "a\x00b"), (method, path, param["name"])
                    assert not re.search(branch["pattern"], "\x00"), (method, path, param["name"])


@pytest.mark.parametrize("name", ["date_start_from", "date_start_to"])
def test_date_filters_are_calendar_days(spec: dict[str, Any], name: str) -> None:
    param = next(p for p in spec["paths"]["/external/events/list"]["get"]["parameters"] if p["name"] == name)
    string = next(b for b in param["schema"]["anyOf"] if b.get("type") == "string")
    assert string["format"] == "date"
    assert re.search(string["pattern"], "2026-05-04")
    assert not any(re.search(string["pattern"], v) for v in ("0", "1767225600", "2026-05-04T00:00:00"))


def test_the_precheck_request_is_typed_per_action(spec: dict[str, Any]) -> None:
    body = spec["paths"][PRECHECK]["post"]["requestBody"]["content"]["application/json"]["schema"]
    unlock, other = (component(spec, v["$ref"]) for v in body["oneOf"])
    assert set(unlock["properties"]["action_type"]["enum"]) == {"unlock_contact_emails", "unlock_contact_phones"}
    params = component(spec, unlock["properties"]["params"]["$ref"])
    assert set(params["required"]) == {"event_id", "personnel_ids"}
    assert params["properties"]["personnel_ids"]["minItems"] == 1
    # More than 100 ids is a valid request, answered 200 exceed_max_unlock_limit.
    assert "maxItems" not in params["properties"]["personnel_ids"]
    # Any other action is a valid request too, answered 200 unsupported_action.
    assert other["properties"]["action_type"]["not"]["enum"] == unlock["properties"]["action_type"]["enum"]
    assert other["properties"]["params"]["type"] == "object"


def test_the_precheck_answer_is_typed_per_reason(spec: dict[str, Any]) -> None:
    answer = spec["paths"][PRECHECK]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    mapping = answer["discriminator"]["mapping"]
    assert set(mapping) == {
        "ok",
        "already_unlocked",
        "unlock_in_progress",
        "insufficient_balance",
        "no_contacts_available",
        "exceed_max_unlock_limit",
        "invalid_subject",
        "unsupported_action",
        "not_found",
    }
    for ref in mapping.values():
        variant = component(spec, ref)
        assert variant["properties"]["biz_code"]["type"] == "string"
        assert "$ref" in variant["properties"]["detail"]  # a typed object, not a free-form one
    classified = component(spec, component(spec, mapping["ok"])["properties"]["detail"]["$ref"])
    assert {"requested_count", "chargeable_count", "personnel_ids", "available_balance"} <= set(classified["required"])


def test_item_error_codes_and_timestamps_are_typed(spec: dict[str, Any]) -> None:
    item = spec["components"]["schemas"]["UnlockItemPublic"]["properties"]
    codes = next(b for b in item["errorCode"]["anyOf"] if b.get("type") == "string")["enum"]
    assert set(codes) == {
        "UNRESOLVED",
        "INELIGIBLE",
        "CREDIT_CAP_REACHED",
        "TASK_FAILED",
        "TASK_NOT_FOUND",
        "VALUE_UNREADABLE",
    }
    task = spec["components"]["schemas"]["UnlockTaskPublic"]["properties"]
    verification = spec["components"]["schemas"]["VerificationPublic"]["properties"]
    for field in (task["createdAt"], task["completedAt"], item["completedAt"], verification["checkedAt"]):
        branches = field.get("anyOf", [field])
        assert any(b.get("format") == "date-time" for b in branches), field
