"""Webhook rules: event types, thin payloads, endpoint URLs, the retry schedule and what an answer means.

Pure: no I/O. Delivery is at least once and unordered (docs/webhooks.md); the payload carries the event time and a
per-task ``sequence`` (the task's version) so a consumer can drop stale events.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from contactvault.server.domain.errors import InvalidRequest


class EventType(StrEnum):
    """What a webhook can announce."""

    UNLOCK_TASK_COMPLETED = "unlock_task.completed"
    CONTACT_ERASED = "contact.erased"
    WEBHOOK_TEST = "webhook.test"


class PayloadMode(StrEnum):
    """What an endpoint's ``unlock_task.completed`` carries: ids and counts, or also the delivered items."""

    THIN = "thin"
    FULL = "full"


class MessageStatus(StrEnum):
    """An outbox message's state: pending (due at ``next_attempt_at``), sending (leased), delivered or failed."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


# Delays after each failed attempt (Standard Webhooks / Svix): the 8th failure is final.
RETRY_SCHEDULE: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
)
JITTER = 0.2  # each delay is stretched or shrunk by up to 20 %, so a recovering receiver is not hit all at once
MAX_RETRY_AFTER = timedelta(hours=24)
AUTO_DISABLE_AFTER = timedelta(days=5)
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 500
RESPONSE_HEAD_BYTES = 256
# A full body larger than this goes out thin, with ``truncated`` and where to fetch the items.
MAX_FULL_PAYLOAD_BYTES = 256 * 1024
SECRET_OVERLAP = timedelta(hours=24)
URL_FIELD = {"field": "url"}
# What an endpoint URL must look like by default (published as the OpenAPI pattern too): https, a DNS name whose
# last label starts with a letter (so no IP literal), an optional port, then printable ASCII.
URL_PATTERN = r"^https://[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.[A-Za-z][A-Za-z0-9-]{0,62}(:[0-9]{1,5})?(/[!-~]*)?$"
_URL = re.compile(URL_PATTERN)


@dataclass(frozen=True, slots=True)
class AttemptVerdict:
    """What to do after one attempt: ``delivered``; else retry at ``retry_in`` (None: give up) and maybe disable."""

    delivered: bool
    retry_in: timedelta | None
    disable_endpoint: bool
    aborted: bool = False


ABORT_HEADER = "webhook-delivery"
ABORT_VALUE = "abort"
ABORT_ERROR = "aborted by the receiver"


def is_abort(header_value: str | None) -> bool:
    """Whether an answer's ``webhook-delivery`` header asks not to retry (value ``abort``, any case and spacing)."""
    return header_value is not None and header_value.strip().lower() == ABORT_VALUE


def parse_retry_after(value: str | None) -> timedelta | None:
    """A ``Retry-After`` of delay-seconds (HTTP dates are rare from webhook receivers and are ignored)."""
    if value is None or not value.strip().isdigit():
        return None
    return min(timedelta(seconds=int(value.strip())), MAX_RETRY_AFTER)


def judge_attempt(
    attempts: int, status_code: int | None, retry_after: str | None, rng: random.Random, *, abort: bool = False
) -> AttemptVerdict:
    """The verdict after attempt number ``attempts`` (1-based) answered ``status_code`` (None: no answer).

    ``abort``: a non-2xx answer carried ``webhook-delivery: abort``, so the message fails now, without retries."""
    if status_code is not None and 200 <= status_code < 300:
        return AttemptVerdict(True, None, False)
    if status_code == 410:  # the receiver says the endpoint is gone for good
        return AttemptVerdict(False, None, True)
    if abort and status_code is not None:
        return AttemptVerdict(False, None, False, aborted=True)
    if attempts > len(RETRY_SCHEDULE):
        return AttemptVerdict(False, None, False)
    delay = RETRY_SCHEDULE[attempts - 1] * (1 + rng.uniform(-JITTER, JITTER))
    hinted = parse_retry_after(retry_after)
    if hinted is not None:
        delay = max(delay, hinted)
    return AttemptVerdict(False, delay, False)


def should_auto_disable(failing_since: datetime | None, now: datetime) -> bool:
    """Whether an endpoint failing without a single success since ``failing_since`` is to be disabled."""
    return failing_since is not None and now - failing_since >= AUTO_DISABLE_AFTER


def check_url(url: str, *, allow_private: bool) -> str:
    """The endpoint URL, if acceptable: ``URL_PATTERN``; with private targets allowed, any http(s) URL with a host
    and no credentials (the address check at connect time is then off too)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"url must be 1-{MAX_URL_LENGTH} characters.", URL_FIELD)
    if not allow_private:
        if not _URL.match(url):
            raise InvalidRequest(
                "url must be https:// and a host name (not an IP address), optionally a port and a path.", URL_FIELD
            )
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise InvalidRequest("url must use https or http.", URL_FIELD)
    try:
        valid = bool(parts.hostname) and parts.username is None and parts.password is None and parts.port != 0
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        raise InvalidRequest("url must name a host and carry no user name or password.", URL_FIELD)
    return url


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may connect to ``address`` (no loopback, private, link-local, metadata or reserved)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return is_public_address(embedded)
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def check_event_types(types: Sequence[str]) -> list[str]:
    """The event filter, sorted and without duplicates; [] means every event."""
    known = {t.value for t in EventType}
    unknown = sorted(set(types) - known)
    if unknown:
        raise InvalidRequest(
            f"eventTypes: unknown event type {unknown[0]!r} (known: {', '.join(sorted(known))}).",
            {"field": "eventTypes"},
        )
    return sorted(set(types))


def check_payload(value: str) -> PayloadMode:
    """The endpoint's payload mode, if known."""
    try:
        return PayloadMode(value)
    except ValueError:
        known = ", ".join(m.value for m in PayloadMode)
        raise InvalidRequest(f"payload must be one of {known}.", {"field": "payload"}) from None


def wants(event_types: Sequence[str], event: EventType) -> bool:
    """Whether an endpoint with this filter receives ``event`` (tests are always sent when asked for)."""
    return event is EventType.WEBHOOK_TEST or not event_types or event.value in event_types


def encode(event: EventType, at: datetime, data: dict[str, Any]) -> bytes:
    """The message body: compact JSON ``{"type", "timestamp", "data"}``, the exact bytes signed and sent."""
    body = {"type": event.value, "timestamp": at.isoformat().replace("+00:00", "Z"), "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
