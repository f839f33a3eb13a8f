"""A tour of the operator API (/admin/v1): every operation through success and the errors a client provokes
(401, 403, 400, 404, 409, 422 and an Idempotency-Key replay)."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from contactvault.server.runtime import Runtime
from tests.factories import Account, email_of, make_operator_key

ADMIN = "/admin/v1"


def operator_tour(rt: Runtime, client: TestClient, account: Account) -> list[httpx.Response]:
    """Every operator operation's answers, in order (the account's key is rotated and revoked on the way)."""
    every = make_operator_key(rt).headers
    credits_only = make_operator_key(rt, "credits").headers
    seen: list[httpx.Response] = []

    def call(method: str, path: str, body: object = None, headers: dict[str, str] | None = None) -> httpx.Response:
        seen.append(client.request(method, ADMIN + path, json=body, headers=every if headers is None else headers))
        return seen[-1]

    created = call("POST", "/accounts", {"name": "Tour Sales"}, {**every, "Idempotency-Key": "tour-account"})
    call("POST", "/accounts", {"name": "Tour Sales"}, {**every, "Idempotency-Key": "tour-account"})  # replay
    call("POST", "/accounts", {"name": "Other"}, {**every, "Idempotency-Key": "tour-account"})  # 422
    call("POST", "/accounts", {"name": ""})  # 400
    call("POST", "/accounts", {"name": "x"}, credits_only)  # 403
    call("POST", "/accounts", {"name": "x"}, account.headers)  # 401
    new_account = created.json()["accountId"]
    issued = call("POST", f"/accounts/{new_account}/keys", {"label": "tour"})
    call("POST", "/accounts/1/keys", {})  # 404
    call("GET", f"/keys?account={new_account}")
    call("GET", "/keys?account=1")  # 404
    call("POST", f"/keys/{issued.json()['keyId']}/guardrails", {"agent": False, "agent_max_per_day": 100})
    call("POST", "/keys/00000000/guardrails", {})  # 404
    rotated = call("POST", f"/keys/{issued.json()['keyId']}/rotate", {"overlap_seconds": 60})
    call("POST", f"/keys/{issued.json()['keyId']}/rotate", {})  # 409: already being rotated
    call("POST", f"/keys/{rotated.json()['keyId']}/revoke")
    call("POST", "/keys/00000000/revoke")  # 404
    call("POST", f"/accounts/{account.id}/credits/grants", {"amount": 25, "bucket": "gift"})
    call("POST", f"/accounts/{account.id}/credits/grants", {"amount": -1})  # 400
    call("GET", f"/accounts/{account.id}/credits/balance")
    call("GET", "/accounts/1/credits/balance")  # 404
    call("POST", "/suppressions", {"kind": "email", "value": email_of(7)})
    call("POST", "/suppressions", {"kind": "email", "value": "nope"})  # 400
    call("POST", "/suppressions/remove", {"kind": "email", "value": email_of(7)})
    call("POST", "/erasures", {"kind": "person", "value": "8"})
    call("POST", "/erasures", {"kind": "person", "value": "8", "extra": 1})  # 400
    return seen
