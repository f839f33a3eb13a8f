"""How revealed values are shown later: a value that no configured key opens degrades to null with
``VALUE_UNREADABLE`` on that person or item only, and a value on the opt-out list is hidden from every account.
The operator commands that take a person id (suppress, erase) refuse one that no person can have."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from contactvault.cli.main import app
from contactvault.server.config import Settings
from contactvault.server.db.tables import contact_points, unlocks
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions
from tests.engine import drain
from tests.factories import BIG_EVENT, Account, email_of, phone_of

EMAIL_TASKS = "/external/contacts/unlock-tasks/"
PHONE_TASKS = "/external/contacts/unlock-phone-tasks/"


def unlock(client: TestClient, account: Account, ids: list[str], phone: bool = False) -> str:
    route = "/external/contacts/unlock-phone" if phone else "/external/contacts/unlock"
    response = client.post(route, json={"event_id": str(BIG_EVENT), "personnel_ids": ids}, headers=account.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["task_id"])


def get(client: TestClient, account: Account, url: str, **params: str) -> Any:
    response = client.get(url, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


def profile(client: TestClient, account: Account, pid: int) -> dict[str, Any]:
    return dict(get(client, account, "/external/personnel/profile", personnel_id=str(pid)))


def in_page(page: dict[str, Any], pid: int) -> dict[str, Any]:
    return next(i for i in page["items"] if i["id"] == str(pid))


def item(task: dict[str, Any], pid: int) -> dict[str, Any]:
    return next(i for i in task["items"] if i["personnelId"] == str(pid))


def seal_under_a_lost_key(rt: Runtime, pid: int) -> int:
    """Replace this person's revealed email with one sealed under a key the service does not have."""
    foreign = Fernet(Fernet.generate_key()).encrypt(b"someone@else.test")
    with rt.db.write() as conn:
        conn.execute(update(unlocks).where(unlocks.c.personnel_id == pid).values(value_encrypted=foreign))
        return int(conn.execute(select(unlocks.c.id).where(unlocks.c.personnel_id == pid)).scalar_one())


# -- undecryptable values -------------------------------------------------------------------------------------


