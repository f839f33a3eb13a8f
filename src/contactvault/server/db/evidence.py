"""What the pattern resolver reads from the directory: who a person is (name, company, company domain), and the
corroborated addresses known at a company domain (imported contact points, never the engine's own results)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from contactvault.server.db.bulk import id_list_value, in_bound_ids
from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import companies, contact_points, personnel

# The engine's own results are labelled with this source; they never count as evidence (no self-reinforcement).
ENGINE_SOURCES = ("pattern",)
# A domain's evidence is bounded: enough to learn its patterns, never a scan of a huge company.
MAX_EVIDENCE = 500
# The colleagues read to find namesakes are bounded too.
MAX_COLLEAGUES = 5000


@dataclass(frozen=True, slots=True)
class PersonRef:
    """A person as the pattern resolver needs them (names are personal data: kept out of the repr)."""

    personnel_id: int
    full_name: str = field(repr=False)
    company_name: str | None = field(repr=False)
    company_domain: str | None


@dataclass(frozen=True, slots=True)
class KnownAddress:
    """An imported email of a person at a company with the given domain, sealed as stored."""

    personnel_id: int
    full_name: str = field(repr=False)
    value_encrypted: bytes = field(repr=False)


@cache
def _person_refs_query(dialect: str) -> Select[Any]:
    """Built once per dialect (the ids travel as one bound value): building and compiling the statement anew cost
    a resolver that reads one person at a time (a retry, a small batch) more than running it."""
    return (
        select(personnel.c.id, personnel.c.full_name, companies.c.name, companies.c.domain)
        .select_from(personnel.outerjoin(companies, companies.c.id == personnel.c.company_id))
        .where(in_bound_ids(dialect, personnel.c.id, bindparam("ref_ids")))
    )


def person_refs(conn: Transaction, personnel_ids: Sequence[int]) -> dict[int, PersonRef]:
    """The people with these ids (absent ids are missing), with their company's name and domain when known."""
    dialect = conn.dialect.name
    rows = conn.execute(_person_refs_query(dialect), {"ref_ids": id_list_value(dialect, personnel_ids)})
    return {int(r[0]): PersonRef(int(r[0]), r[1], r[2], r[3]) for r in rows}


def known_addresses(conn: Transaction, domain: str, limit: int = MAX_EVIDENCE) -> list[KnownAddress]:
    """Imported emails of people whose company has ``domain`` (case-insensitive), in person id order. The caller
    opens each and keeps those actually at the domain (the value is sealed: SQL cannot see its domain)."""
    query = (
        select(personnel.c.id, personnel.c.full_name, contact_points.c.value_encrypted)
        .select_from(
            personnel.join(companies, companies.c.id == personnel.c.company_id).join(
                contact_points, contact_points.c.personnel_id == personnel.c.id
            )
        )
        .where(
            func.lower(companies.c.domain) == domain.lower(),
            contact_points.c.channel == "email",
            contact_points.c.source.not_in(ENGINE_SOURCES),
        )
        .order_by(personnel.c.id)
        .limit(limit)
    )
    return [KnownAddress(int(r[0]), r[1], bytes(r[2])) for r in conn.execute(query)]


def colleagues(conn: Transaction, domain: str, limit: int = MAX_COLLEAGUES) -> list[tuple[int, str]]:
    """(id, full name) of the people whose company has ``domain`` (case-insensitive), in id order: whoever an
    address at the domain could belong to, imported address or not."""
    query = (
        select(personnel.c.id, personnel.c.full_name)
        .select_from(personnel.join(companies, companies.c.id == personnel.c.company_id))
        .where(func.lower(companies.c.domain) == domain.lower())
        .order_by(personnel.c.id)
        .limit(limit)
    )
    return [(int(r[0]), r[1]) for r in conn.execute(query)]
