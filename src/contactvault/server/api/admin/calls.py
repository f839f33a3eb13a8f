"""One operator API call: run it (under ``Idempotency-Key`` for a POST, exactly as the external API does), render
it, and audit it (who: the operator key; what: the operation, the account, the status; never a personal value).

A call refused as invalid input (400) writes nothing, not even its audit row; every other outcome is audited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from starlette.responses import Response

from contactvault.server.api.admin.auth import operation_of
from contactvault.server.api.errors import STATUS_BY_KEY, trace_id_of
from contactvault.server.domain.errors import DomainError, InvalidRequest
from contactvault.server.runtime import Runtime
from contactvault.server.services import idempotency, operator_keys
from contactvault.server.services.idempotency import Keep, Reply
from contactvault.server.services.operator_keys import CallRecord, OperatorCaller

T = TypeVar("T")
REPLAYED = {"Idempotent-Replayed": "true"}


@dataclass(frozen=True, slots=True)
class Call:
    """What the audit row says of a call besides who and the operation: the account, what it acted on, credits."""

    account_id: int | None = None
    target: str | None = None
    credits: int | None = None


@dataclass(frozen=True, slots=True)
class Post:
    """A POST's idempotency inputs: the raw header, the body as sent, and how the reply is stored.

    ``atomic``: the use case stores the reply in its own transaction (it takes a ``keep``), so the effect and the
    reply commit together; else the reply is stored just after (use cases idempotent by nature). ``stored``: what
    of the reply is kept for a replay (a new key's secret never is)."""

    key: str | None
    sent: Mapping[str, Any]
    atomic: bool = False
    stored: Callable[[dict[str, Any]], dict[str, Any]] | None = None


def checked_key(raw: str | None) -> str | None:
    """The Idempotency-Key as the external API takes it (1-255 printable ASCII), or ``InvalidRequest``."""
    if raw is None:
        return None
    if not 1 <= len(raw) <= 255 or not raw.isprintable() or not raw.isascii():
        raise InvalidRequest("Idempotency-Key must be 1-255 printable ASCII characters.", {"field": "Idempotency-Key"})
    return raw


def run(
    request: Request,
    rt: Runtime,
    caller: OperatorCaller,
    act: Callable[[Keep[T] | None], T],
    render: Callable[[T], Reply],
    call: Call,
    post: Post | None = None,
) -> Response:
    """Run ``act`` (given a ``keep`` when the reply is stored atomically), answer ``render`` of its result, audit it."""
    try:
        response = _answer(request, rt, caller, act, render, post)
    except DomainError as exc:
        status = STATUS_BY_KEY.get(exc.error_key, 500)
        if status != 400:
            _audit(request, rt, caller, call, status)
        raise
    _audit(request, rt, caller, call, response.status_code)
    return response


def _answer(
    request: Request,
    rt: Runtime,
    caller: OperatorCaller,
    act: Callable[[Keep[T] | None], T],
    render: Callable[[T], Reply],
    post: Post | None,
) -> Response:
    key = checked_key(post.key) if post is not None else None
    if post is None or key is None:
        return _json(*render(act(None)))
    # The key space is the operator key's own; the digest is keyed, since an opt-out's body holds an address.
    digest = idempotency.keyed_fingerprint(rt, request.method, request.url.path, idempotency.encode(dict(post.sent)))
    scope_id = operator_keys.idempotency_scope(caller)
    outcome = idempotency.run_keyed(rt, scope_id, key, digest, act, render, atomic=post.atomic, kept=post.stored)
    if isinstance(outcome, idempotency.Replay):
        return Response(outcome.body, outcome.status_code, media_type="application/json", headers=REPLAYED)
    return _json(*outcome)


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(idempotency.encode(body), status, media_type="application/json")


def _audit(request: Request, rt: Runtime, caller: OperatorCaller, call: Call, status: int) -> None:
    record = CallRecord(operation_of(request), status, call.account_id, call.target, call.credits)
    operator_keys.record_call(rt, caller, record, trace_id_of(request))
