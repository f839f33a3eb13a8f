"""What to sync: the account's delivered contacts from the server, one ``Contact`` per person, erased people left out.

Contacts come from ``GET /external/contacts/unlocked`` (all, since a checkpoint, or of one task); people on
``GET /external/contacts/erased`` are dropped for the channels it names, and a contact whose value the server no
longer shows (erased, past retention, opted out) is never synced.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from contactvault.cli.client.sync.plan import ID_FIELD, Contact
from contactvault.client import Client, ErasedContact, UnlockedContact

__all__ = ["SOURCE_NAME", "contacts_from", "fetch", "from_state_file"]

SOURCE_NAME = "contactvault"


def fetch(client: Client, *, since: str | None = None, task_id: str | None = None) -> list[Contact]:
    """The delivered contacts to sync, oldest first."""
    unlocked = [c for c in client.contacts.iter_unlocked(since=since) if task_id is None or c.task_id == task_id]
    return contacts_from(unlocked, client.contacts.iter_erased())


def contacts_from(unlocked: Iterable[UnlockedContact], erased: Iterable[ErasedContact]) -> list[Contact]:
    """One contact per person (email and phone merged), without what was erased or opted out."""
    gone: dict[str, list[ErasedContact]] = {}
    for gone_item in erased:
        gone.setdefault(str(gone_item.personnel_id), []).append(gone_item)
    people: dict[str, dict[str, str]] = {}
    last: dict[str, str] = {}
    for item in unlocked:
        pid = str(item.personnel_id)
        channel = item.channel
        if item.value is None or any(e.covers(channel) for e in gone.get(pid, [])):
            continue
        values = people.setdefault(pid, {ID_FIELD: pid, "contactvault_source": SOURCE_NAME})
        values[channel] = item.value.strip().lower() if channel == "email" else item.value
        at = "" if item.unlocked_at is None else str(item.unlocked_at)
        last[pid] = max(last.get(pid, ""), at)
        values["contactvault_unlocked_at"] = last[pid]
        if item.channel == "email" and item.verification is not None:
            values["contactvault_verification_status"] = item.verification.status or ""
            score = item.verification.score
            values["contactvault_verification_score"] = "" if score is None else str(score)
    contacts = [Contact(pid, values, last[pid]) for pid, values in people.items()]
    return sorted(contacts, key=lambda c: c.unlocked_at)  # so a checkpoint after a batch leaves nothing behind


def from_state_file(path: str, client: Client) -> list[Contact]:
    """The contacts delivered by the unlock runs kept in a workflow state file (against this client's server)."""
    from contactvault.client import StateStore

    server = client.base_url.rstrip("/")
    with StateStore(path) as store:
        runs = {run.run_id for run in store.list_runs() if run.base_url.rstrip("/") == server}
        delivered = [c for c in store.delivered_contacts() if c.run_id in runs]
    unlocked = [
        UnlockedContact(
            personnel_id=c.personnel_id,
            channel=c.channel,
            value=c.value,
            verification=c.verification,
            unlocked_at=c.unlocked_at,
            task_id=c.task_id,
        )
        for c in delivered
    ]
    # The state file also knows each person's name, title and company: a target with a place for them (CardDAV's
    # FN, N, TITLE, ORG) takes them from ``values``; the field mapping never writes them.
    about: dict[str, dict[str, str]] = {}
    for c in delivered:
        known = {"full_name": c.full_name, "title": c.title, "company_name": c.company_name}
        about.setdefault(c.personnel_id, {}).update({k: v for k, v in known.items() if v})
    contacts = contacts_from(unlocked, client.contacts.iter_erased())
    return [dataclasses.replace(c, values={**about.get(c.personnel_id, {}), **c.values}) for c in contacts]
