"""Suppression and erasure: a suppressed person is never revealed or charged, also after their data is erased."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from contactvault.cli.main import app as cli
from contactvault.server.db.tables import contact_points, events, personnel, suppressions, unlocks
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime
from contactvault.server.services import erasure
from contactvault.server.services import suppressions as opt_out
from tests.engine import balance, drain, task
from tests.factories import BIG_EVENT, Account, email_of, phone_of

PERSON = 3  # has an email and a phone


def unlock(client: TestClient, account: Account, ids: list[int], route: str = "unlock") -> dict[str, Any]:
    """Submit over HTTP."""
    response = client.post(
        f"/external/contacts/{route}",
        json={"event_id": str(BIG_EVENT), "personnel_ids": [str(i) for i in ids]},
        headers=account.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def profile(client: TestClient, account: Account, pid: int) -> dict[str, Any]:
    """A ContactItem as this account sees it."""
    body: dict[str, Any] = client.get(
        "/external/personnel/profile", params={"personnel_id": str(pid)}, headers=account.headers
    ).json()
    return body


def unlock_rows(rt: Runtime, pid: int) -> list[Any]:
    """Every account's unlock rows for a person."""
    with rt.db.read() as conn:
        return list(conn.execute(select(unlocks).where(unlocks.c.personnel_id == pid)))


def test_a_suppressed_person_is_never_revealed_or_charged(
    directory: Runtime, client: TestClient, account: Account
) -> None:
    opt_out.suppress(directory, "email", email_of(5))
    opt_out.suppress(directory, "person", str(PERSON))
    start = balance(directory, account)
    email_task = unlock(client, account, [PERSON, 5])["task_id"]
    phone_task = unlock(client, account, [PERSON], "unlock-phone")["task_id"]
    drain(directory)
    for task_id, channel in ((email_task, "unlock-tasks"), (phone_task, "unlock-phone-tasks")):
        body = client.get(f"/external/contacts/{channel}/{task_id}", headers=account.headers).json()
        assert [(i["status"], i["errorCode"], i["creditsCharged"]) for i in body["items"]] == [
            ("failed", "INELIGIBLE", 0)
        ] * len(body["items"])
        assert all("email" not in i and "phone" not in i for i in body["items"])
    assert balance(directory, account) == start
    assert profile(client, account, PERSON)["email"] is None
    assert unlock_rows(directory, PERSON) == []


def test_erasure_removes_the_values_keeps_the_rows_and_suppresses(
    directory: Runtime, client: TestClient, account: Account, other_account: Account
) -> None:
    email_task = unlock(client, account, [PERSON, 1])["task_id"]
    phone_task = unlock(client, account, [PERSON], "unlock-phone")["task_id"]
    drain(directory)
    assert profile(client, account, PERSON)["email"] == email_of(PERSON)
    spent = balance(directory, account)

    report = erasure.erase_person(directory, PERSON, trace_id="erase-1")

    assert report.person_ids == [str(PERSON)]
    assert report.accounts == [str(account.id)]
    assert (report.contact_points_deleted, report.unlock_values_erased, report.suppressions_added) == (2, 2, 3)
    with directory.db.read() as conn:
        assert conn.execute(select(contact_points).where(contact_points.c.personnel_id == PERSON)).all() == []
        kinds = sorted(k for (k,) in conn.execute(select(suppressions.c.kind)))
    assert kinds == ["email", "person", "phone"]
    rows = unlock_rows(directory, PERSON)
    assert len(rows) == 2
    assert all(r.value_encrypted is None and r.value_removed_at is not None for r in rows)
    assert unlock_rows(directory, 1)[0].value_encrypted is not None  # nobody else touched

    # What the API shows the account that had unlocked them: delivered and paid for, value gone.
    seen = profile(client, account, PERSON)
    assert (seen["email"], seen["phone"]) == (None, None)
    assert (seen["contactUnlockStatus"], seen["phoneUnlockStatus"]) == ("unlocked", "ready")
    items = task(directory, account, email_task)["items"]
    assert items[0] == {**items[0], "personnelId": str(PERSON), "status": "unlocked", "creditsCharged": 15}
    assert "email" not in items[0]
    assert "email" in items[1]
    phone_items = client.get(f"/external/contacts/unlock-phone-tasks/{phone_task}", headers=account.headers).json()
    assert "phone" not in phone_items["items"][0]

    # Never charged again: the same account is told "already unlocked"; another is held, then released.
    again = unlock(client, account, [PERSON])
    assert (again["status"], again["skipped_detail"]["already_unlocked_personnel_ids"]) == ("success", [str(PERSON)])
    other_start = balance(directory, other_account)
    other_task = unlock(client, other_account, [PERSON])["task_id"]
    drain(directory)
    assert task(directory, other_account, other_task)["items"][0]["errorCode"] == "INELIGIBLE"
    assert (balance(directory, account), balance(directory, other_account)) == (spent, other_start)

    # Idempotent.
    assert erasure.erase_person(directory, PERSON).suppressions_added == 0
    assert unlock_rows(directory, PERSON) == rows


