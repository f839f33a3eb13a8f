"""Confirm an unlock with a quote (``GET /console/unlocks/new``) and submit it (``POST /console/unlocks``).

The confirm page runs the precheck and stores its price as a quote; the form carries only the quote id (and the
channel), so the click is charged exactly what the page showed, once (the quote id is the submission's
idempotency key), or refused with the new numbers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from contactvault.server.api import mappers
from contactvault.server.api.deps import RuntimeDep
from contactvault.server.api.errors import trace_id_of
from contactvault.server.console.auth import SignedIn
from contactvault.server.console.render import is_htmx, page
from contactvault.server.domain.errors import IdempotencyKeyInUse, InsufficientCredits, NotFound, PriceChanged
from contactvault.server.domain.ledger import Channel
from contactvault.server.domain.precheck import ReasonCode
from contactvault.server.domain.tasks import MAX_IDS_PER_TASK, Classification, parse_task_id
from contactvault.server.runtime import Runtime
from contactvault.server.services import directory, people, quotes, unlocks

router = APIRouter(prefix="/console", include_in_schema=False)
CHANNELS = {"email": Channel.EMAIL, "phone": Channel.PHONE}
WHAT = {Channel.EMAIL: "work email", Channel.PHONE: "phone number"}
# A submission commits in milliseconds; a double click's second request waits this long for the first one.
IN_USE_WAIT_SECONDS = 10.0
IN_USE_RECHECK_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One selected person on the confirm page: who, what happens to them, and what it costs."""

    person_id: str
    name: str
    detail: str
    kind: str  # the badge kind
    outcome: str  # the badge text
    reason: str
    credits: int


def _label(labels: dict[int, people.PersonLabel], raw: str) -> tuple[str, str]:
    found = labels.get(int(raw)) if raw.isdigit() else None
    if found is None:
        return f"Person {raw}", ""
    return found.full_name, " · ".join(p for p in (found.title, found.company_name) if p)


def person_rows(rt: Runtime, c: Classification, unit: int) -> list[PersonRow]:
    """The selection grouped as the precheck sorted it: chargeable, free, in progress, then ineligible."""
    labels = people.labels(rt, [int(i) for i in (*c.chargeable, *c.already_unlocked, *c.unlocking, *c.unlinked)])
    groups: Sequence[tuple[list[str], str, str, str, int]] = (
        (c.chargeable, "ok", "Will be unlocked", "", unit),
        (c.already_unlocked, "free", "Already unlocked \u2014 free", "You unlocked this person before.", 0),
        (c.unlocking, "muted", "In progress", "A running unlock already includes this person.", 0),
        (c.unlinked, "warn", "Ineligible", "Not at this event.", 0),
        (c.missing, "bad", "Ineligible", "Not in the directory (missing).", 0),
        (c.invalid, "bad", "Ineligible", "Not a valid person id.", 0),
    )
    rows = []
    for ids, kind, outcome, reason, credits in groups:
        for raw in ids:
            name, detail = _label(labels, raw)
            rows.append(PersonRow(raw, name, detail, kind, outcome, reason, credits))
    return rows


def review_url(event_id: str, selected: Sequence[str], channel: Channel) -> str:
    """The confirm page for this selection (to review again after a refusal)."""
    query = [("event_id", event_id), *(("selected", s) for s in selected)]
    if channel is not Channel.EMAIL:
        query.append(("channel", channel.value))
    return "/console/unlocks/new?" + urlencode(query)


def selection_url(event_id: str, selected: Sequence[str]) -> str:
    """The event's people page, to change the selection."""
    return f"/console/events/{event_id}/people?" + urlencode([("selected", s) for s in selected])


def _refused(request: Request, status: int, context: dict[str, Any]) -> Response:
    return page(request, "unlock/refused.html", {"status": status, **context}, block="confirm", status_code=status)


def _problem(request: Request, status: int, message: str, field: str) -> Response:
    return _refused(request, status, {"kind": "invalid", "message": message, "field": field, "review": None})


