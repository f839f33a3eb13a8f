"""What ``unlock`` says when a run stops before its end: Ctrl-C (at the prompt or later) or a lost connection.

Before the run is in the state file nothing was submitted, so nothing was spent and there is nothing to resume.
After it, the run can always be resumed (each batch keeps its Idempotency-Key), so the message names the exact
``tasks resume`` command, and ``--json`` prints what the state file knows of the run so far.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from contactvault.cli.common import emit, fail
from contactvault.client import APIConnectionError, APIError, Channel, StateStore, UnlockProgress, UnlockResult

__all__ = ["RunTracker", "resume_command", "stop_reason", "stopped"]


@dataclasses.dataclass
class RunTracker:
    """Passes the workflow's progress on, remembering the run id once the run is in the state file."""

    forward: Callable[[UnlockProgress], None] | None = None
    run_id: str | None = None

    def __call__(self, event: UnlockProgress) -> None:
        """Receive one progress report."""
        if event.run_id is not None:
            self.run_id = event.run_id
        if self.forward is not None:
            self.forward(event)


def resume_command(run_id: str, state_file: str) -> str:
    """The command that finishes this run."""
    return f"contactvault tasks resume --run {run_id} --state-file {state_file}"


def stop_reason(exc: APIError, server: str) -> str:
    """Why the run stopped, for an API error that ended it."""
    if isinstance(exc, APIConnectionError):
        return f"lost the connection to {server} ({exc})"
    return f"the run stopped: {exc}"


def stopped(
    *,
    reason: str,
    outcome: str,
    code: int,
    tracker: RunTracker,
    state_file: str,
    unstarted: UnlockResult,
    json_output: bool,
    to_json: Callable[[UnlockResult], dict[str, Any]],
) -> NoReturn:
    """Say how the run stopped and how to go on (JSON on stdout with --json), then exit with ``code``."""
    run_id = tracker.run_id
    if run_id is None:
        if json_output:
            emit({**to_json(unstarted), "outcome": outcome, "exitCode": code, "resume": None})
        fail(f"{reason} before anything was submitted; nothing was spent", code)
    command = resume_command(run_id, state_file)
    if json_output:
        with StateStore(Path(state_file)) as store:
            so_far = store.run_result(run_id)
        emit({**to_json(so_far), "outcome": outcome, "exitCode": code, "resume": command})
    fail(f"{reason}; run {run_id} is saved: continue it with `{command}` (nobody is charged twice)", code)


def channel_of(phone: bool) -> Channel:
    """The channel for the --phone flag."""
    return "phone" if phone else "email"
