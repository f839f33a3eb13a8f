"""What the demo's simulated mail world (server/demo/inference.py) reads and changes in a freshly seeded directory:
the largest event, the companies of its people, their names, and the email contact points it removes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, select

from contactvault.server.db.bulk import in_ids
from contactvault.server.db.engine import Transaction
from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel


def largest_event(conn: Transaction) -> int | None:
    """The event with the most people (the lowest id on a tie), if any."""
    row = conn.execute(select(events.c.id).order_by(events.c.personnel_count.desc(), events.c.id).limit(1)).first()
    return int(row[0]) if row else None


def companies_at(conn: Transaction, event_id: int) -> list[tuple[int, str]]:
    """(company id, title) of every person at the event who has a company, by person id."""
    rows = conn.execute(
        select(personnel.c.company_id, personnel.c.title)
        .join(event_personnel, event_personnel.c.personnel_id == personnel.c.id)
        .where(event_personnel.c.event_id == event_id, personnel.c.company_id.is_not(None))
        .order_by(personnel.c.id)
    ).all()
    return [(int(r.company_id), r.title or "") for r in rows]


def company_people(conn: Transaction, company_id: int) -> tuple[str | None, list[str]]:
    """A company's domain and the full names of its people."""
    domain = conn.execute(select(companies.c.domain).where(companies.c.id == company_id)).scalar()
    names = conn.execute(select(personnel.c.full_name).where(personnel.c.company_id == company_id)).scalars()
    return (str(domain) if domain else None), [str(n) for n in names]


def emailed_at(conn: Transaction, company_id: int, event_id: int) -> list[tuple[int, str, str]]:
    """(id, full name, title) of the company's people at the event who have an email, by id."""
    email_of = and_(contact_points.c.personnel_id == personnel.c.id, contact_points.c.channel == "email")
    rows = conn.execute(
        select(personnel.c.id, personnel.c.full_name, personnel.c.title)
        .join(event_personnel, event_personnel.c.personnel_id == personnel.c.id)
        .join(contact_points, email_of)
        .where(personnel.c.company_id == company_id, event_personnel.c.event_id == event_id)
        .order_by(personnel.c.id)
    ).all()
    return [(int(r.id), str(r.full_name), r.title or "") for r in rows]


def drop_emails(conn: Transaction, personnel_ids: Sequence[int]) -> None:
    """Remove these people's email contact points (the demo, right after seeding: nothing refers to them yet)."""
    if personnel_ids:
        conn.execute(
            delete(contact_points).where(
                in_ids(conn, contact_points.c.personnel_id, personnel_ids), contact_points.c.channel == "email"
            )
        )
