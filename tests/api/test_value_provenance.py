"""Inferred values are labelled where the API shows them: the unlocked list's ``source`` and the ContactItem's
``emailSource``/``emailVerification`` (and the phone twins), read from the unlock row that delivered the value."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from contactvault.server.api import schemas
from contactvault.server.api.routes.unlocked import UnlockedContactPublic
from contactvault.server.db.tables import contact_points
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import erasure
from tests.engine import drain, submit
from tests.factories import BIG_EVENT, Account, email_of, phone_of

PROVENANCE_FIELDS = {"emailSource", "emailVerification", "phoneSource", "phoneVerification"}


def _infer(rt: Runtime, person: int) -> None:
    """Person ``person``'s address is one the engine found (source ``pattern``, accept-all at 61)."""
    with rt.db.write() as conn:
        conn.execute(
            update(contact_points)
            .where(contact_points.c.personnel_id == person, contact_points.c.channel == "email")
            .values(source="pattern", verification_status="accept_all", verification_score=61)
        )


def _unlock(rt: Runtime, account: Account, ids: list[int], channel: Channel = Channel.EMAIL) -> None:
    submit(rt, account, ids, channel=channel)
    drain(rt)


def _get(client: TestClient, account: Account, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_unlocked_list_says_where_each_value_came_from(
    directory: Runtime, client: TestClient, account: Account
) -> None:
    _infer(directory, 2)
    _unlock(directory, account, [1, 2])
    _unlock(directory, account, [3], Channel.PHONE)
    items = _get(client, account, "/external/contacts/unlocked")["items"]
    assert [(i["personnelId"], i["channel"], i["source"]) for i in items] == [
        ("1", "email", "vault"),
        ("2", "email", "pattern"),
        ("3", "phone", "vault"),
    ]
    assert items[1]["value"] == email_of(2)
    assert (items[1]["verification"]["status"], items[1]["verification"]["score"]) == ("accept_all", 61)
    for item in items:
        UnlockedContactPublic.model_validate(item)


def test_contact_items_label_a_shown_value_with_its_source_and_verification(
    directory: Runtime, client: TestClient, account: Account
) -> None:
    _infer(directory, 3)
    _unlock(directory, account, [1, 3])
    _unlock(directory, account, [3], Channel.PHONE)
    inferred = _get(client, account, "/external/personnel/profile", personnel_id="3")
    assert inferred["email"] == email_of(3)
    assert inferred["emailSource"] == "pattern"
    assert {k: inferred["emailVerification"][k] for k in ("status", "score")} == {"status": "accept_all", "score": 61}
    assert (inferred["phone"], inferred["phoneSource"]) == (phone_of(3), "vault")
    imported = _get(client, account, "/external/personnel/profile", personnel_id="1")
    assert (imported["emailSource"], imported["emailVerification"]["status"]) == ("vault", "valid")
    assert (imported["phoneSource"], imported["phoneVerification"]) == (None, None)  # no shown phone: no label
    listed = {i["id"]: i for i in _get(client, account, "/external/personnel/list", event_id=str(BIG_EVENT))["items"]}
    assert listed["3"]["emailSource"] == "pattern"
    assert {k: listed["2"][k] for k in PROVENANCE_FIELDS} == dict.fromkeys(PROVENANCE_FIELDS)  # locked: no label
    for item in (inferred, imported, listed["2"], listed["3"]):
        assert schemas.ContactItemPublic.model_validate(item).model_dump(mode="json") == item


def test_no_label_once_the_value_is_hidden(directory: Runtime, client: TestClient, account: Account) -> None:
    _infer(directory, 2)
    _unlock(directory, account, [2])
    erasure.erase_person(directory, 2)
    item = _get(client, account, "/external/personnel/profile", personnel_id="2")
    assert (item["email"], item["contactUnlockStatus"]) == (None, "unlocked")
    assert {k: item[k] for k in PROVENANCE_FIELDS} == dict.fromkeys(PROVENANCE_FIELDS)