def test_an_unreadable_value_degrades_that_person_only(
    client: TestClient, directory: Runtime, account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    task_id = unlock(client, account, ["1", "3"])
    drain(directory)
    row_id = seal_under_a_lost_key(directory, 1)
    with caplog.at_level(logging.WARNING):
        person = profile(client, account, 1)
        page = get(client, account, "/external/personnel/list", event_id=str(BIG_EVENT), pageSize="5")
        found = get(client, account, "/external/contacts/search", company_name="acme", pageSize="5")
        task = get(client, account, EMAIL_TASKS + task_id)
    for shown in (person, in_page(page, 1), in_page(found, 1)):
        assert shown["email"] is None
        assert shown["contactUnlockStatus"] == "unlocked"
        assert shown["errorCode"] == "VALUE_UNREADABLE"
    assert in_page(page, 3)["email"] == email_of(3)
    assert "errorCode" not in in_page(page, 3)
    assert task["taskStatus"] == "completed"
    assert item(task, 1)["status"] == "unlocked"
    assert item(task, 1)["errorCode"] == "VALUE_UNREADABLE"
    assert "email" not in item(task, 1)
    assert item(task, 3)["email"] == email_of(3)
    lines = [
        r.getMessage() for r in caplog.records if "VALUE_UNREADABLE" in r.getMessage() or "unreadable" in r.getMessage()
    ]
    assert len(lines) == 1, lines  # once per value, however often it is shown
    assert str(row_id) in lines[0]
    assert not any(r.exc_info for r in caplog.records)
    assert "someone@else.test" not in caplog.text


def test_a_value_reads_again_once_its_key_is_back(client: TestClient, directory: Runtime, account: Account) -> None:
    task_id = unlock(client, account, ["1"])
    drain(directory)
    with directory.db.read() as conn:
        token = conn.execute(select(unlocks.c.value_encrypted)).scalar_one()
    seal_under_a_lost_key(directory, 1)
    assert item(get(client, account, EMAIL_TASKS + task_id), 1)["errorCode"] == "VALUE_UNREADABLE"
    with directory.db.write() as conn:  # as if the missing key were configured again
        conn.execute(update(unlocks).values(value_encrypted=token))
    assert item(get(client, account, EMAIL_TASKS + task_id), 1)["email"] == email_of(1)
    assert profile(client, account, 1)["email"] == email_of(1)


def test_admin_keys_check_lists_unreadable_values_by_row_id(
    client: TestClient,
    directory: Runtime,
    account: Account,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unlock(client, account, ["1", "3"])
    drain(directory)
    monkeypatch.setenv("CONTACTVAULT_ENCRYPTION_KEY_FILE", str(settings.encryption_key_file))
    runner = CliRunner()
    clean = runner.invoke(app, ["admin", "keys", "check", "--db", settings.database_url])
    assert clean.exit_code == 0, clean.stderr
    assert json.loads(clean.stdout)["ok"] is True
    row_id = seal_under_a_lost_key(directory, 1)
    foreign = Fernet(Fernet.generate_key()).encrypt(b"+490000")
    with directory.db.write() as conn:
        conn.execute(update(contact_points).where(contact_points.c.personnel_id == 2).values(value_encrypted=foreign))
        point_ids = [
            int(i) for (i,) in conn.execute(select(contact_points.c.id).where(contact_points.c.personnel_id == 2))
        ]
    result = runner.invoke(app, ["admin", "keys", "check", "--db", settings.database_url])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["unreadable"] == {"unlocks": [str(row_id)], "contactPoints": [str(i) for i in sorted(point_ids)]}
    assert "someone@else.test" not in result.stdout


# -- suppression hides revealed values -------------------------------------------------------------------------


def test_suppressing_a_person_hides_values_already_revealed_from_every_account(
    client: TestClient, directory: Runtime, account: Account, other_account: Account
) -> None:
    mine = unlock(client, account, ["3"])
    theirs = unlock(client, other_account, ["3"])
    phone_task = unlock(client, account, ["3"], phone=True)
    drain(directory)
    before = client.get(EMAIL_TASKS + mine, headers=account.headers)
    assert item(before.json(), 3)["email"] == email_of(3)  # now cached as a finished view
    assert item(get(client, account, PHONE_TASKS + phone_task), 3)["phone"] == phone_of(3)

    assert suppressions.suppress(directory, "person", "3")

    for who, task_id in ((account, mine), (other_account, theirs)):
        person = profile(client, who, 3)
        assert (person["email"], person["contactUnlockStatus"]) == (None, "unlocked")
        assert "errorCode" not in person
        page = get(client, who, "/external/personnel/list", event_id=str(BIG_EVENT), pageSize="5")
        assert in_page(page, 3)["email"] is None
        assert (
            in_page(get(client, who, "/external/contacts/search", company_name="acme", pageSize="5"), 3)["email"]
            is None
        )
        task = get(client, who, EMAIL_TASKS + task_id)
        assert item(task, 3)["status"] == "unlocked"
        assert "email" not in item(task, 3)
    assert profile(client, account, 3)["phone"] is None
    assert "phone" not in item(get(client, account, PHONE_TASKS + phone_task), 3)
    after = client.get(EMAIL_TASKS + mine, headers={**account.headers, "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200  # the tag changed: a client's cached copy is not confirmed

    assert suppressions.unsuppress(directory, "person", "3")
    assert profile(client, account, 3)["email"] == email_of(3)
    assert item(get(client, other_account, EMAIL_TASKS + theirs), 3)["email"] == email_of(3)


def test_suppressing_an_address_hides_it_wherever_it_was_revealed(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    task_id = unlock(client, account, ["5", "7"])
    drain(directory)
    assert item(get(client, account, EMAIL_TASKS + task_id), 5)["email"] == email_of(5)

    assert suppressions.suppress(directory, "email", email_of(5).upper())

    assert profile(client, account, 5)["email"] is None
    assert profile(client, account, 7)["email"] == email_of(7)
    task = get(client, account, EMAIL_TASKS + task_id)
    assert "email" not in item(task, 5)
    assert item(task, 7)["email"] == email_of(7)


def test_an_address_revealed_while_its_suppression_scans_is_hidden_from_cached_views_too(
    client: TestClient, directory: Runtime, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scan for who was shown the address runs before the write; a worker that records the address in between,
    # and a poll that caches the finished view, must not leave that cached view showing it.
    task_id = unlock(client, account, ["5"])
    scan = suppressions._people_showing

    def scan_then_deliver(*args: Any) -> Any:
        found = scan(*args)
        drain(directory)
        assert item(get(client, account, EMAIL_TASKS + task_id), 5)["email"] == email_of(5)  # cached now
        return found

    monkeypatch.setattr(suppressions, "_people_showing", scan_then_deliver)
    assert suppressions.suppress(directory, "email", email_of(5))

    assert "email" not in item(get(client, account, EMAIL_TASKS + task_id), 5)


def test_suppressing_a_phone_hides_it(client: TestClient, directory: Runtime, account: Account) -> None:
    task_id = unlock(client, account, ["3", "6"], phone=True)
    drain(directory)
    assert item(get(client, account, PHONE_TASKS + task_id), 3)["phone"] == phone_of(3)

    assert suppressions.suppress(directory, "phone", phone_of(3))

    assert profile(client, account, 3)["phone"] is None
    assert profile(client, account, 3)["phoneUnlockStatus"] == "ready"
    assert profile(client, account, 6)["phone"] == phone_of(6)
    assert "phone" not in item(get(client, account, PHONE_TASKS + task_id), 3)


@pytest.mark.parametrize("person", ["\u00b2", "99999999999999999999", "0", "abc"])
def test_suppressing_a_person_id_no_one_can_have_is_refused(directory: Runtime, person: str) -> None:
    with pytest.raises(InvalidRequest):
        suppressions.suppress(directory, "person", person)


def test_a_person_suppressed_with_leading_zeros_is_the_same_person(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    unlock(client, account, ["7"])
    drain(directory)
    assert suppressions.suppress(directory, "person", "007")
    assert profile(client, account, 7)["email"] is None
    assert not suppressions.suppress(directory, "person", "7")  # already on the list
    assert suppressions.unsuppress(directory, "person", "07")
    assert profile(client, account, 7)["email"] == email_of(7)


@pytest.mark.parametrize("person", ["\u00b2", "99999999999999999999", "0"])
def test_admin_erase_refuses_a_person_id_no_one_can_have(settings: Settings, person: str) -> None:
    result = CliRunner().invoke(app, ["admin", "erase", "--person", person, "--db", settings.database_url])
    assert result.exit_code == 2, result.output
    assert "--person must be a personnel id" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["credits", "grant", "--amount", "5", "--account"],
        ["key", "create", "--account"],
        ["audit", "--account"],
    ],
)
@pytest.mark.parametrize("account", ["\u00b2", "99999999999999999999"])
def test_admin_commands_refuse_an_account_id_no_one_can_have(
    settings: Settings, command: list[str], account: str
) -> None:
    result = CliRunner().invoke(app, ["admin", *command, account, "--db", settings.database_url])
    assert result.exit_code == 2, result.output
    assert "account id must be digits" in result.stderr
