"""Domain opt-outs (both backends): a company's domain on the list is never revealed. A vault email at the domain
fails ``INELIGIBLE`` uncharged with its hold released; emails revealed before at the domain are hidden from every
read (task polls, profiles, lists, ``/unlocked``, ``/erased``) while the entry stands; phones are not affected;
``unsuppress`` shows them again. The domain is matched in its canonical form (IDNA, lower case, no root dot)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from contactvault.server.db.tables import contact_points, suppressions
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import suppressions as opt_out
from tests.engine import assert_reconciles, balance, count, drain, submit, task
from tests.factories import BIG_EVENT, Account, email_of, phone_of

EMAIL_TASKS = "/external/contacts/unlock-tasks/"
SUBDOMAIN_EMAIL = "person4@mail.acme-widgets.test"  # a subdomain is its own entry: not covered by its parent's
DOMAIN = "acme-widgets.test"  # every vault email of the test directory is at this domain


def get(client: TestClient, account: Account, url: str, **params: str) -> Any:
    response = client.get(url, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


def item(body: dict[str, Any], pid: int) -> dict[str, Any]:
    return next(i for i in body["items"] if i["personnelId"] == str(pid))


def profile(client: TestClient, account: Account, pid: int) -> dict[str, Any]:
    return dict(get(client, account, "/external/personnel/profile", personnel_id=str(pid)))


def move_email(rt: Runtime, pid: int, email: str) -> None:
    """Give person ``pid`` another vault email."""
    with rt.db.write() as conn:
        conn.execute(
            update(contact_points)
            .where(contact_points.c.personnel_id == pid, contact_points.c.channel == "email")
            .values(value_encrypted=rt.cipher.seal(email), value_hash=rt.cipher.lookup_hash("email", email))
        )


def test_the_domain_is_one_entry_in_any_writing(directory: Runtime) -> None:
    assert opt_out.suppress(directory, "domain", "ACME-Widgets.TEST.") is True
    assert opt_out.suppress(directory, "domain", DOMAIN) is False
    assert count(directory, suppressions) == 1
    assert opt_out.unsuppress(directory, "domain", " acme-widgets.test ") is True
    assert opt_out.unsuppress(directory, "domain", DOMAIN) is False
    assert count(directory, suppressions) == 0


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("jane@acme-widgets.test", "email address"),
        ("not a domain", "not a valid domain name"),
        ("", "not a valid domain name"),
    ],
)
def test_a_bad_domain_is_refused_naming_the_field_and_nothing_is_written(
    directory: Runtime, raw: str, problem: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        opt_out.suppress(directory, "domain", raw)
    assert caught.value.details == {"field": "domain"}
    assert problem in str(caught.value)
    assert "jane" not in str(caught.value)
    with pytest.raises(InvalidRequest):
        opt_out.unsuppress(directory, "domain", raw)
    assert count(directory, suppressions) == 0


def test_a_vault_email_at_a_suppressed_domain_is_not_delivered_nor_charged(
    directory: Runtime, account: Account
) -> None:
    move_email(directory, 4, SUBDOMAIN_EMAIL)
    opt_out.suppress(directory, "domain", "Acme-Widgets.Test")
    before = balance(directory, account)
    submitted = submit(directory, account, [1, 4])
    assert drain(directory) == 2
    view = task(directory, account, str(submitted["task_id"]))
    blocked, other = view["items"]
    assert (blocked["status"], blocked["errorCode"], blocked["creditsCharged"]) == ("failed", "INELIGIBLE", 0)
    assert "email" not in blocked
    assert (other["status"], other["email"]) == ("unlocked", SUBDOMAIN_EMAIL)
    assert balance(directory, account) == before - other["creditsCharged"]
    assert_reconciles(directory)  # the blocked item's hold was released


def test_phones_are_not_affected_by_a_domain_entry(directory: Runtime, account: Account) -> None:
    opt_out.suppress(directory, "domain", DOMAIN)
    submitted = submit(directory, account, [3], channel=Channel.PHONE)
    drain(directory)
    (phone,) = task(directory, account, str(submitted["task_id"]), Channel.PHONE)["items"]
    assert (phone["status"], phone["phone"]) == ("unlocked", phone_of(3))


def test_emails_revealed_before_are_hidden_from_every_read_until_unsuppressed(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    move_email(directory, 4, SUBDOMAIN_EMAIL)
    task_id = str(submit(directory, account, [4, 5])["task_id"])
    phone_task = str(submit(directory, account, [3], channel=Channel.PHONE)["task_id"])
    drain(directory)
    before = client.get(EMAIL_TASKS + task_id, headers=account.headers)
    assert item(before.json(), 5)["email"] == email_of(5)  # a finished view, cached with its ETag

    assert opt_out.suppress(directory, "domain", DOMAIN.upper())

    after = client.get(EMAIL_TASKS + task_id, headers={**account.headers, "If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200  # a new version: no cached copy keeps showing the address
    assert item(after.json(), 5)["status"] == "unlocked"
    assert "email" not in item(after.json(), 5)
    assert item(after.json(), 4)["email"] == SUBDOMAIN_EMAIL
    assert (profile(client, account, 5)["email"], profile(client, account, 5)["contactUnlockStatus"]) == (
        None,
        "unlocked",
    )
    page = get(client, account, "/external/personnel/list", event_id=str(BIG_EVENT), pageSize="10")
    assert next(i for i in page["items"] if i["id"] == "5")["email"] is None
    assert profile(client, account, 3)["phone"] == phone_of(3)  # phones are not affected
    assert item(get(client, account, "/external/contacts/unlock-phone-tasks/" + phone_task), 3)["phone"] == phone_of(3)
    unlocked = {
        (i["personnelId"], i["channel"]): i["value"]
        for i in get(client, account, "/external/contacts/unlocked")["items"]
    }
    assert unlocked == {("4", "email"): SUBDOMAIN_EMAIL, ("5", "email"): None, ("3", "phone"): phone_of(3)}
    erased = get(client, account, "/external/contacts/erased")["items"]
    assert [(i["personnelId"], i["reason"], i["channel"]) for i in erased] == [("5", "opted_out", "email")]

    assert opt_out.unsuppress(directory, "domain", DOMAIN + ".")
    assert item(get(client, account, EMAIL_TASKS + task_id), 5)["email"] == email_of(5)
    assert profile(client, account, 5)["email"] == email_of(5)
    assert get(client, account, "/external/contacts/erased")["items"] == []


def test_an_internationalised_domain_matches_in_either_form(
    client: TestClient, directory: Runtime, account: Account, other_account: Account
) -> None:
    move_email(directory, 5, "person5@xn--bcher-kva.test")
    task_id = str(submit(directory, account, [5])["task_id"])
    drain(directory)
    assert item(get(client, account, EMAIL_TASKS + task_id), 5)["email"] == "person5@xn--bcher-kva.test"

    assert opt_out.suppress(directory, "domain", "BÜCHER.test.")

    assert "email" not in item(get(client, account, EMAIL_TASKS + task_id), 5)
    assert opt_out.suppress(directory, "domain", "XN--BCHER-KVA.TEST") is False  # the same entry
    other = str(submit(directory, other_account, [5])["task_id"])
    drain(directory)
    (refused,) = task(directory, other_account, other)["items"]
    assert (refused["status"], refused["errorCode"], refused["creditsCharged"]) == ("failed", "INELIGIBLE", 0)
