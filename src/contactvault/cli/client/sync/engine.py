"""The sync loop: per batch, read what the target holds, decide per record, write, then move the checkpoint.

The checkpoint moves by one journal line per batch (``Checkpoint.commit``) and is compacted once at the end of
a run. A crash between a write and its checkpoint is safe: the rerun reads the written records back, finds them
unchanged and skips them, so nothing is created twice. ``dry_run`` stops before writing and gives the same plan
the real run would follow (the reads are the same; only the writes are left out).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from contactvault.cli.client.sync.checkpoint import Checkpoint
from contactvault.cli.client.sync.http import TargetError
from contactvault.cli.client.sync.plan import Action, Contact, Existing, FieldMap, Kind, batches, decide

__all__ = ["GDPR_DELETE", "ApplyResult", "PermanentErasure", "Report", "Target", "erase", "run"]

GDPR_DELETE = "gdpr-delete"


@dataclasses.dataclass
class ApplyResult:
    """What a target did with a batch: target ids of created records (by personnel id), failures (reason), and
    conflicts only the write revealed (a Salesforce duplicate rule): reported as conflicts, not retried."""

    created: dict[str, str] = dataclasses.field(default_factory=dict)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    conflicts: dict[str, str] = dataclasses.field(default_factory=dict)


class Target(Protocol):
    """A sync destination (an adapter: CSV, JSONL, webhook, HubSpot; Salesforce, Pipedrive, CardDAV would be more)."""

    name: str
    batch_size: int

    def read(self, contacts: Sequence[Contact], fields: FieldMap) -> dict[str, Existing]:
        """The records the target holds for these contacts, keyed by personnel id (absent: none)."""
        ...

    def calls(self, actions: Sequence[Action]) -> list[str]:
        """The API calls (or file writes) applying these actions would make."""
        ...

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        """Write the creates and updates among ``actions``."""
        ...

    def erase(self, target_ids: Sequence[str], how: str) -> list[str]:
        """Flag or delete these records (all created by this tool); return the calls made."""
        ...


@runtime_checkable
class PermanentErasure(Protocol):
    """A target that can delete a record for good (HubSpot's GDPR delete): one call per record."""

    def gdpr_call(self, target_id: str) -> str:
        """The API call deleting this record would make."""
        ...

    def gdpr_delete(self, target_id: str) -> bool:
        """Delete this record for good; False when the target no longer held it."""
        ...


@dataclasses.dataclass
class Report:
    """The plan (every decision), the calls made or planned, and the failures."""

    actions: list[Action] = dataclasses.field(default_factory=list)
    calls: list[str] = dataclasses.field(default_factory=list)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """How many records per kind of action."""
        result = {kind.value: 0 for kind in Kind}
        for action in self.actions:
            result[action.kind.value] += 1
        return result

    def describe(self, *, show_pii: bool, fields: FieldMap, dry_run: bool) -> dict[str, Any]:
        """The whole report as JSON-ready data."""
        pii = frozenset({fields.target_name("email"), fields.target_name("phone"), "email"})
        return {
            "dryRun": dry_run,
            "counts": self.counts(),
            "plan": [a.describe(show_pii=show_pii, pii_fields=pii) for a in self.actions],
            "calls": self.calls,
            "failed": self.failed,
        }


def run(contacts: Sequence[Contact], target: Target, fields: FieldMap, point: Checkpoint, *, dry_run: bool) -> Report:
    """Sync ``contacts`` (oldest first) into ``target`` batch by batch; the checkpoint moves after each batch."""
    report = Report()
    held = False  # after a failed record the checkpoint stays put, so the next run retries it
    for batch in batches(contacts, target.batch_size):
        existing = target.read(batch, fields)
        actions = [decide(c, existing.get(c.personnel_id), fields) for c in batch]
        report.actions.extend(actions)
        calls = target.calls(actions)
        report.calls.extend(calls)
        if dry_run:
            continue
        result = target.apply(actions) if calls else ApplyResult()
        report.failed.update(result.failed)
        if result.conflicts:
            report.actions = [_as_conflict(a, result.conflicts) for a in report.actions]
        point.remember_created(result.created)
        held = held or bool(result.failed)
        if not held:
            point.since = max([point.since or "", *(c.unlocked_at for c in batch)]) or None
        point.commit()  # one journal line: the cost of a batch does not grow with what was synced before
    if not dry_run:
        point.compact()
    return report


def _as_conflict(action: Action, conflicts: dict[str, str]) -> Action:
    reason = conflicts.get(action.personnel_id)
    if reason is None:
        return action
    return dataclasses.replace(action, kind=Kind.CONFLICT, changes={}, values={}, reason=reason)


def erase(erased_ids: Sequence[str], target: Target, point: Checkpoint, how: str, *, dry_run: bool) -> list[str]:
    """Flag, delete or ``gdpr-delete`` the records this tool created for people now erased; never any other."""
    mine = [pid for pid in erased_ids if pid in point.created]
    if not mine:
        return []
    if how == GDPR_DELETE:
        return _erase_permanently(mine, target, point, dry_run=dry_run)
    target_ids = [point.created[pid] for pid in mine]
    if dry_run:
        return [f"{how} {len(target_ids)} record(s)"]
    calls = target.erase(target_ids, how)
    if how == "delete":
        for pid in mine:
            point.forget(pid)
    point.save()
    return calls


def _erase_permanently(mine: Sequence[str], target: Target, point: Checkpoint, *, dry_run: bool) -> list[str]:
    """One call per record; each one gone (or found gone already) leaves the ledger at once, durably, so a rerun
    after a failure repeats only the calls not yet known to have landed (and those answer 404: already gone)."""
    if not isinstance(target, PermanentErasure):
        raise TargetError(f"{target.name} has no permanent delete: use flag or delete")
    calls = []
    for pid in mine:
        target_id = point.created[pid]
        call = target.gdpr_call(target_id)
        if not dry_run:
            if not target.gdpr_delete(target_id):
                call += ": already gone"
            point.forget(pid)
            point.commit()
        calls.append(call)
    if not dry_run:
        point.compact()
    return calls
