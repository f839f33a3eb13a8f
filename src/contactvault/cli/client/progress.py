"""The progress bar of ``unlock`` and ``tasks resume``: one rich bar over all batches, on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from contactvault.cli.client.render import plural
from contactvault.client import UnlockProgress

__all__ = ["ProgressBar", "progress_bar"]


class ProgressBar:
    """Turns the workflow's progress reports into one rich bar over all batches (started after the prompt)."""

    def __init__(self, console: Console, *, enabled: bool, total: int = 0, label: str = "Unlocking") -> None:
        self._console = console
        self._enabled = enabled
        self._total = total
        self._label = label
        self._progress: Progress | None = None
        self._task: Any = None
        self._finished_batches = 0
        self._batch_total = 0

    def __call__(self, event: UnlockProgress) -> None:
        """Receive one progress report from the workflow."""
        if not self._enabled:
            return
        if event.stage == "lookup":
            self._console.print(f"Looking up {plural(event.total, 'person')}...", style="dim")
            return
        if event.stage == "estimate":
            self._total = event.total
            return
        if event.stage in {"submitted", "task"}:
            self._start()
            if event.stage == "task":
                self._batch_total = event.total
            self._update(event, event.done if event.stage == "task" else 0)
        elif event.stage == "batch_done":
            self._finished_batches += self._batch_total
            self._batch_total = 0
            self._update(event, 0)
        elif event.stage == "done" and self._progress is not None:
            self._progress.update(self._task, completed=self._progress.tasks[0].total, description="Done")

    def _start(self) -> None:
        if self._progress is not None:
            return
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self._console,
        )
        self._progress.start()
        self._task = self._progress.add_task(self._label, total=max(self._total, 1))

    def _update(self, event: UnlockProgress, done_in_batch: int) -> None:
        if self._progress is None:
            return
        where = f"batch {event.batch}/{event.batches}" if event.batches else ""
        self._progress.update(
            self._task,
            completed=min(self._finished_batches + done_in_batch, self._total),
            description=f"{self._label} {where}".strip(),
        )

    def stop(self) -> None:
        """Stop the live display (idempotent)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


@contextmanager
def progress_bar(console: Console, *, enabled: bool, total: int = 0, label: str = "Unlocking") -> Iterator[ProgressBar]:
    """A ProgressBar that is always stopped, whatever happens."""
    bar = ProgressBar(console, enabled=enabled, total=total, label=label)
    try:
        yield bar
    finally:
        bar.stop()
