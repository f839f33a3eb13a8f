"""domain.quotes: a quote holds only while the event, the chargeable ids and the credits are exactly those quoted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from contactvault.server.domain.quotes import Priced, is_live, price_changes


def test_the_same_price_is_no_change() -> None:
    assert price_changes(Priced(100, (1, 2), 30), Priced(100, (1, 2), 30)) is None


def test_fewer_chargeable_ids_say_which_and_the_credits() -> None:
    assert price_changes(Priced(100, (1, 2, 3), 45), Priced(100, (1, 3), 30)) == {
        "quoted": 45,
        "now": 30,
        "no_longer_chargeable": ["2"],
        "newly_chargeable": [],
    }


def test_other_ids_at_the_same_credits_are_a_change() -> None:
    changes = price_changes(Priced(100, (1, 2), 30), Priced(100, (1, 3), 30))
    assert changes == {"quoted": 30, "now": 30, "no_longer_chargeable": ["2"], "newly_chargeable": ["3"]}


def test_another_event_is_a_change() -> None:
    changes = price_changes(Priced(100, (1,), 15), Priced(101, (1,), 15))
    assert changes == {"quoted": 15, "now": 15, "event_id": {"quoted": "100", "now": "101"}}


def test_a_quote_is_live_strictly_before_it_expires() -> None:
    at = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert is_live(at, at - timedelta(seconds=1))
    assert not is_live(at, at)
