"""Waiting for an unlock task to finish, written once for both clients.

``wait_for_task`` is a flow: a generator that yields ``Call`` and ``Sleep`` effects and receives their
results, so ``Client`` runs it with blocking I/O and ``AsyncClient`` with ``await``, and tests run it with no
clock at all. It long-polls with ``?wait=N``; when the server shows that it ignores ``wait`` (a quick
answer, task not terminal, nothing changed) it falls back to sleeping 3 s, 5 s, 10 s, then 20 s between polls.
"""

from __future__ import annotations

from collections.abc import Callable

from . import _routes
from ._errors import TaskTimeoutError
from ._models import UnlockTask
from ._routes import Flow, Sleep, TaskCache

__all__ = ["FALLBACK_SCHEDULE", "wait_for_task"]

FALLBACK_SCHEDULE: tuple[float, ...] = (3.0, 5.0, 10.0, 20.0)


def wait_for_task(
    task_id: str,
    *,
    channel: str,
    timeout: float,
    long_poll: float,
    clock: Callable[[], float],
    cache: TaskCache | None = None,
    on_update: Callable[[UnlockTask], None] | None = None,
) -> Flow[UnlockTask]:
    """Poll one task until it is terminal; raise TaskTimeoutError after ``timeout`` seconds."""
    deadline = clock() + timeout
    previous: UnlockTask | None = None
    server_long_polls = long_poll > 0
    fallback_step = 0
    while True:
        remaining = deadline - clock()
        wait = min(long_poll, max(remaining, 0.0)) if server_long_polls else 0.0
        started = clock()
        task: UnlockTask = yield _routes.unlock_task(task_id, channel=channel, wait=wait or None, cache=cache)
        if on_update is not None and task != previous:
            on_update(task)
        if task.is_terminal:
            return task
        unchanged = previous is not None and task == previous
        if server_long_polls and unchanged and clock() - started < wait / 2:
            # An unchanged answer long before the wait ran out: this server does not long-poll.
            server_long_polls = False
        previous = task
        remaining = deadline - clock()
        if remaining <= 0:
            raise TaskTimeoutError(task_id, last=task)
        if server_long_polls:
            continue
        delay = FALLBACK_SCHEDULE[min(fallback_step, len(FALLBACK_SCHEDULE) - 1)]
        fallback_step += 1
        yield Sleep(min(delay, remaining))
