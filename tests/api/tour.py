"""A tour of the public API (and the operator API, ``operator_tour``): every route, through success and the
errors a client can provoke.

Used where a test needs real answers of every route at once (the generated client parses them); every answer
also passes through the recorder of ``tests/api/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient

from contactvault.server.api.app import create_app
from contactvault.server.runtime import Runtime
from tests.api.operator_tour import operator_tour
from tests.engine import drain
from tests.factories import Account, make_account

BALANCE = "/external/credits/balance"
TRANSACTIONS = "/external/credits/transactions"
EVENTS = "/external/events/list"
PERSONNEL = "/external/personnel/list"
PROFILE = "/external/personnel/profile"
SEARCH = "/external/contacts/search"
PRECHECK = "/external/actions/precheck"
SUBMIT = {"email": "/external/contacts/unlock", "phone": "/external/contacts/unlock-phone"}
UNLOCKED = "/external/contacts/unlocked"
ERASED = "/external/contacts/erased"
POLL = {"email": "/external/contacts/unlock-tasks/", "phone": "/external/contacts/unlock-phone-tasks/"}
WEBHOOKS = "/external/webhooks"


def _precheck(action: str, ids: list[str], event: str = "100") -> dict[str, object]:
    return {"action_type": action, "params": {"event_id": event, "personnel_ids": ids}}


def tour(rt: Runtime, client: TestClient, account: Account) -> list[httpx.Response]:
    """Drive every route through its answers; returns them all, in order."""
    seen: list[httpx.Response] = []
    auth = account.headers

    def get(url: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        seen.append(client.get(url, params=params, headers=headers if headers is not None else auth))
        return seen[-1]

    def post(url: str, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
        seen.append(client.post(url, json=body, headers={**auth, **(headers or {})}))
        return seen[-1]

    _directory(get)
    _prechecks(post, client, auth, seen)
    tasks = _submissions(post, client, auth, seen, rt)
    drain(rt)
    for channel, task_id in tasks.items():
        done = get(POLL[channel] + task_id)
        get(POLL[channel] + task_id, headers={**auth, "If-None-Match": done.headers["ETag"]})  # 304
        get(POLL[channel] + "4242", headers=auth)  # 404
    get(PROFILE, {"personnel_id": "1"})  # now unlocked
    get(UNLOCKED, {"since": "2020-01-01T00:00:00Z"})
    get(UNLOCKED, {"since": "yesterday"})  # 400
    get(ERASED)
    get(ERASED, {"since": "2020-01-01"})
    get(TRANSACTIONS, {"pageSize": "3", "kind": "hold,capture"})
    get(TRANSACTIONS, {"task_id": tasks["email"], "since": "2020-01-01"})
    get(TRANSACTIONS, {"kind": "refund"})  # 400
    _webhooks(get, post, client, auth, seen)
    seen += operator_tour(rt, client, account)
    seen += _rate_limited(rt)
    return seen


def _directory(get: Callable[..., httpx.Response]) -> None:
    get(BALANCE)
    get(BALANCE, headers={})  # 401
    get(EVENTS, {"pageSize": "2"})
    get(EVENTS, {"date_start_to": "0"})  # 400
    get(EVENTS, {"keyword": "a\x00b"})  # 400 (NUL)
    get("/external/events/100")
    get("/external/events/999999")  # 404
    get(PERSONNEL, {"event_id": "100", "pageSize": "3"})
    get(PERSONNEL, {"event_id": "999999"})  # 404
    get(PERSONNEL, {"event_id": "100", "pageSize": "0"})  # 400
    get(PROFILE, {"personnel_id": "2"})
    get(PROFILE, {"personnel_id": "999999"})  # 404
    get(PROFILE, {"personnel_id": "abc"})  # 400
    get(SEARCH, {"company_name": "a", "pageSize": "2"})
    get(SEARCH, {})  # 400


def _prechecks(
    post: Callable[..., httpx.Response], client: TestClient, auth: dict[str, str], seen: list[httpx.Response]
) -> None:
    post(PRECHECK, _precheck("unlock_contact_emails", ["1", "2", "x"]))  # ok
    post(PRECHECK, _precheck("unlock_contact_phones", ["abc"]))  # invalid_subject
    post(PRECHECK, _precheck("unlock_contact_emails", ["1"], event="999999"))  # not_found
    post(PRECHECK, _precheck("unlock_contact_emails", [str(i) for i in range(1, 102)]))  # exceed_max_unlock_limit
    post(PRECHECK, {"action_type": "launch_rocket", "params": {}})  # unsupported_action
    post(PRECHECK, _precheck("unlock_contact_emails", []))  # 400
    seen.append(client.post(PRECHECK, content=b"[" * 2_000_000, headers={**auth, "Content-Type": "application/json"}))


def _submissions(
    post: Callable[..., httpx.Response],
    client: TestClient,
    auth: dict[str, str],
    seen: list[httpx.Response],
    rt: Runtime,
) -> dict[str, str]:
    email = post(SUBMIT["email"], {"event_id": "100", "personnel_ids": ["1", "2", "x"]}, {"Idempotency-Key": "k1"})
    post(SUBMIT["email"], {"event_id": "100", "personnel_ids": ["1", "2", "x"]}, {"Idempotency-Key": "k1"})  # replay
    post(SUBMIT["email"], {"event_id": "100", "personnel_ids": ["3"]}, {"Idempotency-Key": "k1"})  # 422
    post(SUBMIT["email"], {"event_id": "100", "personnel_ids": ["1"]})  # 201 success: already unlocking
    post(SUBMIT["email"], {"event_id": "999999", "personnel_ids": ["1"]})  # 404
    post(SUBMIT["email"], {"event_id": "100", "personnel_ids": []})  # 400
    post(SUBMIT["email"], {"event_id": "100", "personnel_ids": ["4"], "verification_min": "valid"})  # 201, a floor
    post(SUBMIT["email"], {"event_id": "100", "personnel_ids": ["5"], "verification_min": "unknown"})  # 400
    phone = post(SUBMIT["phone"], {"event_id": "100", "personnel_ids": ["3"]})
    post(SUBMIT["phone"], {"event_id": "100", "personnel_ids": [str(i) for i in range(10, 110)]})  # 402
    seen.append(
        client.post(SUBMIT["phone"], content=b"{" * 2_000_000, headers={**auth, "Content-Type": "application/json"})
    )
    return {"email": str(email.json()["task_id"]), "phone": str(phone.json()["task_id"])}


def _webhooks(
    get: Callable[..., httpx.Response],
    post: Callable[..., httpx.Response],
    client: TestClient,
    auth: dict[str, str],
    seen: list[httpx.Response],
) -> None:
    created = post(WEBHOOKS, {"url": "https://hooks.example.com/a", "eventTypes": ["unlock_task.completed"]})  # 201
    post(WEBHOOKS, {"url": "http://hooks.example.com/a"})  # 400: https only
    post(WEBHOOKS, {"url": "https://hooks.example.com/a", "eventTypes": ["nope"]})  # 400
    one = f"{WEBHOOKS}/{created.json()['id']}"
    get(WEBHOOKS)
    get(one)
    get(f"{WEBHOOKS}/4242")  # 404
    seen.append(client.patch(one, json={"description": "CRM", "enabled": False}, headers=auth))
    seen.append(client.patch(one, json={"url": "ftp://x"}, headers=auth))  # 400
    seen.append(client.patch(one, json={"enabled": True}, headers=auth))
    post(one + "/rotate-secret", {"overlapSeconds": 60})
    post(one + "/rotate-secret", {"overlapSeconds": -1})  # 400
    message = post(one + "/test", None).json()["messageId"]  # 202
    post(f"{WEBHOOKS}/4242/test", None)  # 404
    get(one + "/attempts", {"limit": "10"})
    get(one + "/attempts", {"limit": "0"})  # 400
    post(f"{one}/messages/{message}/resend", None)  # 202
    post(f"{one}/messages/msg_unknown/resend", None)  # 404
    post(one + "/recover", {"since": "2020-01-01T00:00:00Z"})  # 202
    post(one + "/recover", {"since": "soon"})  # 400
    seen.append(client.delete(one, headers=auth))
    seen.append(client.delete(one, headers=auth))  # 404


def _rate_limited(rt: Runtime) -> list[httpx.Response]:
    """Two answers of an app allowing one request per key and window: the second is a 429."""
    limited = rt.settings.model_copy(update={"rate_limit_per_key": 1})
    saved, rt.settings = rt.settings, limited
    try:
        account = make_account(rt, name="limited")
        with TestClient(create_app(runtime=rt), raise_server_exceptions=False) as client:
            return [client.get(BALANCE, headers=account.headers) for _ in range(2)]
    finally:
        rt.settings = saved
