"""Client routes, query parameters, pagination, long-polling and ETag revalidation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from contactvault import Client, ConfigError, TaskTimeoutError

from .conftest import API_KEY, FakeClock


class Recorder:
    """Answers every request with a canned body per path and records what was asked."""

    def __init__(self, bodies: dict[str, Any]) -> None:
        self.bodies = bodies
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = self.bodies[request.url.path]
        if callable(body):
            return body(request)
        return httpx.Response(200, json=body)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def page(items: list[dict[str, Any]], number: int, total_pages: int, **extra: Any) -> dict[str, Any]:
    return {"items": items, "total": 99, "page": number, "pageSize": len(items), "totalPages": total_pages,
            "hasMore": number < total_pages, **extra}  # fmt: skip


def test_sends_bearer_key_user_agent_and_accept(make_client: Callable[..., Client]) -> None:
    rec = Recorder({"/external/credits/balance": {"totalBalance": 10}})
    make_client(rec).credits.balance()
    headers = rec.last.headers
    assert headers["Authorization"] == f"Bearer {API_KEY}"
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"].startswith("contactvault-python/")
    assert str(rec.last.url) == "https://cv.test/external/credits/balance"


def test_base_url_path_prefix_is_kept(make_client: Callable[..., Client]) -> None:
    rec = Recorder({"/proxy/external/credits/balance": {"totalBalance": 10}})
    make_client(rec, base_url="https://cv.test/proxy/").credits.balance()
    assert rec.last.url.path == "/proxy/external/credits/balance"


def test_events_list_sends_filters_and_pagination(make_client: Callable[..., Client]) -> None:
    rec = Recorder({"/external/events/list": page([{"id": "1", "name": "Expo"}], 2, 3)})
    result = make_client(rec).events.list(keyword="retail", country="US", page=2, page_size=10)
    assert dict(rec.last.url.params) == {"keyword": "retail", "country": "US", "page": "2", "pageSize": "10"}
    assert result.items[0].id == "1"
    assert result.next_page == 3


def test_events_get_unwraps_the_event(make_client: Callable[..., Client]) -> None:
    rec = Recorder({"/external/events/139574": {"event": {"id": "139574", "name": "NRF", "attendeeCount": 9}}})
    event = make_client(rec).events.get("139574")
    assert (event.id, event.attendee_count) == ("139574", 9)


def test_path_ids_cannot_escape_their_segment(make_client: Callable[..., Client]) -> None:
    client = make_client(Recorder({}))
    with pytest.raises(ValueError, match="not a valid id"):
        client.events.get("../credits/balance")


def test_personnel_list_and_profile_send_snake_case_params(make_client: Callable[..., Client]) -> None:
    person = {"id": "7", "fullName": "A", "contactUnlockStatus": "locked"}
    rec = Recorder({"/external/personnel/list": page([person], 1, 1, semantics={"accessMode": "full"}),
                    "/external/personnel/profile": person})  # fmt: skip
    client = make_client(rec)
    listing = client.personnel.list("100", search_query="vp", department="Sales", level="VP", exhibitor_id="3")
    assert dict(rec.last.url.params) == {"event_id": "100", "search_query": "vp", "department": "Sales",
                                         "level": "VP", "exhibitor_id": "3", "page": "1"}  # fmt: skip
    assert listing.model_extra == {"semantics": {"accessMode": "full"}}
    assert client.personnel.profile("7").full_name == "A"
    assert dict(rec.last.url.params) == {"personnel_id": "7"}


def test_contacts_search_sends_company_role_and_name(make_client: Callable[..., Client]) -> None:
    rec = Recorder({"/external/contacts/search": page([], 1, 0)})
    make_client(rec).contacts.search("Example Co", role="VP", person_name="Jane")
    params = dict(rec.last.url.params)
    assert params == {"company_name": "Example Co", "role": "VP", "person_name": "Jane", "page": "1"}


def test_precheck_posts_action_type_and_params(make_client: Callable[..., Client]) -> None:
    rec = Recorder({"/external/actions/precheck": {"ok": True, "allowed": True, "credits": 15, "reason_code": "ok"}})
    result = make_client(rec).actions.precheck("unlock_contact_emails", {"event_id": "1", "personnel_ids": ["2"]})
    assert json.loads(rec.last.content) == {"action_type": "unlock_contact_emails",
                                           "params": {"event_id": "1", "personnel_ids": ["2"]}}  # fmt: skip
    assert result.credits == 15


def test_unlock_create_routes_by_channel_with_call_source(make_client: Callable[..., Client]) -> None:
    accepted = {"status": "accepted", "task_id": "5", "job_id": "5"}
    rec = Recorder({"/external/contacts/unlock": accepted, "/external/contacts/unlock-phone": accepted})
    client = make_client(rec)
    client.unlocks.create("1", [2, "3"], max_credits=30)
    assert json.loads(rec.last.content) == {"event_id": "1", "personnel_ids": ["2", "3"], "max_credits": 30}
    assert rec.last.headers["x-call-source"] == "api"
    client.unlocks.create("1", ["2"], channel="phone")
    assert rec.last.url.path == "/external/contacts/unlock-phone"


def test_iter_walks_every_page_lazily(make_client: Callable[..., Client]) -> None:
    def events(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params["page"])
        return httpx.Response(200, json=page([{"id": str(n * 10 + i)} for i in range(2)], n, 3))

    rec = Recorder({"/external/events/list": events})
    iterator = make_client(rec).events.iter(keyword="x", page_size=2)
    assert rec.requests == []
    first = next(iterator)
    assert first.id == "10"
    assert len(rec.requests) == 1
    assert [e.id for e in iterator] == ["11", "20", "21", "30", "31"]
    assert [r.url.params["page"] for r in rec.requests] == ["1", "2", "3"]


def test_iter_uses_total_pages_when_has_more_is_missing(make_client: Callable[..., Client]) -> None:
    def people(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params["page"])
        body = {"items": [{"id": str(n)}], "page": n, "totalPages": 2}
        return httpx.Response(200, json=body)

    rec = Recorder({"/external/personnel/list": people, "/external/contacts/search": people})
    client = make_client(rec)
    assert [p.id for p in client.personnel.iter("100")] == ["1", "2"]
    assert [p.id for p in client.contacts.iter_search("Example Co")] == ["1", "2"]


def test_task_poll_revalidates_with_etag_and_accepts_304(make_client: Callable[..., Client]) -> None:
    body = {"taskId": "5", "taskStatus": "processing", "items": []}

    def task(request: httpx.Request) -> httpx.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        return httpx.Response(200, json=body, headers={"ETag": '"v1"'})

    rec = Recorder({"/external/contacts/unlock-tasks/5": task})
    client = make_client(rec)
    first = client.unlocks.get("5", wait=10)
    second = client.unlocks.get("5", wait=10)
    assert "If-None-Match" not in rec.requests[0].headers
    assert rec.requests[1].headers["If-None-Match"] == '"v1"'
    assert rec.requests[1].url.params["wait"] == "10"
    assert second == first


def test_wait_long_polls_without_sleeping(make_client: Callable[..., Client], clock: FakeClock) -> None:
    states = iter(["pending", "processing", "completed"])

    def task(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"taskId": "5", "taskStatus": next(states), "items": []})

    rec = Recorder({"/external/contacts/unlock-tasks/5": task})
    updates: list[str] = []
    result = make_client(rec).unlocks.wait("5", on_update=lambda t: updates.append(t.task_status))
    assert result.task_status == "completed"
    assert updates == ["pending", "processing", "completed"]
    assert clock.sleeps == []
    assert all(r.url.params["wait"] == "30" for r in rec.requests)


def test_wait_falls_back_to_3_5_10_20_schedule_when_server_ignores_wait(
    make_client: Callable[..., Client], clock: FakeClock
) -> None:
    polls = {"n": 0}

    def task(request: httpx.Request) -> httpx.Response:
        polls["n"] += 1
        status = "completed" if polls["n"] == 7 else "pending"
        return httpx.Response(200, json={"taskId": "5", "taskStatus": status, "items": []})

    rec = Recorder({"/external/contacts/unlock-tasks/5": task})
    make_client(rec).unlocks.wait("5", channel="email", timeout=600)
    assert clock.sleeps == [3.0, 5.0, 10.0, 20.0, 20.0]
    assert "wait" in rec.requests[0].url.params
    assert "wait" not in rec.requests[-1].url.params


def test_wait_raises_task_timeout_error_after_the_deadline(
    make_client: Callable[..., Client], clock: FakeClock
) -> None:
    body = {"taskId": "5", "taskStatus": "pending", "items": []}
    rec = Recorder({"/external/contacts/unlock-phone-tasks/5": body})
    with pytest.raises(TaskTimeoutError) as caught:
        make_client(rec).unlocks.wait("5", channel="phone", timeout=30)
    assert caught.value.task_id == "5"
    assert caught.value.last is not None
    assert sum(clock.sleeps) <= 30


def test_missing_api_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no API key"):
        Client()


def test_client_repr_shows_url_but_not_key(make_client: Callable[..., Client]) -> None:
    client = make_client(Recorder({}))
    assert repr(client) == "<Client base_url='https://cv.test'>"


def test_client_is_a_context_manager() -> None:
    with Client(API_KEY, transport=httpx.MockTransport(Recorder({}))) as client:
        assert client.base_url == "http://127.0.0.1:8000"


def test_webhooks_test_posts_to_the_endpoint_and_returns_the_message_id(make_client: Callable[..., Client]) -> None:
    rec = Recorder({"/external/webhooks/42/test": lambda r: httpx.Response(202, json={"messageId": "msg_0a"})})
    assert make_client(rec).webhooks.test("42") == "msg_0a"
    assert rec.last.method == "POST"


def test_webhooks_test_refuses_a_path_changing_id(make_client: Callable[..., Client]) -> None:
    with pytest.raises(ValueError, match="not a valid id"):
        make_client(Recorder({})).webhooks.test("1/../2")


def _ledger(request: httpx.Request) -> httpx.Response:
    n = int(request.url.params["page"])
    items = [{"entryId": str(30 - n * 10 - i), "kind": "hold", "availableDelta": -15, "heldDelta": 15,
              "bucket": "subscription", "causeType": "task", "causeId": "7", "taskId": "7", "callSource": "cli",
              "createdAt": "2026-11-30T09:00:00Z"} for i in range(2)]  # fmt: skip
    return httpx.Response(200, json=page(items, n, 2, upToId="20"))


def test_transactions_send_the_filters_and_iter_keeps_the_first_pages_bound(make_client: Callable[..., Client]) -> None:
    rec = Recorder({"/external/credits/transactions": _ledger})
    client = make_client(rec)
    first = client.credits.transactions(task_id="7", kind=["hold", "capture"], since="2026-11-30", page_size=2)
    assert (first.up_to_id, first.items[0].entry_id, first.items[0].call_source) == ("20", "20", "cli")
    assert dict(rec.last.url.params) == {
        "task_id": "7", "kind": "hold,capture", "since": "2026-11-30", "page": "1", "pageSize": "2"
    }  # fmt: skip
    assert [e.entry_id for e in client.credits.iter_transactions(kind="hold", page_size=2)] == ["20", "19", "10", "9"]
    assert [r.url.params.get("up_to_id") for r in rec.requests[1:]] == [None, "20"]
