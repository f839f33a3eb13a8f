"""Standard Webhooks 1.0 signing and verification (symmetric ``v1``, HMAC-SHA256), standard library only.

The server signs with it and the SDK verifies with it, so it lives at the package root where both may import it
(the SDK never imports ``contactvault.server``). Every message carries three headers:

- ``webhook-id``: the message id, the same on every attempt (the receiver's idempotency key);
- ``webhook-timestamp``: integer Unix seconds of *this* attempt;
- ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` entries, one per
  active secret (during a rotation both the new and the previous secret sign).

Secrets are ``whsec_`` followed by the base64 of 24 to 64 random bytes. ``verify_webhook`` raises
``WebhookVerificationError`` for *every* reason a message is not acceptable (bad secret format, missing or
malformed header, stale or future timestamp, no matching signature), never ``ValueError`` or ``binascii.Error``,
so a receiver can answer 401 for one exception type. Error messages never contain a secret or a signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
import time
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "SECRET_PREFIX",
    "WebhookVerificationError",
    "decode_secret",
    "generate_secret",
    "sign",
    "signature_header",
    "verify_webhook",
    "webhook_headers",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 -- the public prefix of every secret, not a secret
DEFAULT_TOLERANCE_SECONDS = 300
_MIN_SECRET_BYTES = 24
_MAX_SECRET_BYTES = 64
_VERSION = "v1"


class WebhookVerificationError(Exception):
    """A webhook message (or the secret given to check it) is not acceptable; the message says why."""


def generate_secret(n_bytes: int = 32) -> str:
    """A fresh ``whsec_…`` secret of ``n_bytes`` random bytes (24 to 64)."""
    if not _MIN_SECRET_BYTES <= n_bytes <= _MAX_SECRET_BYTES:
        raise ValueError(f"n_bytes must be between {_MIN_SECRET_BYTES} and {_MAX_SECRET_BYTES}")
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(n_bytes)).decode("ascii")


def decode_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_…`` secret; raises ``WebhookVerificationError`` naming what is wrong with it."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise WebhookVerificationError(f"webhook secret must start with {SECRET_PREFIX!r}")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("webhook secret is not valid base64 after 'whsec_'") from None
    if not _MIN_SECRET_BYTES <= len(key) <= _MAX_SECRET_BYTES:
        raise WebhookVerificationError(
            f"webhook secret must decode to {_MIN_SECRET_BYTES}-{_MAX_SECRET_BYTES} bytes, not {len(key)}"
        )
    return key


def _check_id(msg_id: str) -> None:
    # '.' separates the signed fields, so an id containing one could be confused with another id/timestamp pair.
    if not msg_id or "." in msg_id or not msg_id.isascii() or not msg_id.isprintable():
        raise WebhookVerificationError("webhook-id must be a non-empty printable ASCII string without '.'")


def _digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """One ``v1,<base64>`` signature of ``body`` sent as message ``msg_id`` at ``timestamp`` (Unix seconds)."""
    _check_id(msg_id)
    digest = _digest(decode_secret(secret), msg_id, str(int(timestamp)), body)
    return f"{_VERSION},{base64.b64encode(digest).decode('ascii')}"


def signature_header(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """The ``webhook-signature`` value: one signature per active secret, space-separated."""
    if not secrets:
        raise WebhookVerificationError("at least one webhook secret is needed to sign")
    return " ".join(sign(msg_id, timestamp, body, secret) for secret in secrets)


def webhook_headers(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt to send ``body`` (which must be sent byte for byte)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": signature_header(msg_id, timestamp, body, secrets),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"missing {name} header")


def _check_timestamp(raw: str, now: float, tolerance: int) -> str:
    # The spec says integer seconds: "1614265330.9" or "+1" are refused rather than rounded.
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise WebhookVerificationError("webhook-timestamp must be integer Unix seconds")
    timestamp = int(raw)
    if timestamp < now - tolerance:
        raise WebhookVerificationError("webhook-timestamp is too old")
    if timestamp > now + tolerance:
        raise WebhookVerificationError("webhook-timestamp is too far in the future")
    return raw  # signed as sent


def _candidate_signatures(header: str) -> list[bytes]:
    found: list[bytes] = []
    for entry in header.split(" "):
        version, sep, value = entry.partition(",")
        if not sep or version != _VERSION:
            continue  # unknown versions (e.g. v1a) and junk are ignored, as the spec asks
        try:
            found.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    return found


def verify_webhook(
    body: bytes | str,
    headers: Mapping[str, str],
    secrets: str | Iterable[str],
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> str:
    """Check a received message against one or several secrets; return its ``webhook-id`` (the dedupe key).

    ``body`` must be the raw request body, before any JSON parsing. Raises ``WebhookVerificationError``.
    """
    keys = [decode_secret(s) for s in ([secrets] if isinstance(secrets, str) else list(secrets))]
    if not keys:
        raise WebhookVerificationError("at least one webhook secret is needed to verify")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    msg_id = _header(headers, "webhook-id")
    _check_id(msg_id)
    timestamp = _check_timestamp(_header(headers, "webhook-timestamp"), time.time() if now is None else now, tolerance)
    candidates = _candidate_signatures(_header(headers, "webhook-signature"))
    if not candidates:
        raise WebhookVerificationError("webhook-signature has no v1 signature")
    for key in keys:
        expected = _digest(key, msg_id, timestamp, raw)
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return msg_id
    raise WebhookVerificationError("no webhook-signature matches the secrets")
