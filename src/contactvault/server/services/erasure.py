"""Erasure: a person's contact data removed everywhere, and the person kept on the opt-out list.

What one erasure does, in one transaction:

- puts the person (and each of their addresses, by keyed hash) on the suppression list, so no resolver, import or
  retry can ever reveal or charge them again;
- deletes their ``contact_points`` (the vault's copy of their email and phone);
- removes the value from every account's ``unlocks`` row for them but keeps the row: it is what makes a second
  charge for the same person impossible, and the account's history (what it paid for, when) stays true;
- with ``delete_profile``, also deletes the directory profile (name, title, LinkedIn URL, event links);
- writes audit rows (no values): one for the erasure and one per account that had unlocked the person, which is
  also the list of accounts to tell.

After it, the API shows those accounts the person with ``email``/``phone`` null and status ``locked``; the old
task still lists the item as ``unlocked`` (it was delivered and paid for) without the value. A new submission
counts the person as already unlocked for those accounts and as chargeable for others, then fails at resolution
with ``INELIGIBLE`` and no charge, exactly as for anyone else on the opt-out list.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.fernet import InvalidToken

from contactvault.server.db import audit, locks
from contactvault.server.db import erasure as stored
from contactvault.server.db.engine import Transaction
from contactvault.server.db.sealed import unlock_tokens_after
from contactvault.server.db.unlocks import bump_tasks_showing
from contactvault.server.domain.audit import AuditAction
from contactvault.server.domain.errors import InvalidRequest
from contactvault.server.runtime import Runtime
from contactvault.server.services.suppressions import add_hashes, value_hashes
from contactvault.server.services.webhooks import announce_erased

log = logging.getLogger("contactvault.erasure")

SCAN_BATCH = 1000
ADDRESS_KINDS = ("email", "phone")


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure did; ``accounts`` had unlocked the person (tell them)."""

    person_ids: list[str]
    accounts: list[str]
    contact_points_deleted: int
    unlock_values_erased: int
    suppressions_added: int
    in_flight_items: int
    profile_deleted: bool

    def as_json(self, trace_id: str | None) -> dict[str, Any]:
        """The report as the operator API and ``contactvault admin erase`` print it."""
        return {
            "personIds": self.person_ids,
            "accountsThatUnlocked": self.accounts,
            "contactPointsDeleted": self.contact_points_deleted,
            "unlockValuesErased": self.unlock_values_erased,
            "suppressionsAdded": self.suppressions_added,
            "inFlightItems": self.in_flight_items,
            "profileDeleted": self.profile_deleted,
            "traceId": trace_id,
        }


def erase_person(
    rt: Runtime, person_id: int, *, delete_profile: bool = False, trace_id: str | None = None
) -> ErasureReport:
    """Erase one person's contact data and keep them suppressed (idempotent: running it again changes nothing)."""
    return _erase(rt, [person_id], [], delete_profile=delete_profile, trace_id=trace_id)


def erase_address(
    rt: Runtime, kind: str, value: str, *, delete_profile: bool = False, trace_id: str | None = None
) -> ErasureReport:
    """Erase whoever holds this email or phone (in the vault or in any account's unlocks) and suppress it."""
    if kind not in ADDRESS_KINDS:
        raise InvalidRequest(f"Unknown address kind {kind!r}.", {"field": "kind"})
    if not value.strip():
        raise InvalidRequest(f"The {kind} must not be empty.", {"field": kind})
    # The canonical form's hash (listed) and the legacy form's: a value stored before canonical forms has only that.
    digests = value_hashes(rt.cipher, kind, value)
    people, scanned_to = _holders(rt, kind, digests)

    def late_holders(conn: Transaction) -> set[int]:
        # Inside the erasure's transaction, behind the suppression gate: whoever received the address after the
        # scan above (a worker's record step that committed meanwhile) is erased too.
        return stored.vault_holders(conn, kind, digests) | _unlock_holders(conn, rt, kind, digests, scanned_to, None)[0]

    return _erase(
        rt, sorted(people), [(kind, digests[0])], delete_profile=delete_profile, trace_id=trace_id, more=late_holders
    )


def _holders(rt: Runtime, kind: str, digests: Sequence[bytes]) -> tuple[set[int], int]:
    """People whose vault address is this one, or to whom some account's unlock revealed it; and the last unlock
    id scanned."""
    with rt.db.read() as conn:
        people = stored.vault_holders(conn, kind, digests)
    last_id = 0
    while True:
        with rt.db.read() as conn:
            found, scanned_to = _unlock_holders(conn, rt, kind, digests, last_id, SCAN_BATCH)
        people |= found
        if scanned_to == last_id:
            return people, last_id
        last_id = scanned_to


