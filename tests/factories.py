"""Small, explicit test data: a directory of two events and a handful of people, accounts with keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import insert

from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel
from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts, credits

BIG_EVENT = 100
SMALL_EVENT = 200


@dataclass(frozen=True)
class Account:
    """An account and its key, ready for requests."""

    id: int
    key_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for this account."""
        return {"Authorization": f"Bearer {self.api_key}"}


def email_of(pid: int) -> str:
    """The vault email of person ``pid`` in the test directory."""
    return f"person{pid}@acme-widgets.test"


def phone_of(pid: int) -> str:
    """The vault phone of person ``pid``."""
    return f"+4930{pid:07d}"


def make_directory(rt: Runtime, people: int = 300) -> None:
    """Event 100 has everyone; event 200 has the first 10. People 1..people; every 10th has no email;
    every 3rd has a phone. Companies: 1 "Acme Widgets GmbH" (odd ids), 2 "Northwind Logistics" (even ids)."""
    with rt.db.write() as conn:
        conn.execute(
            insert(events).values(
                {
                    "id": BIG_EVENT,
                    "name": "Berlin Retail Expo 2026",
                    "nickname": "BRE26",
                    "date_start": date(2026, 5, 4),
                    "date_end": date(2026, 5, 6),
                    "city": "Berlin",
                    "country": "Germany",
                    "venue": "Messe Berlin",
                    "exhibitor_count": 2,
                    "personnel_count": people,
                    "topics": '["retail", "logistics"]',
                    "event_type": "tradeshow",
                    "attendee_count": 12000,
                }
            )
        )
        conn.execute(
            insert(events).values(
                {
                    "id": SMALL_EVENT,
                    "name": "Lisbon Partner Summit",
                    "date_start": date(2026, 9, 1),
                    "date_end": date(2026, 9, 2),
                    "city": "Lisbon",
                    "country": "Portugal",
                    "exhibitor_count": 1,
                    "personnel_count": 10,
                }
            )
        )
        conn.execute(
            insert(companies),
            [
                {"id": 1, "name": "Acme Widgets GmbH", "domain": "acme-widgets.test"},
                {"id": 2, "name": "Northwind Logistics", "domain": "northwind.test"},
            ],
        )
        conn.execute(
            insert(personnel),
            [
                {
                    "id": pid,
                    "full_name": f"Person {pid} Example",
                    "title": "VP of Partnerships" if pid % 5 == 0 else "Sales Manager",
                    "department": "Sales",
                    "seniority_level": "VP" if pid % 5 == 0 else "Manager",
                    "linkedin_url": f"https://www.linkedin.com/in/person-{pid}",
                    "company_id": 1 if pid % 2 else 2,
                }
                for pid in range(1, people + 1)
            ],
        )
        conn.execute(
            insert(event_personnel),
            [
                {
                    "event_id": BIG_EVENT,
                    "personnel_id": pid,
                    "source_types": "exhibitor" if pid % 2 else "exhibitor,social",
                    "exhibitor_id": 1 if pid % 2 else 2,
                }
                for pid in range(1, people + 1)
            ]
            + [
                {
                    "event_id": SMALL_EVENT,
                    "personnel_id": pid,
                    "source_types": "visitors",
                    "exhibitor_id": None,
                }
                for pid in range(1, min(people, 10) + 1)
            ],
        )
        rows = [
            {
                "personnel_id": pid,
                "channel": "email",
                "value_encrypted": rt.cipher.seal(email_of(pid)),
                "value_hash": rt.cipher.lookup_hash("email", email_of(pid)),
                "source": "vault",
                "verification_status": "valid",
                "verification_score": 95,
            }
            for pid in range(1, people + 1)
            if pid % 10
        ] + [
            {
                "personnel_id": pid,
                "channel": "phone",
                "value_encrypted": rt.cipher.seal(phone_of(pid)),
                "value_hash": rt.cipher.lookup_hash("phone", phone_of(pid)),
                "source": "vault",
                "verification_status": "valid",
                "verification_score": 80,
            }
            for pid in range(1, people + 1)
            if pid % 3 == 0
        ]
        conn.execute(insert(contact_points), rows)


def make_account(rt: Runtime, credit: int = 10_000, name: str = "test") -> Account:
    """An account with a key and ``credit`` subscription credits."""
    account_id = accounts.create_account(rt, name)
    if credit:
        credits.grant(rt, account_id, credit)
    issued = accounts.create_key(rt, account_id, "test")
    return Account(account_id, issued.key_id, issued.api_key)


@dataclass(frozen=True)
class OperatorKey:
    """An operator key of the operator API (/admin/v1), ready for requests."""

    key_id: str
    api_key: str
    scopes: tuple[str, ...]

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for this operator key."""
        return {"Authorization": f"Bearer {self.api_key}"}


def make_operator_key(rt: Runtime, *scopes: str) -> OperatorKey:
    """An operator key with these scopes (all three when none are given)."""
    from contactvault.server.services import operator_keys

    issued = operator_keys.create(rt, list(scopes or ("accounts", "credits", "privacy")), "test")
    return OperatorKey(issued.key_id, issued.api_key, tuple(s.value for s in issued.scopes))
