"""The operator API's gate: every /admin/v1 route, enumerated from the app, refuses a customer key, no key, and an
operator key without its scope; a revoked operator key is refused on its next request; the per-key rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from contactvault.server.api.admin.auth import PREFIX, SCOPE_FIELD, router_for
from contactvault.server.api.app import create_app
from contactvault.server.domain.audit import AuditAction
from contactvault.server.runtime import Runtime
from contactvault.server.services import audit_view, operator_keys
from tests.factories import Account, make_operator_key

SCOPES = ("accounts", "credits", "privacy")


def admin_routes(app: FastAPI) -> list[tuple[str, APIRoute]]:
    """(method, route) for every route the app serves under /admin, whatever router it came from."""
    found = []
    for context in iter_route_contexts(app.routes):
        path = context.path or ""
        if path == "/admin" or path.startswith("/admin/"):
            route = context.original_route
            assert isinstance(route, APIRoute), f"{path} is not an API route: it would escape this test"
            assert route.path == path, f"{path} was included under another prefix"
            found += [(method, route) for method in sorted(context.methods or ())]
    return found


def concrete(route: APIRoute, account: Account) -> str:
    # Real ids: were a route unguarded, its request would reach a real object and not answer 401.
    return route.path.replace("{account_id}", str(account.id)).replace("{key_id}", account.key_id)


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(method, path, headers=headers, json=body)


def test_the_operator_api_has_the_routes_of_the_admin_commands(client: TestClient) -> None:
    operations = {route.operation_id for _, route in admin_routes(client.app)}  # type: ignore[arg-type]
    assert operations == {
        "account_create",
        "key_list",
        "key_create",
        "key_revoke",
        "key_rotate",
        "key_guardrails",
        "credits_grant",
        "credits_balance",
        "suppression_add",
        "suppression_remove",
        "person_erase",
    }


def test_every_admin_route_refuses_a_customer_key_no_key_and_a_key_without_its_scope(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    routes = admin_routes(client.app)  # type: ignore[arg-type]
    assert len(routes) >= 11
    for method, route in routes:
        path = concrete(route, account)
        scope = (route.openapi_extra or {}).get(SCOPE_FIELD)
        assert scope in SCOPES, f"{method} {route.path} declares no operator scope"
        for headers in (
            account.headers,
            {},
            {"Authorization": "Bearer"},
            {"Authorization": f"Basic {account.api_key}"},
        ):
            response = call(client, method, path, headers)
            assert response.status_code == 401, (method, route.path, headers.keys(), response.text)
            assert response.json()["errorKey"] == "INVALID_API_KEY"
            assert set(response.json()) == {"code", "message", "errorKey", "traceId"}
        lacking = make_operator_key(directory, *(s for s in SCOPES if s != scope))
        refused = call(client, method, path, lacking.headers)
        assert refused.status_code == 403, (method, route.path, refused.text)
        assert refused.json()["errorKey"] == "INSUFFICIENT_SCOPE"
        assert refused.json()["details"] == {"scope": scope}


def test_the_same_401_body_as_the_external_api(client: TestClient, account: Account) -> None:
    external = client.get("/external/credits/balance").json()
    admin = client.get(f"{PREFIX}/keys", headers=account.headers).json()
    assert {k: v for k, v in admin.items() if k != "traceId"} == {k: v for k, v in external.items() if k != "traceId"}


def test_a_key_with_the_scope_gets_past_the_gate(client: TestClient, directory: Runtime, account: Account) -> None:
    for method, route in admin_routes(client.app):  # type: ignore[arg-type]
        scope = (route.openapi_extra or {})[SCOPE_FIELD]
        allowed = make_operator_key(directory, scope)
        response = call(client, method, concrete(route, account), allowed.headers)
        assert response.status_code not in (401, 403), (method, route.path, response.text)


def test_a_refusal_for_scope_is_audited_and_changes_nothing(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    privacy_only = make_operator_key(directory, "privacy")
    response = client.post(
        f"{PREFIX}/accounts/{account.id}/credits/grants", json={"amount": 100}, headers=privacy_only.headers
    )
    assert response.status_code == 403
    assert client.get("/external/credits/balance", headers=account.headers).json()["totalBalance"] == 10_000
    rows = [r for r in audit_view.list_entries(directory) if r["action"] == AuditAction.OPERATOR_CALL]
    assert [(r["subjectId"], r["detail"]["operation"], r["detail"]["status"]) for r in rows] == [
        (privacy_only.key_id, "credits_grant", 403)
    ]


def test_a_revoked_operator_key_is_refused_on_its_next_request(client: TestClient, directory: Runtime) -> None:
    operator = make_operator_key(directory, "accounts")
    assert client.get(f"{PREFIX}/keys", headers=operator.headers).status_code == 200
    operator_keys.revoke(directory, operator.key_id)
    response = client.get(f"{PREFIX}/keys", headers=operator.headers)
    assert response.status_code == 401
    assert response.json()["errorKey"] == "INVALID_API_KEY"


def test_a_wrong_secret_is_refused(client: TestClient, directory: Runtime) -> None:
    operator = make_operator_key(directory, "accounts")
    forged = operator.api_key[:-4] + ("AAAA" if not operator.api_key.endswith("AAAA") else "BBBB")
    assert client.get(f"{PREFIX}/keys", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_an_operator_key_never_reaches_the_external_api(client: TestClient, directory: Runtime) -> None:
    operator = make_operator_key(directory)
    assert client.get("/external/credits/balance", headers=operator.headers).status_code == 401


def test_a_route_that_declares_no_scope_is_refused(directory: Runtime) -> None:
    app = create_app(runtime=directory)
    router = router_for()

    @router.get("/undeclared", include_in_schema=False)  # not even in the document: guarded all the same
    def undeclared() -> dict[str, str]:
        return {"reached": "yes"}

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(f"{PREFIX}/undeclared", headers=make_operator_key(directory).headers)
    assert response.status_code == 403


def test_operator_keys_are_rate_limited_per_key(directory: Runtime) -> None:
    directory.settings = directory.settings.model_copy(update={"rate_limit_per_key": 2})
    first, second = make_operator_key(directory, "accounts"), make_operator_key(directory, "accounts")
    with TestClient(create_app(runtime=directory), raise_server_exceptions=False) as client:
        answers = [client.get(f"{PREFIX}/keys", headers=first.headers).status_code for _ in range(3)]
        assert answers == [200, 200, 429]
        assert client.get(f"{PREFIX}/keys", headers=second.headers).status_code == 200


@pytest.mark.parametrize("token", ["cvop_", "cvop_0000000g_" + "a" * 20, "sk_00000000_" + "a" * 20])
def test_malformed_or_unknown_tokens_are_401(client: TestClient, token: str) -> None:
    assert client.get(f"{PREFIX}/keys", headers={"Authorization": f"Bearer {token}"}).status_code == 401
