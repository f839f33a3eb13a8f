"""Contact search, unlock submissions and task polling (email and phone)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response

from contactvault.server.api import mappers
from contactvault.server.api.deps import AccountId, Page, RuntimeDep, json, read
from contactvault.server.api.errors import trace_id_of
from contactvault.server.api.schemas import (
    ContactPage,
    ErrorPublic,
    UnlockCreate,
    UnlockSubmissionPublic,
    UnlockTaskPublic,
)
from contactvault.server.domain.errors import InvalidRequest, NotFound
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.scoring import parse_verification_min
from contactvault.server.domain.tasks import TaskStatus, call_source_of, parse_task_id
from contactvault.server.notifier import Listener, WaitSlots
from contactvault.server.runtime import Runtime
from contactvault.server.services import directory, idempotency, quotes, unlocks

router = APIRouter(prefix="/external/contacts", tags=["contacts"])
Text = Annotated[str | None, Query(min_length=1, max_length=200)]
# Long-polls re-check the database this often while the notifier may miss a writer in another process.
FALLBACK_CHECK_SECONDS = 1.0
# Set on a poll that asked to wait but was answered at once: `refused-key-cap` or `refused-node-cap`.
LONG_POLL_HEADER = "X-Long-Poll"
ERRORS: dict[int | str, dict[str, object]] = {
    s: {"model": ErrorPublic} for s in (400, 401, 402, 404, 409, 422, 429, 503)
}


@router.get("/search", response_model=ContactPage, summary="Search contacts across all events")
async def search(
    rt: RuntimeDep,
    account_id: AccountId,
    page: Page,
    company_name: Annotated[str, Query(min_length=1, max_length=200)],
    role: Text = None,
    person_name: Text = None,
) -> Response:
    """People at companies whose name has every word of ``company_name``; ``role`` matches the title."""
    found = await read(
        rt,
        directory.search_contacts,
        rt,
        account_id,
        page,
        company_name=company_name,
        role=role,
        person_name=person_name,
    )
    return json(mappers.contact_page(found))


def _idempotency_key(raw: str | None) -> str | None:
    if raw is None:
        return None
    if not 1 <= len(raw) <= 255 or not raw.isprintable() or not raw.isascii():
        raise InvalidRequest("Idempotency-Key must be 1-255 printable ASCII characters.", {"field": "Idempotency-Key"})
    return raw


def _quote_id(raw: str | None) -> int | None:
    if raw is None:
        return None
    quote_id = parse_task_id(raw)  # the same digit-string rule as task ids
    if quote_id is None:
        raise NotFound("Quote not found.")
    return quote_id


def _submit(
    request: Request,
    rt: Runtime,
    account_id: int,
    body: UnlockCreate,
    channel: Channel,
    key: str | None,
    call_source: str | None,
) -> Response:
    req = unlocks.UnlockRequest(
        account_id=account_id,
        channel=channel,
        event_id=body.event_id,
        personnel_ids=body.personnel_ids,
        max_credits=body.max_credits,
        call_source=call_source_of(call_source),
        trace_id=trace_id_of(request),
        quote_id=_quote_id(body.quote_id),
        key_id=getattr(request.state, "key_id", None),
        verification_min=parse_verification_min(body.verification_min),
    )
    idem_key = _idempotency_key(key)
    # Extensions left out are left out of the fingerprint too: a key stored before they existed still matches.
    sent = body.model_dump(exclude={f for f in ("quote_id", "verification_min") if getattr(body, f) is None})
    outcome: unlocks.SubmitResult | idempotency.Replay
    if req.quote_id is not None:
        # The quote id is the idempotency key (a caller's own Idempotency-Key, when sent, is the key instead).
        outcome = quotes.confirm(rt, req, mappers.submission_reply, sent, idem_key).outcome
    elif idem_key is not None:
        digest = unlocks.submission_fingerprint(channel, sent)
        outcome = unlocks.submit_idempotent(rt, req, idem_key, digest, mappers.submission_reply)
    else:
        outcome = unlocks.submit(rt, req)
    if isinstance(outcome, idempotency.Replay):
        headers = {"Idempotent-Replayed": "true"}
        return Response(outcome.body, outcome.status_code, media_type="application/json", headers=headers)
    result = outcome
    status, reply = mappers.submission_reply(result)
    return Response(idempotency.encode(reply), status, media_type="application/json")


SUBMIT_DOC: dict[str, Any] = {"status_code": 201, "response_model": UnlockSubmissionPublic, "responses": ERRORS}


@router.post("/unlock", summary="Start an email unlock task", **SUBMIT_DOC)
def unlock_emails(
    request: Request,
    rt: RuntimeDep,
    account_id: AccountId,
    body: UnlockCreate,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    x_call_source: Annotated[str | None, Header(alias="x-call-source", max_length=50)] = None,
) -> Response:
    """Hold 15 credits per chargeable person and start resolving their work emails."""
    return _submit(request, rt, account_id, body, Channel.EMAIL, idempotency_key, x_call_source)


@router.post("/unlock-phone", summary="Start a phone unlock task", **SUBMIT_DOC)
def unlock_phones(
    request: Request,
    rt: RuntimeDep,
    account_id: AccountId,
    body: UnlockCreate,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    x_call_source: Annotated[str | None, Header(alias="x-call-source", max_length=50)] = None,
) -> Response:
    """Hold 150 credits per chargeable person and start resolving their phone numbers."""
    return _submit(request, rt, account_id, body, Channel.PHONE, idempotency_key, x_call_source)


def view_task(rt: Runtime, account_id: int, task_id: int, channel: Channel) -> tuple[int, dict[str, Any]]:
    """A task's version and wire body; a finished task's body comes from memory while its version is unchanged
    (a poll of it reads one indexed row and maps nothing)."""
    peek = unlocks.task_version(rt, account_id, task_id)
    if peek is not None and peek[1]:
        cached = rt.task_views.get((account_id, task_id, channel.value, peek[0]))
        if cached is not None:
            return peek[0], cached
    view = unlocks.get_task(rt, account_id, task_id, channel)
    body = mappers.task(view)
    if view.cacheable:
        rt.task_views.put((account_id, task_id, channel.value, view.version), body)
    return view.version, body


def _etag(task_id: int, version: int) -> str:
    return f'W/"{task_id:x}.{version}"'


async def _poll(
    request: Request,
    rt: Runtime,
    account_id: int,
    raw_id: str,
    channel: Channel,
    wait: int,
    if_none_match: str | None,
) -> Response:
    task_id = parse_task_id(raw_id)
    if task_id is None:
        raise NotFound("Task not found.")
    headers: dict[str, str] = {}
    with rt.notifier.listen(task_id) as listener:
        version, body = await read(rt, view_task, rt, account_id, task_id, channel)
        seen = if_none_match or _etag(task_id, version)
        if wait and not TaskStatus(body["taskStatus"]).is_terminal and _etag(task_id, version) == seen:
            slots: WaitSlots = request.app.state.long_polls
            key = str(getattr(request.state, "key_id", account_id))
            refused = slots.take(key)
            if refused:
                # Over a cap: answered at once, as a plain poll; the header tells the client to slow down.
                headers[LONG_POLL_HEADER] = f"refused-{refused}"
            else:
                try:
                    changed = await _wait(rt, listener, account_id, task_id, channel, wait, seen)
                finally:
                    slots.give_back(key)
                if changed is not None:
                    version, body = changed
    etag = _etag(task_id, version)
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag, **headers})
    return json(body, headers={"ETag": etag, **headers})


async def _wait(
    rt: Runtime, listener: Listener, account_id: int, task_id: int, channel: Channel, wait: int, seen: str
) -> tuple[int, dict[str, Any]] | None:
    """Wait up to ``wait`` seconds for the task to move past the ETag ``seen``; its new view, or None if unchanged.

    The database is read when a publish wakes the waiter, at its end, and, only while the notifier may miss a
    writer (``hears_every_writer`` false), every ``FALLBACK_CHECK_SECONDS``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while (left := deadline - loop.time()) > 0:
        recheck = None if rt.notifier.hears_every_writer() else FALLBACK_CHECK_SECONDS
        await listener.wait(left if recheck is None else min(left, recheck))
        peek = await read(rt, unlocks.task_version, rt, account_id, task_id)
        if peek is None:
            raise NotFound("Task not found.")
        if _etag(task_id, peek[0]) != seen or peek[1]:
            return await read(rt, view_task, rt, account_id, task_id, channel)
    return None