@router.get("/unlocks/new")
def confirm(
    request: Request,
    rt: RuntimeDep,
    principal: SignedIn,
    event_id: Annotated[str, Query(max_length=100)] = "",
    selected: Annotated[list[str] | None, Query()] = None,
    channel: Annotated[str, Query(max_length=10)] = "email",
) -> Response:
    """The precheck's breakdown with a fresh quote, and the button that confirms exactly that quote."""
    chosen = selected or []
    if channel not in CHANNELS:
        return _problem(request, 422, "Choose what to unlock: email or phone.", "channel")
    if not event_id:
        return _problem(request, 422, "Pick an event, then the people to unlock.", "event_id")
    if not chosen:
        return _problem(request, 422, "Select at least one person to unlock.", "selected")
    if len(chosen) > MAX_IDS_PER_TASK:
        message = f"You can unlock at most {MAX_IDS_PER_TASK} people at a time; you selected {len(chosen):,}."
        return _problem(request, 422, message, "selected")
    ch = CHANNELS[channel]
    result = unlocks.precheck(rt, principal.account_id, ch, event_id, chosen)
    if result.classification is None:
        raise NotFound("Event not found.")
    quote = quotes.create(rt, principal.account_id, ch, result)
    event = directory.get_event(rt, result.event_id).event if result.event_id is not None else None
    c = result.classification
    context: dict[str, Any] = {
        "result": result,
        "c": c,
        "channel": ch,
        "what": WHAT[ch],
        "rows": person_rows(rt, c, result.unit_cost),
        "quote": quote,
        "insufficient": result.reason_code is ReasonCode.INSUFFICIENT_BALANCE,
        "ineligible": len(c.missing) + len(c.unlinked) + len(c.invalid),
        "balance_after": result.available_balance - result.credits,
        "back_url": selection_url(event_id, chosen),
        "event_id": event_id,
        "event_name": event.name if event else None,
    }
    return page(request, "unlock/confirm.html", context, block="confirm")


def _review(rt: Runtime, account_id: int, channel: Channel, quote_id: int | None) -> str | None:
    quote = None if quote_id is None else quotes.find(rt, account_id, channel, quote_id)
    if quote is None:
        return None
    return review_url(str(quote.event_id), [str(i) for i in quote.personnel_ids], channel)


def _confirm_once(
    rt: Runtime, account_id: int, channel: Channel, quote_id: int, trace_id: str | None
) -> quotes.Confirmation:
    """Confirm the quote; a second click that arrives while the first is still submitting (the quote's key is in
    use) waits for it and gets its task, instead of an error page."""
    deadline = time.monotonic() + IN_USE_WAIT_SECONDS
    while True:
        try:
            return quotes.confirm_stored(
                rt, account_id, channel, quote_id, mappers.submission_reply, call_source="console", trace_id=trace_id
            )
        except IdempotencyKeyInUse:
            if time.monotonic() >= deadline:
                raise  # the friendly 409 page: the first request is stuck; nothing more was held
            time.sleep(IN_USE_RECHECK_SECONDS)


@router.post("/unlocks")
def submit(
    request: Request,
    rt: RuntimeDep,
    principal: SignedIn,
    quote_id: Annotated[str, Form(max_length=40)] = "",
    channel: Annotated[str, Form(max_length=10)] = "email",
) -> Response:
    """Confirm the quote: to the task page (the same task on a repeat), or a page that says why nothing was held."""
    ch = CHANNELS.get(channel)
    parsed = parse_task_id(quote_id) if quote_id else None
    if ch is None or parsed is None:
        return _refused(request, 404, {"kind": "expired", "review": None})

    def review() -> str | None:
        return _review(rt, principal.account_id, ch, parsed)

    try:
        done = _confirm_once(rt, principal.account_id, ch, parsed, trace_id_of(request) or None)
    except PriceChanged as changed:
        details = changed.details
        return _refused(request, 409, {"kind": "price_changed", "details": details, "review": review()})
    except NotFound:
        return _refused(request, 404, {"kind": "expired", "review": review()})
    except InsufficientCredits as short:
        numbers = {"required": short.required, "available": short.available}
        return _refused(request, 402, {"kind": "insufficient", **numbers, "review": review()})
    target = "/console" if done.task_id is None else f"/console/unlocks/{done.task_id}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
