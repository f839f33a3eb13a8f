"""API key validity: revoked, expired, or still working during the overlap after a rotation."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class KeyState(StrEnum):
    """Where an API key stands at a given moment."""

    ACTIVE = "active"
    EXPIRING = "expiring"  # rotated: still works until its expiry (the overlap), then expired
    EXPIRED = "expired"
    REVOKED = "revoked"

    @property
    def works(self) -> bool:
        """Whether a request with this key is authenticated."""
        return self in (KeyState.ACTIVE, KeyState.EXPIRING)


def key_state(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> KeyState:
    """A key's state at ``now``: a revocation wins over an expiry; an expiry in the future is the overlap."""
    if revoked_at is not None and revoked_at <= now:
        return KeyState.REVOKED
    if expires_at is not None:
        return KeyState.EXPIRED if expires_at <= now else KeyState.EXPIRING
    return KeyState.ACTIVE


def rotation_refusal(revoked_at: datetime | None, expires_at: datetime | None, now: datetime) -> KeyState | None:
    """Why a key may not be rotated at ``now`` (``None``: it may).

    A revoked or expired key has ended (a new key is the way); an expiring one is already being rotated (a second
    successor, and a second overlap, would be silently confusing).
    """
    if revoked_at is not None:
        return KeyState.REVOKED
    state = key_state(None, expires_at, now)
    return None if state is KeyState.ACTIVE else state
