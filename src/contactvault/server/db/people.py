"""People by id, for labelling lists of ids (a confirmation, a task's items): name, title and company."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select

from contactvault.server.db.bulk import in_ids
from contactvault.server.db.tables import companies, personnel


@dataclass(frozen=True, slots=True)
class PersonLabel:
    """What names a person in a list."""

    person_id: int
    full_name: str
    title: str | None
    company_name: str | None


def labels_of(conn: Connection, person_ids: Sequence[int]) -> dict[int, PersonLabel]:
    """The label of each known id (unknown ids are absent)."""
    if not person_ids:
        return {}
    rows = conn.execute(
        select(personnel.c.id, personnel.c.full_name, personnel.c.title, companies.c.name.label("company_name"))
        .select_from(personnel.outerjoin(companies, companies.c.id == personnel.c.company_id))
        .where(in_ids(conn, personnel.c.id, list(person_ids)))
    ).all()
    return {int(r.id): PersonLabel(int(r.id), r.full_name, r.title, r.company_name) for r in rows}
