"""Full ``unlock_task.completed`` bodies, rendered at each delivery attempt from the current database.

The outbox holds the thin body only, so no revealed value is ever written there (and a key rotation has nothing
new to re-seal). An endpoint set to ``payload: "full"`` gets, at every attempt, that body plus ``items``: the
task's delivered items as its poll shows them now, so a person erased or put on the opt-out list since the task
finished (or since the last attempt) is not in it. A body over ``MAX_FULL_PAYLOAD_BYTES`` goes out thin with
``truncated: true`` and ``itemsUrl`` (the task's poll route). The bytes rendered here are the bytes signed and sent.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from contactvault.server.db.webhooks import ClaimedMessage
from contactvault.server.domain import webhooks as rules
from contactvault.server.domain.errors import NotFound
from contactvault.server.domain.ledger import Channel
from contactvault.server.runtime import Runtime
from contactvault.server.services import unlocks
from contactvault.server.services.unlocks import ItemView

POLL_PATHS = {
    Channel.EMAIL: "/external/contacts/unlock-tasks/",
    Channel.PHONE: "/external/contacts/unlock-phone-tasks/",
}


def body_for_attempt(rt: Runtime, message: ClaimedMessage) -> bytes:
    """The exact bytes to sign and send for this attempt: the stored body, or the full body rendered now."""
    if message.payload != rules.PayloadMode.FULL or message.event_type != rules.EventType.UNLOCK_TASK_COMPLETED:
        return message.body
    if not message.url.startswith("https://") and not rt.settings.webhooks_allow_private:
        return message.body  # revealed values travel over TLS only (an http URL is allowed for self-hosting only)
    thin: dict[str, Any] = json.loads(message.body)
    data: dict[str, Any] = thin["data"]
    try:
        view = unlocks.get_task(rt, message.account_id, int(data["taskId"]))
    except NotFound:
        return message.body
    items = [delivered_item(i, view.channel.value) for i in view.items if i.value is not None]
    full = _encode({**thin, "data": {**data, "items": items}})
    if len(full) <= rules.MAX_FULL_PAYLOAD_BYTES:
        return full
    fetch = POLL_PATHS[view.channel] + str(view.task_id)
    return _encode({**thin, "data": {**data, "truncated": True, "itemsUrl": fetch}})


def delivered_item(i: ItemView, field: str) -> dict[str, Any]:
    """A delivered item exactly as the task's poll shows it (``api/mappers.task_item`` for an item with a value)."""
    v = i.verification
    item: dict[str, Any] = {
        "personnelId": str(i.personnel_id),
        "status": i.status,
        field: i.value,
        "verification": {
            "status": (v and v.status) or "unknown",
            "score": v.score if v is not None and v.score is not None else 0,
            "checkedAt": _iso(None if v is None else v.checked_at),
        },
        "creditsCharged": i.credits_charged,
    }
    if i.source:
        item["source"] = i.source
    if i.completed_at:
        item["completedAt"] = _iso(i.completed_at)
    return item


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _encode(body: dict[str, Any]) -> bytes:
    # As domain.webhooks.encode writes the stored body: compact, UTF-8.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
