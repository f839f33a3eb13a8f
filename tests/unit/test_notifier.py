"""The in-process notifier (wake-ups per task, a publish never fails the writer) and the long-poll caps."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from contactvault.server.notifier import Notifier, WaitSlots


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


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_publish_wakes_the_listeners_of_that_task_only() -> None:
    notifier = Notifier()

    async def main() -> tuple[bool, bool, bool]:
        with notifier.listen(1) as first, notifier.listen(1) as again, notifier.listen(2) as other:
            notifier.publish([1, 3])
            return await first.wait(5), await again.wait(5), await other.wait(0.01)

    assert _run(main()) == (True, True, False)


def test_a_publish_before_the_wait_is_not_lost_and_a_wake_is_consumed() -> None:
    notifier = Notifier()

    async def main() -> tuple[bool, bool]:
        with notifier.listen(7) as listener:
            notifier.publish([7])  # between the waiter's read and its wait
            return await listener.wait(5), await listener.wait(0.01)

    assert _run(main()) == (True, False)


def test_a_publish_from_another_thread_wakes_the_waiter() -> None:
    notifier = Notifier()

    async def main() -> bool:
        with notifier.listen(4) as listener:
            threading.Thread(target=notifier.publish, args=([4],)).start()
            return await listener.wait(5)

    assert _run(main())


def test_a_listener_that_left_is_not_woken_and_others_still_are() -> None:
    notifier = Notifier()

    async def main() -> tuple[bool, bool]:
        with notifier.listen(9) as staying:
            with notifier.listen(9) as leaving:
                pass
            notifier.publish([9])
            return await leaving.wait(0.01), await staying.wait(5)

    assert _run(main()) == (False, True)


def test_the_in_process_notifier_hears_every_writer_only_with_the_worker_here() -> None:
    notifier = Notifier()
    assert not notifier.hears_every_writer()
    notifier.worker_in_process = True
    assert notifier.hears_every_writer()


def test_kick_worker_rings_the_doorbell() -> None:
    notifier = Notifier()
    assert not notifier.work.is_set()
    notifier.kick_worker()
    assert notifier.work.is_set()


def test_wait_slots_cap_each_key_and_the_node() -> None:
    slots = WaitSlots(per_key=2, per_node=3)
    assert [slots.take("a"), slots.take("a"), slots.take("a")] == [None, None, "key-cap"]
    assert slots.take("b") is None
    assert slots.take("c") == "node-cap"
    assert (slots.waiting(), slots.waiting("a"), slots.waiting("b")) == (3, 2, 1)
    slots.give_back("a")
    assert slots.take("c") is None
    assert (slots.waiting(), slots.waiting("a"), slots.waiting("c")) == (3, 1, 1)


def test_wait_slots_with_a_cap_of_zero_have_no_cap() -> None:
    slots = WaitSlots(per_key=0, per_node=0)
    assert all(slots.take("a") is None for _ in range(100))
    assert slots.waiting("a") == 100