def _unlock_holders(
    conn: Transaction, rt: Runtime, kind: str, digests: Sequence[bytes], after: int, limit: int | None
) -> tuple[set[int], int]:
    """Who was revealed this address in unlocks with ids after ``after``; and the last id scanned."""
    # Unlocks carry no lookup hash (a resolver may have found an address the vault never had): open them all.
    wanted = set(digests)
    people: set[int] = set()
    last_id = after
    for row in unlock_tokens_after(conn, after, limit, channel=kind):
        last_id = row.row_id
        try:
            if not wanted.isdisjoint(value_hashes(rt.cipher, kind, rt.cipher.open(row.token))):
                people.add(row.personnel_id)
        except InvalidToken:
            log.warning("unlock %s opens with no configured key; skipped", row.row_id)
    return people, last_id


def _erase(
    rt: Runtime,
    person_ids: Iterable[int],
    extra_suppressions: list[tuple[str, bytes]],
    *,
    delete_profile: bool,
    trace_id: str | None,
    more: Callable[[Transaction], set[int]] | None = None,
) -> ErasureReport:
    now = rt.clock.now()
    deleted = erased = suppressed = in_flight = 0
    accounts: set[int] = set()
    with rt.db.write() as conn:
        # First, alone: every worker's record step either committed before (its values are erased below) or
        # re-checks the opt-out list after this commits (and stores nothing).
        locks.suppression_gate(conn, exclusive=True)
        people = sorted(set(person_ids) | (more(conn) if more else set()))
        with stored.secure_delete(conn):
            suppressed += add_hashes(conn, extra_suppressions, now, trace_id)
            for pid in people:
                result = _erase_one(conn, rt, pid, now, delete_profile, trace_id)
                deleted += result.contact_points_deleted
                erased += result.unlock_values_erased
                suppressed += result.suppressions_added
                in_flight += result.in_flight_items
                accounts.update(int(a) for a in result.accounts)
    stored.compact(rt.db, delete_profile and bool(people))
    if in_flight:
        # They re-check the opt-out list when they are recorded, after this commit: they end INELIGIBLE, uncharged.
        log.info("%d unfinished items were for erased people; they will fail as ineligible", in_flight)
    return ErasureReport(
        person_ids=[str(p) for p in people],
        accounts=[str(a) for a in sorted(accounts)],
        contact_points_deleted=deleted,
        unlock_values_erased=erased,
        suppressions_added=suppressed,
        in_flight_items=in_flight,
        profile_deleted=delete_profile and bool(people),
    )


def _erase_one(
    conn: Transaction, rt: Runtime, pid: int, now: datetime, delete_profile: bool, trace_id: str | None
) -> ErasureReport:
    points = stored.vault_hashes(conn, pid)
    added = add_hashes(conn, [("person", rt.cipher.lookup_hash("person", str(pid))), *points], now, trace_id)
    deleted = stored.delete_vault_addresses(conn, pid)
    per_account = stored.revealed_per_account(conn, pid)
    erased = stored.erase_revealed(conn, pid, now)
    bump_tasks_showing(conn, [pid])  # their task views change (and cached ones must not be served)
    holders = stored.unlocking_accounts(conn, pid)
    # Only accounts whose copy this run erased: running the erasure again tells nobody twice.
    announce_erased(rt, conn, sorted(a for a in holders if per_account.get(a, 0) > 0), pid, now)
    in_flight = stored.unfinished_items(conn, pid)
    if delete_profile:
        stored.delete_profile(conn, pid)
    audit.record(
        conn,
        [
            audit.AuditEntry(
                AuditAction.PERSON_ERASE,
                None,
                "personnel",
                str(pid),
                detail={
                    "contactPoints": int(deleted),
                    "unlockValues": int(erased),
                    "accounts": len(holders),
                    "profileDeleted": delete_profile,
                },
            ),
            *(
                audit.AuditEntry(
                    AuditAction.PERSON_ERASE,
                    account,
                    "personnel",
                    str(pid),
                    detail={"unlockValues": int(per_account.get(account, 0))},
                )
                for account in sorted(holders)
            ),
        ],
        now,
        trace_id,
    )
    return ErasureReport([str(pid)], [str(a) for a in holders], int(deleted), int(erased), added, in_flight, False)
