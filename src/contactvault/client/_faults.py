"""A crash point for the unlock workflow's tests: ``CONTACTVAULT_CLIENT_FAULT=<point>`` ends the process there.

It exits as abruptly as ``kill -9`` (no cleanup, no flush), so an end-to-end test can crash a real CLI process
at an exact step instead of racing a signal against it. Points:

* ``after_submit``: the server answered a submission (its task exists) but the task id is not stored yet;
* ``after_task_recorded``: the task id is stored, the task not yet waited for.

Production never sets the variable, and a check is one dictionary lookup.
"""

from __future__ import annotations

import os

__all__ = ["hit"]

FAULT_ENV = "CONTACTVAULT_CLIENT_FAULT"


def hit(point: str) -> None:
    """Exit at once with status 137 (as SIGKILL would) if the environment names this point."""
    if os.environ.get(FAULT_ENV) == point:
        os._exit(137)
