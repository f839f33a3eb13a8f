"""Operator API, scope ``accounts``: accounts and their API keys (``contactvault admin account|key ...``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Header, Query, Request
from starlette.responses import Response

from contactvault.server.api.admin import calls
from contactvault.server.api.admin.auth import Operator, router_for, scoped
from contactvault.server.api.admin.ids import AccountIdPath, KeyIdPath, parse_account_id
from contactvault.server.api.admin.schemas import (
    AccountCreate,
    AccountPublic,
    GuardrailsPublic,
    GuardrailsUpdate,
    KeyCreate,
    KeyIssuedPublic,
    KeyList,
    KeyRevokedPublic,
    KeyRotate,
    KeyRotatedPublic,
)
from contactvault.server.api.deps import RuntimeDep
from contactvault.server.domain.guardrails import Guardrails
from contactvault.server.domain.operators import OperatorScope
from contactvault.server.services import accounts, guardrails
from contactvault.server.services.idempotency import Keep, Reply

router = router_for()
ACCOUNTS = scoped(OperatorScope.ACCOUNTS)
Rotated = tuple[accounts.IssuedKey, datetime]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _issued(issued: accounts.IssuedKey) -> dict[str, Any]:
    return {"keyId": issued.key_id, "accountId": str(issued.account_id), "apiKey": issued.api_key}


def _without_secret(body: dict[str, Any]) -> dict[str, Any]:
    # A replay names the key but never shows its secret again: the secret is not stored, not even here.
    return {**body, "apiKey": None}


@router.post(
    "/accounts",
    status_code=201,
    response_model=AccountPublic,
    operation_id="account_create",
    summary="Create an account",
    openapi_extra=ACCOUNTS,
)
def create_account(
    request: Request, rt: RuntimeDep, caller: Operator, body: AccountCreate, key: IdempotencyKey = None
) -> Response:
    """Create an account; ``contactvault admin account create``."""
    name = body.name.strip()

    def act(keep: Keep[int] | None) -> int:
        return accounts.create_account(rt, name, keep)

    def render(new_id: int) -> Reply:
        return 201, {"accountId": str(new_id), "name": name}

    post = calls.Post(key, body.model_dump(), atomic=True)
    return calls.run(request, rt, caller, act, render, calls.Call(), post)


@router.get("/keys", response_model=KeyList, operation_id="key_list", summary="List API keys", openapi_extra=ACCOUNTS)
def list_keys(
    request: Request,
    rt: RuntimeDep,
    caller: Operator,
    account: Annotated[str | None, Query(pattern=r"^[0-9]{1,19}$", description="Only this account's keys.")] = None,
) -> Response:
    """Every API key (of one account, when given), oldest first; never a secret."""
    owner = parse_account_id(account) if account is not None else None

    def render(keys: list[accounts.KeyInfo]) -> Reply:
        return 200, {"keys": [k.as_json() for k in keys]}

    return calls.run(request, rt, caller, lambda _: accounts.list_keys(rt, owner), render, calls.Call(owner))


@router.post(
    "/accounts/{account_id}/keys",
    status_code=201,
    response_model=KeyIssuedPublic,
    operation_id="key_create",
    summary="Issue an API key (its secret shown once)",
    openapi_extra=ACCOUNTS,
)
def create_key(
    request: Request,
    rt: RuntimeDep,
    caller: Operator,
    body: KeyCreate,
    account_id: AccountIdPath,
    key: IdempotencyKey = None,
) -> Response:
    """Issue an API key for the account; ``contactvault admin key create``."""
    owner = parse_account_id(account_id)

    def act(keep: Keep[accounts.IssuedKey] | None) -> accounts.IssuedKey:
        return accounts.create_key(rt, owner, body.label, keep)

    def render(issued: accounts.IssuedKey) -> Reply:
        return 201, _issued(issued)

    post = calls.Post(key, body.model_dump(), atomic=True, stored=_without_secret)
    return calls.run(request, rt, caller, act, render, calls.Call(owner), post)


@router.post(
    "/keys/{key_id}/revoke",
    response_model=KeyRevokedPublic,
    operation_id="key_revoke",
    summary="Revoke an API key at once",
    openapi_extra=ACCOUNTS,
)
def revoke_key(
    request: Request, rt: RuntimeDep, caller: Operator, key_id: KeyIdPath, key: IdempotencyKey = None
) -> Response:
    """Revoke an API key (revoking it again changes nothing); ``contactvault admin key revoke``."""

    def render(_: None) -> Reply:
        return 200, {"keyId": key_id, "revoked": True}

    post = calls.Post(key, {})
    return calls.run(
        request, rt, caller, lambda _: accounts.revoke_key(rt, key_id), render, calls.Call(target=key_id), post
    )


@router.post(
    "/keys/{key_id}/rotate",
    status_code=201,
    response_model=KeyRotatedPublic,
    operation_id="key_rotate",
    summary="Issue a successor key; the old one works for the overlap",
    openapi_extra=ACCOUNTS,
)
def rotate_key(
    request: Request,
    rt: RuntimeDep,
    caller: Operator,
    body: KeyRotate,
    key_id: KeyIdPath,
    key: IdempotencyKey = None,
) -> Response:
    """``contactvault admin key rotate``: the successor's secret is shown once."""

    def act(keep: Keep[Rotated] | None) -> Rotated:
        return accounts.rotate_key(rt, key_id, timedelta(seconds=body.overlap_seconds), keep)

    def render(rotated: Rotated) -> Reply:
        issued, expires = rotated
        return 201, {**_issued(issued), "replaces": key_id, "oldKeyExpiresAt": _iso(expires)}

    post = calls.Post(key, body.model_dump(), atomic=True, stored=_without_secret)
    return calls.run(request, rt, caller, act, render, calls.Call(target=key_id), post)


@router.post(
    "/keys/{key_id}/guardrails",
    response_model=GuardrailsPublic,
    operation_id="key_guardrails",
    summary="Set a key's guardrails on agent spending",
    openapi_extra=ACCOUNTS,
)
def set_guardrails(
    request: Request,
    rt: RuntimeDep,
    caller: Operator,
    body: GuardrailsUpdate,
    key_id: KeyIdPath,
    key: IdempotencyKey = None,
) -> Response:
    """``contactvault admin key guardrails``: fields left out keep their value."""
    given = body.model_fields_set

    def act(_: Keep[Guardrails] | None) -> Guardrails:
        current = guardrails.of_key(rt, key_id)
        wanted = Guardrails(
            body.agent if "agent" in given and body.agent is not None else current.agent_allowed,
            body.agent_max_per_call if "agent_max_per_call" in given else current.agent_max_per_call,
            body.agent_max_per_day if "agent_max_per_day" in given else current.agent_max_per_day,
        )
        return guardrails.set_for_key(rt, key_id, wanted)

    def render(rails: Guardrails) -> Reply:
        return 200, {
            "keyId": key_id,
            "agent": "on" if rails.agent_allowed else "off",
            "agentMaxPerCall": rails.agent_max_per_call,
            "agentMaxPerDay": rails.agent_max_per_day,
        }

    post = calls.Post(key, body.model_dump(exclude_unset=True))
    return calls.run(request, rt, caller, act, render, calls.Call(target=key_id), post)
