"""Every opt-out recorded before canonical forms still blocks: stored under the keyed hash of the value trimmed
(emails lower-cased, phones without punctuation), it keeps matching beside the canonical hash, in the worker's
suppression gate, after an import and after the backfill; and a new opt-out blocks values stored the old way."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import select, update

from contactvault.server.db import suppressions as listed
from contactvault.server.db.tables import contact_points, suppressions
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import erasure
from contactvault.server.services import suppressions as opt_outs
from contactvault.server.services.canonical_hashes import backfill_canonical_hashes
from contactvault.server.services.directory import PageRequest
from contactvault.server.services.importer import import_files
from contactvault.server.services.unlocked_contacts import list_erased, list_unlocked
from contactvault.server.worker.resolvers.base import NOT_FOUND, Lookup, Outcome, Resolution, Resolver
from contactvault.server.worker.resolvers.vault import VaultResolver
from tests.engine import balance, drain, submit, task
from tests.factories import Account

# Person 3 has an email and a phone in the test directory; person 4 has no phone.
PERSON = 3
NO_PHONE = 4
WRITTEN_PHONE = "+44 (0)20 7946-0958"  # the old rules stored "+4402079460958"
CANONICAL_PHONE = "+442079460958"
_OLD_PHONE_PUNCTUATION = re.compile(r"[\s().-]")


def old_form(kind: str, written: str) -> str:
    """What the code before canonical forms stored and hashed (its ``suppressions.normal_value``)."""
    text = written.strip()
    return _OLD_PHONE_PUNCTUATION.sub("", text) if kind == "phone" else text


def record_old_opt_out(rt: Runtime, kind: str, written: str) -> bytes:
    """An opt-out as the code before canonical forms recorded it: the keyed hash of the old form."""
    digest = rt.cipher.lookup_hash(kind, old_form(kind, written))
    with rt.db.write() as conn:
        listed.add(conn, kind, digest, rt.clock.now())
    return digest


def store_old_vault_value(rt: Runtime, pid: int, channel: str, written: str) -> None:
    """A contact point as the importer before canonical forms stored it (no canonical hash)."""
    value = old_form(channel, written)
    with rt.db.write() as conn:
        conn.execute(
            update(contact_points)
            .where(contact_points.c.personnel_id == pid, contact_points.c.channel == channel)
            .values(
                value_encrypted=rt.cipher.seal(value),
                value_hash=rt.cipher.lookup_hash(channel, value),
                canonical_hash=None,
            )
        )


class FindsThese(Resolver):
    """A resolver (pattern, provider...) that finds these values, with the keyed hash of the value it found."""

    name = "finder"

    def __init__(self, rt: Runtime, values: Mapping[int, str]) -> None:
        self.rt = rt
        self.values = dict(values)
        self.found: list[int] = []

    async def resolve(self, lookup: Lookup) -> Resolution:
        """Answer as scripted."""
        value = self.values.get(lookup.personnel_id)
        if value is None:
            return NOT_FOUND
        self.found.append(lookup.personnel_id)
        cipher = self.rt.cipher
        return Resolution(Outcome.FOUND, cipher.seal(value), cipher.lookup_hash(lookup.channel, value), self.name)


def unlock(rt: Runtime, account: Account, pid: int, channel: Channel, resolvers: list[Resolver]) -> dict[str, object]:
    """Submit one person, drain, and return the item."""
    body = submit(rt, account, [pid], channel=channel)
    drain(rt, resolvers)
    item: dict[str, object] = task(rt, account, str(body["task_id"]), channel)["items"][0]
    return item


def test_an_old_phone_opt_out_blocks_the_old_vault_value(directory: Runtime, account: Account) -> None:
    store_old_vault_value(directory, PERSON, "phone", WRITTEN_PHONE)
    record_old_opt_out(directory, "phone", WRITTEN_PHONE)
    item = unlock(directory, account, PERSON, Channel.PHONE, [VaultResolver(directory.db)])
    assert (item["status"], item["errorCode"]) == ("failed", "INELIGIBLE")
    assert balance(directory, account) == 10_000


def test_an_old_opt_out_blocks_the_value_imported_again_and_found_in_canonical_form(
    directory: Runtime, account: Account, tmp_path: Path
) -> None:
    record_old_opt_out(directory, "phone", WRITTEN_PHONE)
    # Imported again, as written back then: stored in E.164, still under the old opt-out's hash.
    (tmp_path / "p.jsonl").write_text(
        f'{{"type": "contact_point", "personnel_id": "{PERSON}", "channel": "phone", "value": "{WRITTEN_PHONE}"}}\n'
    )
    import_files(directory, [tmp_path / "p.jsonl"])
    item = unlock(directory, account, PERSON, Channel.PHONE, [VaultResolver(directory.db)])
    assert (item["status"], item["errorCode"]) == ("failed", "INELIGIBLE")
    # The import listed the canonical hash too: a resolver finding the number in E.164 for someone else is blocked.
    finder = FindsThese(directory, {NO_PHONE: CANONICAL_PHONE})
    item = unlock(directory, account, NO_PHONE, Channel.PHONE, [VaultResolver(directory.db), finder])
    assert finder.found == [NO_PHONE]  # it did find it: the gate, not the resolver, blocked it
    assert (item["status"], item["errorCode"]) == ("failed", "INELIGIBLE")
    assert balance(directory, account) == 10_000


def test_an_old_email_opt_out_blocks_the_same_address_in_any_case_or_spacing(
    directory: Runtime, account: Account, tmp_path: Path
) -> None:
    record_old_opt_out(directory, "email", "  Ann.Smith+Expo@Example.COM ")
    (tmp_path / "e.jsonl").write_text(
        f'{{"type": "contact_point", "personnel_id": "{PERSON}", "channel": "email", '
        '"value": "ANN.SMITH+EXPO@EXAMPLE.COM"}\n'
    )
    import_files(directory, [tmp_path / "e.jsonl"])
    item = unlock(directory, account, PERSON, Channel.EMAIL, [VaultResolver(directory.db)])
    assert (item["status"], item["errorCode"]) == ("failed", "INELIGIBLE")


def test_an_old_opt_out_of_an_address_the_rules_now_refuse_still_blocks(directory: Runtime, account: Account) -> None:
    # Two dots in a row: the old rules took it, email-validator does not; it has no canonical form.
    store_old_vault_value(directory, PERSON, "email", "ann..smith@example.com")
    record_old_opt_out(directory, "email", "Ann..Smith@example.com")
    item = unlock(directory, account, PERSON, Channel.EMAIL, [VaultResolver(directory.db)])
    assert (item["status"], item["errorCode"]) == ("failed", "INELIGIBLE")


def test_a_new_opt_out_blocks_a_value_stored_the_old_way(directory: Runtime, account: Account) -> None:
    store_old_vault_value(directory, PERSON, "phone", WRITTEN_PHONE)  # stored as "+4402079460958"
    assert opt_outs.suppress(directory, "phone", "+44 20 7946 0958") is True  # listed in E.164
    item = unlock(directory, account, PERSON, Channel.PHONE, [VaultResolver(directory.db)])
    assert (item["status"], item["errorCode"]) == ("failed", "INELIGIBLE")
    assert balance(directory, account) == 10_000


def test_suppressing_again_sees_the_old_entry_and_unsuppressing_removes_it(
    directory: Runtime, account: Account
) -> None:
    record_old_opt_out(directory, "phone", WRITTEN_PHONE)
    assert opt_outs.suppress(directory, "phone", "+44 (0) 20 7946 0958") is False  # already listed, the old way
    with directory.db.read() as conn:  # ... and now in E.164 too, so a resolver's find in that form is blocked
        assert len(conn.execute(select(suppressions.c.id)).all()) == 2
    finder = FindsThese(directory, {NO_PHONE: CANONICAL_PHONE})
    item = unlock(directory, account, NO_PHONE, Channel.PHONE, [VaultResolver(directory.db), finder])
    assert (item["status"], item["errorCode"]) == ("failed", "INELIGIBLE")
    assert opt_outs.unsuppress(directory, "phone", WRITTEN_PHONE) is True
    with directory.db.read() as conn:
        assert conn.execute(select(suppressions.c.id)).all() == []


def test_the_backfill_hashes_old_values_once_and_carries_old_opt_outs_over(
    directory: Runtime, account: Account
) -> None:
    store_old_vault_value(directory, PERSON, "phone", WRITTEN_PHONE)
    store_old_vault_value(directory, 5, "email", "ann..smith@example.com")  # no canonical form
    record_old_opt_out(directory, "phone", WRITTEN_PHONE)
    with directory.db.read() as conn:
        old_rows = conn.execute(select(contact_points.c.id).where(contact_points.c.canonical_hash.is_(None))).all()

    report = backfill_canonical_hashes(directory, batch=64)

    assert (report.scanned, report.hashed, report.unreadable, report.opt_outs_carried) == (
        len(old_rows),
        len(old_rows),
        0,
        1,
    )
    with directory.db.read() as conn:
        rows = {
            (r.personnel_id, r.channel): r
            for r in conn.execute(select(contact_points).where(contact_points.c.personnel_id.in_([PERSON, 5])))
        }
    assert rows[(PERSON, "phone")].canonical_hash == directory.cipher.lookup_hash("phone", CANONICAL_PHONE)
    assert rows[(5, "email")].canonical_hash == rows[(5, "email")].value_hash
    assert backfill_canonical_hashes(directory) == type(report)()  # idempotent: nothing left to do
    finder = FindsThese(directory, {NO_PHONE: CANONICAL_PHONE})
    item = unlock(directory, account, NO_PHONE, Channel.PHONE, [VaultResolver(directory.db), finder])
    assert finder.found == [NO_PHONE]
    assert (item["status"], item["errorCode"]) == ("failed", "INELIGIBLE")


def test_a_value_revealed_in_the_old_form_is_hidden_by_a_new_opt_out(directory: Runtime, account: Account) -> None:
    store_old_vault_value(directory, PERSON, "phone", WRITTEN_PHONE)
    body = submit(directory, account, [PERSON], channel=Channel.PHONE)
    drain(directory, [VaultResolver(directory.db)])
    before = task(directory, account, str(body["task_id"]), Channel.PHONE)["items"][0]
    assert before["phone"] == "+4402079460958"

    opt_outs.suppress(directory, "phone", "+44 20 7946 0958")

    after = task(directory, account, str(body["task_id"]), Channel.PHONE)["items"][0]
    assert after["status"] == "unlocked"  # delivered and paid for; the value is no longer shown
    assert after.get("phone") is None
    # The account's list of unlocked contacts hides it too, and its list of removals says why.
    page = PageRequest(1, 50)
    listed = {(v.personnel_id, v.channel): v.value for v in list_unlocked(directory, account.id, page, None).items}
    assert listed == {(PERSON, "phone"): None}
    removed = [(v.personnel_id, v.reason.name, v.channel) for v in list_erased(directory, account.id, page, None).items]
    assert removed == [(PERSON, "OPTED_OUT", "phone")]


def test_erasure_by_address_finds_the_vault_value_in_either_form(directory: Runtime, tmp_path: Path) -> None:
    lines = [
        {"type": "contact_point", "personnel_id": str(PERSON), "channel": "email", "value": "Ann@Bücher.example"},
        {
            "type": "contact_point",
            "personnel_id": str(NO_PHONE),
            "channel": "email",
            "value": "bo@xn--bcher-kva.example",
        },
    ]
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    import_files(directory, [tmp_path / "e.jsonl"])
    assert erasure.erase_address(directory, "email", "ann@xn--bcher-kva.example").person_ids == [str(PERSON)]
    assert erasure.erase_address(directory, "email", "Bo@bücher.example").person_ids == [str(NO_PHONE)]
