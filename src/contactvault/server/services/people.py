"""Name the people of a list of ids (a confirmation's breakdown, a task's items): free, read-only."""

from __future__ import annotations

from collections.abc import Iterable

from contactvault.server.db import people as stored
from contactvault.server.db.people import PersonLabel
from contactvault.server.runtime import Runtime

__all__ = ["PersonLabel", "labels"]


def labels(rt: Runtime, person_ids: Iterable[int]) -> dict[int, PersonLabel]:
    """Name, title and company of each known id, in one read (unknown ids are absent)."""
    ids = sorted(set(person_ids))
    with rt.db.read() as conn:
        return stored.labels_of(conn, ids)
