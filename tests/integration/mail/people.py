"""A small directory around the mail world's domains: people, companies and their imported addresses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from sqlalchemy import insert

from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel
from contactvault.server.runtime import Runtime

EVENT = 900


class Person(NamedTuple):
    """A person at a company; ``email`` is imported with ``source`` when given."""

    id: int
    full_name: str
    company_id: int | None
    email: str | None = None
    source: str = "import"


def seed(rt: Runtime, company_domains: Mapping[int, str | None], people: Sequence[Person]) -> None:
    """One event with everyone, the companies (id -> domain) and the people with their imported emails."""
    with rt.db.write() as conn:
        conn.execute(insert(events).values({"id": EVENT, "name": "Mail World Summit"}))
        conn.execute(
            insert(companies),
            [{"id": cid, "name": f"Company {cid}", "domain": domain} for cid, domain in company_domains.items()],
        )
        conn.execute(
            insert(personnel), [{"id": p.id, "full_name": p.full_name, "company_id": p.company_id} for p in people]
        )
        conn.execute(
            insert(event_personnel),
            [{"event_id": EVENT, "personnel_id": p.id, "source_types": "exhibitor"} for p in people],
        )
        rows = [
            {
                "personnel_id": p.id,
                "channel": "email",
                "value_encrypted": rt.cipher.seal(p.email),
                "value_hash": rt.cipher.lookup_hash("email", p.email),
                "source": p.source,
                "verification_status": "valid",
                "verification_score": 90,
            }
            for p in people
            if p.email
        ]
        if rows:
            conn.execute(insert(contact_points), rows)
