"""Another account's task answers exactly like a task that does not exist."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from contactvault.server.runtime import Runtime
from tests.engine import drain
from tests.factories import BIG_EVENT, Account

# Headers whose values differ per request by design.
PER_REQUEST = {"x-request-id", "x-ratelimit-remaining", "ratelimit", "content-length"}


def shape(response: httpx.Response) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body without its trace id, and headers without per-request values."""
    body = response.json()
    body.pop("traceId")
    headers = {k: v for k, v in response.headers.items() if k not in PER_REQUEST}
    return response.status_code, body, headers


@pytest.mark.parametrize(("submit", "poll"), [("unlock", "unlock-tasks"), ("unlock-phone", "unlock-phone-tasks")])
def test_another_accounts_task_is_indistinguishable_from_a_missing_one(
    directory: Runtime, client: TestClient, account: Account, other_account: Account, submit: str, poll: str
) -> None:
    created = client.post(
        f"/external/contacts/{submit}",
        json={"event_id": str(BIG_EVENT), "personnel_ids": ["3"]},
        headers=account.headers,
    )
    task_id = created.json()["task_id"]
    drain(directory)
    assert client.get(f"/external/contacts/{poll}/{task_id}", headers=account.headers).status_code == 200
    missing_id = str(int(task_id) ^ 1)
    theirs = client.get(f"/external/contacts/{poll}/{task_id}", headers=other_account.headers)
    missing = client.get(f"/external/contacts/{poll}/{missing_id}", headers=other_account.headers)
    theirs_status, theirs_body, theirs_headers = shape(theirs)
    missing_status, missing_body, missing_headers = shape(missing)
    assert theirs_status == missing_status == 404
    assert theirs_body["errorKey"] == "NOT_FOUND"
    assert theirs_body["message"].replace(task_id, "<id>") == missing_body["message"].replace(missing_id, "<id>")
    assert theirs_headers == missing_headers
    with_etag = client.get(
        f"/external/contacts/{poll}/{task_id}", headers={**other_account.headers, "If-None-Match": 'W/"0.0"'}
    )
    assert with_etag.status_code == 404


def test_another_accounts_unlocks_never_show_in_the_directory(
    directory: Runtime, client: TestClient, account: Account, other_account: Account
) -> None:
    client.post(
        "/external/contacts/unlock", json={"event_id": str(BIG_EVENT), "personnel_ids": ["1"]}, headers=account.headers
    )
    drain(directory)
    mine = client.get("/external/personnel/profile", params={"personnel_id": "1"}, headers=account.headers).json()
    theirs = client.get(
        "/external/personnel/profile", params={"personnel_id": "1"}, headers=other_account.headers
    ).json()
    assert mine["email"]
    assert mine["contactUnlockStatus"] == "unlocked"
    assert theirs["email"] is None
    assert theirs["contactUnlockStatus"] == "locked"
