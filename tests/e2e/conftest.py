"""End-to-end tests run on the real clock: other processes share the database."""

from __future__ import annotations

import pytest

from contactvault.server.clock import SystemClock


@pytest.fixture
def clock() -> SystemClock:
    """The real clock (worker processes use it too)."""
    return SystemClock()
