"""Named fault points for crash tests: ``CONTACTVAULT_FAULT=<point>[:raise|exit|sleep=<seconds>]``.

Production never sets the variable, and a check is one dictionary lookup.
"""

from __future__ import annotations

import os
import time


class InjectedFault(RuntimeError):
    """Raised at a fault point in ``raise`` mode."""


def hit(point: str) -> None:
    """Fail here if the environment names this point."""
    spec = os.environ.get("CONTACTVAULT_FAULT")
    if not spec:
        return
    name, _, mode = spec.partition(":")
    if name != point:
        return
    if mode.startswith("sleep="):
        # A window for a test to pause (SIGSTOP) or kill the process at exactly this point.
        time.sleep(float(mode.removeprefix("sleep=")))
        return
    if mode == "exit":
        # As abrupt as kill -9: no cleanup, no commit, no flush.
        os._exit(137)
    raise InjectedFault(f"injected fault at {point}")
