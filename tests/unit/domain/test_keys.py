"""Key validity, on plain data: revoked, expired, and the overlap after a rotation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contactvault.server.domain.keys import KeyState, key_state, rotation_refusal

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("revoked_at", "expires_at", "state"),
    [
        (None, None, KeyState.ACTIVE),
        (None, NOW + SECOND, KeyState.EXPIRING),  # rotated: the overlap
        (None, NOW, KeyState.EXPIRED),  # the expiry itself no longer works
        (None, NOW - SECOND, KeyState.EXPIRED),
        (NOW, None, KeyState.REVOKED),
        (NOW - SECOND, NOW + SECOND, KeyState.REVOKED),  # a revocation ends the overlap
        (NOW + SECOND, None, KeyState.ACTIVE),
    ],
)
def test_key_state(revoked_at: datetime | None, expires_at: datetime | None, state: KeyState) -> None:
    assert key_state(revoked_at, expires_at, NOW) is state


def test_only_active_and_expiring_keys_work() -> None:
    assert {s for s in KeyState if s.works} == {KeyState.ACTIVE, KeyState.EXPIRING}


@pytest.mark.parametrize(
    ("revoked_at", "expires_at", "refusal"),
    [
        (None, None, None),
        (None, NOW + SECOND, KeyState.EXPIRING),  # already being rotated
        (None, NOW, KeyState.EXPIRED),
        (NOW, None, KeyState.REVOKED),
        (NOW + SECOND, None, KeyState.REVOKED),  # any revocation ends a key's rotations
    ],
)
def test_rotation_refusal(revoked_at: datetime | None, expires_at: datetime | None, refusal: KeyState | None) -> None:
    assert rotation_refusal(revoked_at, expires_at, NOW) is refusal
