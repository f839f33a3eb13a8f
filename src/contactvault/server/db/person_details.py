"""What a resolver that asks outside the vault needs to know about a person: name, company and its domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from contactvault.server.db.bulk import in_ids
from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import companies, personnel


@dataclass(frozen=True, slots=True)
class PersonDetails:
    """A person's name and company (personal data: the repr shows the id only)."""

    personnel_id: int
    full_name: str = field(repr=False)
    company_name: str | None = field(repr=False)
    company_domain: str | None = field(repr=False)


def person_details(conn: Transaction, personnel_ids: Sequence[int]) -> dict[int, PersonDetails]:
    """These people's details by id (one query; unknown ids are simply missing)."""
    query = (
        select(personnel.c.id, personnel.c.full_name, companies.c.name, companies.c.domain)
        .select_from(personnel.outerjoin(companies, companies.c.id == personnel.c.company_id))
        .where(in_ids(conn, personnel.c.id, personnel_ids))
    )
    return {row[0]: PersonDetails(*row) for row in conn.execute(query)}
