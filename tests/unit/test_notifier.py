"""The in-process notifier: a publish never fails the writer that committed."""

from __future__ import annotations

import asyncio

import pytest

from contactvault.server.notifier import Notifier


def test_a_publish_to_a_waiter_whose_loop_just_closed_does_not_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    notifier = Notifier()
    loop = asyncio.new_event_loop()

    registration = notifier.listen(5)

    async def register() -> None:
        registration.__enter__()

    loop.run_until_complete(register())
    loop.close()
    # The loop closes between a check and the call (a shutdown racing a publish from the worker thread).
    monkeypatch.setattr(loop, "is_closed", lambda: False)
    notifier.publish([5])