WaitParam = Annotated[int, Query(ge=0, le=60, description="Extension: long-poll up to N seconds for a change.")]
TaskIdParam = Annotated[str, Path(min_length=1, max_length=40)]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match", max_length=200)]
POLL_DOC: dict[str, Any] = {
    "response_model": UnlockTaskPublic,
    "responses": {304: {"description": "Not modified"}, **ERRORS},
}


@router.get("/unlock-tasks/{task_id}", summary="Get an email unlock task", **POLL_DOC)
async def email_task(
    request: Request,
    rt: RuntimeDep,
    account_id: AccountId,
    task_id: TaskIdParam,
    wait: WaitParam = 0,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Task status and per-item results; ``?wait=N`` answers as soon as the task changes."""
    return await _poll(request, rt, account_id, task_id, Channel.EMAIL, wait, if_none_match)


@router.get("/unlock-phone-tasks/{task_id}", summary="Get a phone unlock task", **POLL_DOC)
async def phone_task(
    request: Request,
    rt: RuntimeDep,
    account_id: AccountId,
    task_id: TaskIdParam,
    wait: WaitParam = 0,
    if_none_match: IfNoneMatch = None,
) -> Response:
    """Task status and per-item results (items carry ``phone``)."""
    return await _poll(request, rt, account_id, task_id, Channel.PHONE, wait, if_none_match)
