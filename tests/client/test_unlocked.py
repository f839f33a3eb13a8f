"""client.contacts.unlocked / erased (and their iterators): the same on Client and AsyncClient."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from contactvault import AsyncClient, Client, ErasedContact, UnlockedContact

UNLOCKED = {
    "personnelId": "7",
    "channel": "email",
    "value": "ada@example.com",
    "verification": {"status": "valid", "score": 95, "checkedAt": "2026-11-30T09:00:00Z"},
    "unlockedAt": "2026-11-30T09:00:01Z",
    "taskId": "123",
}
ERASED = [
    {"personnelId": "7", "reason": "erased", "channel": None, "at": "2026-12-01T10:00:00Z"},
    {"personnelId": "8", "reason": "opted_out", "channel": "phone", "at": "2026-12-01T11:00:00Z"},
]


def _page(items: list[dict[str, Any]], page: int, size: int) -> dict[str, Any]:
    chunk = items[(page - 1) * size : page * size]
    pages = (len(items) + size - 1) // size
    return {
        "items": chunk,
        "total": len(items),
        "page": page,
        "pageSize": size,
        "totalPages": pages,
        "hasMore": page < pages,
    }


class Server:
    """Answers the two routes and remembers the queries."""

    def __init__(self) -> None:
        self.queries: list[tuple[str, dict[str, str]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.queries.append((request.url.path, params))
        items: list[Any] = [UNLOCKED] if request.url.path.endswith("/unlocked") else ERASED
        return httpx.Response(200, json=_page(items, int(params.get("page", 1)), int(params.get("pageSize", 20))))


def test_sync_client_reads_both_routes_and_formats_since() -> None:
    server = Server()
    with Client("sk_x", base_url="https://cv.test", transport=httpx.MockTransport(server)) as client:
        page = client.contacts.unlocked(since=datetime(2026, 11, 30, 10, tzinfo=timezone(timedelta(hours=1))))
        erased = list(client.contacts.iter_erased(since="2026-11-30", page_size=1))
        naive = client.contacts.erased(since=datetime(2026, 11, 30, 9))
    contact = page.items[0]
    assert isinstance(contact, UnlockedContact)
    assert (contact.personnel_id, contact.channel, contact.value, contact.task_id) == (
        "7",
        "email",
        UNLOCKED["value"],
        "123",
    )
    assert contact.verification is not None
    assert contact.verification.score == 95
    assert "ada@example.com" not in repr(contact)
    assert [(e.personnel_id, e.reason, e.channel) for e in erased] == [
        ("7", "erased", None),
        ("8", "opted_out", "phone"),
    ]
    assert all(isinstance(e, ErasedContact) for e in erased)
    assert erased[0].covers("email")
    assert erased[0].covers("phone")
    assert erased[1].covers("phone")
    assert not erased[1].covers("email")
    assert naive.total == 2
    assert server.queries == [
        ("/external/contacts/unlocked", {"since": "2026-11-30T10:00:00+01:00", "page": "1"}),
        ("/external/contacts/erased", {"since": "2026-11-30", "page": "1", "pageSize": "1"}),
        ("/external/contacts/erased", {"since": "2026-11-30", "page": "2", "pageSize": "1"}),
        ("/external/contacts/erased", {"since": "2026-11-30T09:00:00Z", "page": "1"}),
    ]


def test_async_client_reads_both_routes_the_same_way() -> None:
    server = Server()

    async def main() -> tuple[list[UnlockedContact], list[ErasedContact]]:
        async with AsyncClient("sk_x", base_url="https://cv.test", transport=httpx.MockTransport(server)) as client:
            unlocked = [c async for c in client.contacts.iter_unlocked(since=datetime(2026, 11, 30, tzinfo=UTC))]
            erased = (await client.contacts.erased(page=1, page_size=5)).items
            return unlocked, erased

    unlocked, erased = asyncio.run(main())
    assert [c.personnel_id for c in unlocked] == ["7"]
    assert [e.personnel_id for e in erased] == ["7", "8"]
    assert server.queries == [
        ("/external/contacts/unlocked", {"since": "2026-11-30T00:00:00Z", "page": "1", "pageSize": "100"}),
        ("/external/contacts/erased", {"page": "1", "pageSize": "5"}),
    ]


def test_an_unlocked_contact_says_where_its_value_came_from_and_none_from_older_servers() -> None:
    inferred = UnlockedContact.model_validate({**UNLOCKED, "source": "pattern"})
    assert inferred.source == "pattern"
    older = UnlockedContact.model_validate({k: v for k, v in UNLOCKED.items() if k != "source"})
    assert older.source is None
