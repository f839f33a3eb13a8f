"""Confirming a stored quote by its id alone (the agent surface's ``confirm_unlock``): the quote's own event and
chargeable ids are submitted under the quote, so the same quote confirmed again replays the same task."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from contactvault.server.db import quotes as stored
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import idempotency, unlocks
from contactvault.server.services.idempotency import Replay

# A quote id is its confirmation's idempotency key; the tab keeps it apart from every Idempotency-Key header
# (printable ASCII only).
QUOTE_KEY = "quote\t{}"


@dataclass(frozen=True, slots=True)
class QuotedUnlock:
    """What a stored quote stands for: the channel, event and chargeable ids (as the wire spells them)."""

    quote_id: int
    channel: Channel
    event_id: str
    personnel_ids: list[str]
    credits: int


def quoted(rt: Runtime, account_id: int, quote_id: int) -> QuotedUnlock:
    """This account's quote on either channel, live or expired (until purged); NotFound otherwise."""
    with rt.db.read() as conn:
        for channel in Channel:
            row = stored.find(conn, quote_id, account_id, channel.value)
            if row is not None:
                ids = [str(pk) for pk in row.personnel_ids]
                return QuotedUnlock(quote_id, channel, str(row.event_id), ids, row.credits)
    raise NotFound("Quote not found.")


def wire_fingerprint(channel: Channel, event_id: str, personnel_ids: Sequence[str], quote_id: int) -> bytes:
    """The fingerprint the HTTP API takes of the same confirmation sent as a body, so that confirming a quote
    through either entrypoint replays the other's task instead of being refused as a reused key."""
    sent = {"event_id": event_id, "personnel_ids": list(personnel_ids), "max_credits": None, "quote_id": str(quote_id)}
    return idempotency.fingerprint(channel.value, json.dumps(sent, sort_keys=True))


def confirm(
    rt: Runtime, account_id: int, key_id: str, quote: QuotedUnlock, call_source: str, render: unlocks.Render
) -> unlocks.SubmitResult | Replay:
    """Submit the quote's ids under the quote (PriceChanged or NotFound when it no longer holds)."""
    req = unlocks.UnlockRequest(
        account_id=account_id,
        channel=quote.channel,
        event_id=quote.event_id,
        personnel_ids=quote.personnel_ids,
        call_source=call_source,
        quote_id=quote.quote_id,
        key_id=key_id,
    )
    digest = wire_fingerprint(quote.channel, quote.event_id, quote.personnel_ids, quote.quote_id)
    return unlocks.submit_idempotent(rt, req, QUOTE_KEY.format(quote.quote_id), digest, render)
