"""Bearer-key authentication: one identical 401 for every failure; scheme case and the ``uak_`` prefix."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contactvault.server.runtime import Runtime
from contactvault.server.services import accounts
from tests.api.test_personnel_routes import BACKENDS, World, open_world
from tests.factories import Account

ROUTES = [
    "/external/credits/balance",
    "/external/credits/transactions",
    "/external/events/list",
    "/external/events/100",
    "/external/personnel/list?event_id=100",
    "/external/personnel/profile?personnel_id=1",
    "/external/contacts/search?company_name=acme",
]
BASIC = "Basic " + base64.b64encode(b"user:pass").decode()
WELL_FORMED_UNKNOWN = "Bearer sk_0badc0de_" + "A" * 43


def without_trace(response: Any) -> dict[str, Any]:
    """The 401 body minus the per-request trace id."""
    assert response.status_code == 401, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["X-Request-ID"] == body.pop("traceId")
    return body


def status_with(client: TestClient, authorization: str, route: str = "/external/events/list") -> int:
    """The status of a request carrying this Authorization header."""
    return client.get(route, headers={"Authorization": authorization}).status_code


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The directory this module's read-only tests share."""
    yield from open_world(request, tmp_path_factory)


@pytest.fixture
def missing_body(world: World) -> dict[str, Any]:
    """The 401 body for a request without any key: the reference every other failure must equal."""
    return without_trace(world.client.get("/external/events/list"))


def test_missing_key_is_401_invalid_api_key(missing_body: dict[str, Any]) -> None:
    assert missing_body["code"] == 401
    assert missing_body["errorKey"] == "INVALID_API_KEY"
    assert set(missing_body) == {"code", "message", "errorKey"}


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Bearer nope",
        BASIC,
        "sk_zzz",
        "Bearer sk_zzz",
        "Token sk_0badc0de_" + "A" * 43,
        "Bearer sk_0BADC0DE_" + "A" * 43,  # the key id is lower-case hex
        "Bearer sk_0badc0d_" + "A" * 43,  # 7-character key id
        "Bearer sk_0badc0de_short",  # secret shorter than 16
        "Bearer xk_0badc0de_" + "A" * 43,  # unknown prefix
        "Bearer sk_0badc0de_" + "A" * 43 + " trailing",
        "Bearer sk_0badc0de_" + "A" * 43 + "!",
        WELL_FORMED_UNKNOWN,  # well formed, never issued
    ],
)
def test_bad_key_gets_the_same_401_as_a_missing_key(
    world: World, missing_body: dict[str, Any], authorization: str
) -> None:
    response = world.client.get("/external/events/list", headers={"Authorization": authorization})
    assert without_trace(response) == missing_body


def test_raw_key_without_scheme_is_401(world: World, missing_body: dict[str, Any]) -> None:
    response = world.client.get("/external/events/list", headers={"Authorization": world.account.api_key})
    assert without_trace(response) == missing_body


def test_right_key_id_with_wrong_secret_is_401(world: World, missing_body: dict[str, Any]) -> None:
    forged = f"Bearer sk_{world.account.key_id}_{'A' * 43}"
    assert without_trace(world.client.get("/external/events/list", headers={"Authorization": forged})) == missing_body


def test_revoked_key_is_401_like_a_missing_or_unknown_key(
    client: TestClient, directory: Runtime, account: Account
) -> None:
    assert client.get("/external/events/list", headers=account.headers).status_code == 200
    accounts.revoke_key(directory, account.key_id)
    revoked = without_trace(client.get("/external/events/list", headers=account.headers))
    assert revoked == without_trace(client.get("/external/events/list"))
    assert revoked == without_trace(client.get("/external/events/list", headers={"Authorization": WELL_FORMED_UNKNOWN}))


def test_revoking_one_key_leaves_other_accounts_working(
    client: TestClient, directory: Runtime, account: Account, other_account: Account
) -> None:
    accounts.revoke_key(directory, account.key_id)
    assert client.get("/external/events/list", headers=other_account.headers).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
def test_every_directory_route_requires_a_key(world: World, route: str, missing_body: dict[str, Any]) -> None:
    assert without_trace(world.client.get(route)) == missing_body


@pytest.mark.parametrize("route", ROUTES)
def test_every_directory_route_accepts_a_valid_key(world: World, route: str) -> None:
    assert world.client.get(route, headers=world.account.headers).status_code == 200


@pytest.mark.parametrize(
    "route",
    [
        "/external/events/list?pageSize=abc",
        "/external/personnel/list",
        "/external/personnel/profile?personnel_id=abc",
        "/external/contacts/search",
        "/external/events/999",
    ],
)
def test_authentication_comes_before_validation(world: World, route: str, missing_body: dict[str, Any]) -> None:
    # An anonymous caller learns nothing about parameters or which ids exist.
    assert without_trace(world.client.get(route)) == missing_body


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "BeArEr"])
def test_bearer_scheme_is_case_insensitive(world: World, scheme: str) -> None:
    assert status_with(world.client, f"{scheme} {world.account.api_key}") == 200


def test_uak_prefix_is_accepted_for_a_valid_key(world: World) -> None:
    legacy = "uak_" + world.account.api_key.removeprefix("sk_")
    assert legacy != world.account.api_key
    assert status_with(world.client, f"Bearer {legacy}") == 200


def test_uak_prefix_of_a_revoked_key_is_401(client: TestClient, directory: Runtime, account: Account) -> None:
    accounts.revoke_key(directory, account.key_id)
    assert status_with(client, "Bearer uak_" + account.api_key.removeprefix("sk_")) == 401


def test_surrounding_whitespace_is_tolerated(world: World) -> None:
    assert status_with(world.client, f"  Bearer   {world.account.api_key}  ") == 200