def test_erasure_by_email_finds_the_person_and_suppresses_the_address(
    directory: Runtime, client: TestClient, account: Account
) -> None:
    unlock(client, account, [PERSON])
    drain(directory)
    report = erasure.erase_address(directory, "email", "  " + email_of(PERSON).upper() + " ")
    assert report.person_ids == [str(PERSON)]
    assert report.accounts == [str(account.id)]
    assert opt_out.suppress(directory, "email", email_of(PERSON)) is False  # already on the list
    with pytest.raises(InvalidRequest):
        erasure.erase_address(directory, "fax", "1")


def test_erasure_by_email_finds_values_only_an_unlock_still_holds(
    directory: Runtime, client: TestClient, account: Account
) -> None:
    unlock(client, account, [PERSON])
    drain(directory)
    with directory.db.write() as conn:  # the vault forgot the address; the account's unlock still has it
        conn.execute(contact_points.delete().where(contact_points.c.personnel_id == PERSON))
    report = erasure.erase_address(directory, "email", email_of(PERSON))
    assert (report.person_ids, report.unlock_values_erased) == ([str(PERSON)], 1)


def test_erasure_of_an_unknown_address_still_suppresses_it(directory: Runtime) -> None:
    report = erasure.erase_address(directory, "phone", "+1 555 0100")
    assert (report.person_ids, report.suppressions_added) == ([], 1)


def test_erasure_can_delete_the_directory_profile(directory: Runtime, client: TestClient, account: Account) -> None:
    with directory.db.read() as conn:
        before = conn.execute(select(events.c.personnel_count).where(events.c.id == BIG_EVENT)).scalar_one()
    report = erasure.erase_person(directory, PERSON, delete_profile=True)
    assert report.profile_deleted
    with directory.db.read() as conn:
        assert conn.execute(select(personnel).where(personnel.c.id == PERSON)).all() == []
        after = conn.execute(select(events.c.personnel_count).where(events.c.id == BIG_EVENT)).scalar_one()
    assert after == before - 1
    assert (
        client.get(
            "/external/personnel/profile", params={"personnel_id": str(PERSON)}, headers=account.headers
        ).status_code
        == 404
    )
    found = client.get(
        "/external/contacts/search",
        params={"company_name": "northwind", "person_name": f"Person {PERSON}"},
        headers=account.headers,
    ).json()
    assert str(PERSON) not in {i["id"] for i in found["items"]}
    submitted = unlock(client, account, [PERSON])
    assert submitted["skipped_detail"]["missing_personnel_ids"] == [str(PERSON)]


def test_the_cli_erases_and_prints_the_accounts_to_tell(
    directory: Runtime, client: TestClient, account: Account, other_account: Account, database_url: str
) -> None:
    unlock(client, account, [PERSON])
    unlock(client, other_account, [PERSON], "unlock-phone")
    drain(directory)
    env = {"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(directory.settings.encryption_key_file)}
    result = CliRunner().invoke(cli, ["admin", "erase", "--email", email_of(PERSON), "--db", database_url], env=env)
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["personIds"] == [str(PERSON)]
    assert sorted(printed["accountsThatUnlocked"]) == sorted([str(account.id), str(other_account.id)])
    assert printed["unlockValuesErased"] == 2
    assert email_of(PERSON) not in result.stdout
    assert phone_of(PERSON) not in result.stdout
    both = CliRunner().invoke(cli, ["admin", "erase", "--email", "a@b.c", "--person", "1", "--db", database_url])
    assert both.exit_code == 2


def test_the_cli_finds_a_phone_written_with_punctuation(
    directory: Runtime, client: TestClient, account: Account, database_url: str
) -> None:
    unlock(client, account, [PERSON], "unlock-phone")
    drain(directory)
    stored = phone_of(PERSON)  # +4930 then 7 digits
    spaced = f"{stored[:3]} ({stored[3:5]}) {stored[5:8]}-{stored[8:]}"
    env = {"CONTACTVAULT_ENCRYPTION_KEY_FILE": str(directory.settings.encryption_key_file)}
    result = CliRunner().invoke(cli, ["admin", "erase", "--phone", spaced, "--db", database_url], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["personIds"] == [str(PERSON)]
    # The suppression is stored under the normalised number, so it blocks the number however it is written.
    assert opt_out.suppress(directory, "phone", stored) is False
