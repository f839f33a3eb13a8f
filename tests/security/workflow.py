"""A full unlock workflow over HTTP, used by the tests that look for leaks and audit gaps afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions
from tests.engine import drain
from tests.factories import BIG_EVENT, Account, email_of, phone_of

EMAIL_IDS = ["1", "2", "3", "4", "10"]  # 4 is suppressed, 10 has no email: both fail uncharged
PHONE_IDS = ["3", "6", "7"]  # 7 has no phone
SUPPRESSED = 4


@dataclass
class Workflow:
    """What the workflow did and saw."""

    accounts: list[Account]
    task_ids: list[str] = field(default_factory=list)
    submission_traces: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    revealed: set[str] = field(default_factory=set)

    @property
    def secrets(self) -> set[str]:
        """Every API key, its secret part, and every address the directory holds for the people involved."""
        keys = {a.api_key for a in self.accounts} | {a.api_key.split("_", 2)[2] for a in self.accounts}
        people = {int(i) for i in EMAIL_IDS + PHONE_IDS}
        return keys | {email_of(p) for p in people} | {phone_of(p) for p in people} | self.revealed


def run_workflow(rt: Runtime, client: TestClient, accounts: list[Account]) -> Workflow:
    """Suppress one person, submit email and phone unlocks for every account, drain, poll, read profiles."""
    suppressions.suppress(rt, "person", str(SUPPRESSED))
    result = Workflow(accounts)
    for account in accounts:
        for route, ids in (("unlock", EMAIL_IDS), ("unlock-phone", PHONE_IDS)):
            response = client.post(
                f"/external/contacts/{route}",
                json={"event_id": str(BIG_EVENT), "personnel_ids": ids},
                headers={**account.headers, "Idempotency-Key": f"wf-{account.id}-{route}"},
            )
            assert response.status_code == 201, response.text
            result.task_ids.append(response.json()["task_id"])
            result.submission_traces.append(response.headers["X-Request-ID"])
    drain(rt)
    for account in accounts:
        for task_id in result.task_ids:
            for route in ("unlock-tasks", "unlock-phone-tasks"):
                response = client.get(f"/external/contacts/{route}/{task_id}", headers=account.headers)
                if response.status_code == 200:
                    body = response.json()
                    assert body["taskStatus"] == "completed", body
                    result.bodies.append(body)
                    for item in body["items"]:
                        result.revealed.update(v for k in ("email", "phone") if (v := item.get(k)))
        for pid in ("1", "3"):
            profile = client.get("/external/personnel/profile", params={"personnel_id": pid}, headers=account.headers)
            assert profile.status_code == 200, profile.text
            result.revealed.update(v for k in ("email", "phone") if (v := profile.json()[k]))
    assert result.revealed >= {email_of(1), email_of(2), email_of(3), phone_of(3), phone_of(6)}
    return result
