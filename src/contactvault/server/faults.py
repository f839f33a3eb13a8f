"""Named fault points for crash tests: ``CONTACTVAULT_FAULT=<point>[:raise|exit|sleep=<seconds>][@<subject>]``.

With ``@<subject>`` (a personnel id) the fault fires only where the point is given that subject, e.g.
``after_claim:raise@7`` fails every batch that holds person 7. Production never sets the variable, and a check
is one dictionary lookup.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection


class InjectedFault(RuntimeError):
    """Raised at a fault point in ``raise`` mode."""


def hit(point: str, subjects: Collection[int] = ()) -> None:
    """Fail here if the environment names this point (and, when it names a subject, ``subjects`` holds it)."""
    spec = os.environ.get("CONTACTVAULT_FAULT")
    if not spec:
        return
    spec, _, subject = spec.partition("@")
    name, _, mode = spec.partition(":")
    if name != point or (subject and int(subject) not in subjects):
        return
    if mode.startswith("sleep="):
        # A window for a test to pause (SIGSTOP) or kill the process at exactly this point.
        time.sleep(float(mode.removeprefix("sleep=")))
        return
    if mode == "exit":
        # As abrupt as kill -9: no cleanup, no commit, no flush.
        os._exit(137)
    raise InjectedFault(f"injected fault at {point}")
