"""The published ``since`` pattern promises only values the server accepts (tests/security/test_fuzz.py found 0000)."""

import re
from datetime import UTC, datetime

import pytest

from contactvault.server.api.openapi import SINCE
from contactvault.server.services.unlocked_contacts import parse_since


@pytest.mark.parametrize("raw", ["0000-01-01", "0000-12-31T23:59:59Z"])
def test_year_zero_is_outside_the_published_pattern(raw: str) -> None:
    assert re.fullmatch(SINCE, raw) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0001-01-01T00:00+01:00", datetime.min.replace(tzinfo=UTC)),
        ("9999-12-31T23:59-01:00", datetime.max.replace(tzinfo=UTC)),
        ("0001-01-01", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_since_beyond_the_calendar_in_utc_is_its_edge(raw: str, expected: datetime) -> None:
    assert re.fullmatch(SINCE, raw) is not None
    assert parse_since(raw) == expected
