"""Shared by the sync tests: run ``contactvault sync`` with --json, catch stamina's retry waits, read docs examples."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import stamina.instrumentation
from stamina.instrumentation import RetryDetails

from .conftest import CLI

EPOCH = "1970-01-01T00:00:00Z"
DOC = Path(__file__).resolve().parents[2] / "docs" / "sync.md"


def sync(cli: CLI, checkpoint: Path, *args: str, code: int = 0) -> Any:
    """``contactvault sync <args> --checkpoint <checkpoint> --json``, parsed, after checking the exit code."""
    return cli.json("sync", *args, "--checkpoint", str(checkpoint), code=code)


def unlock(connected: CLI, ids: Iterable[int]) -> CLI:
    """``connected`` after unlocking ``ids`` (event 100): their values are delivered to its account."""
    connected.json("unlock", "--event", "100", "--ids", ",".join(map(str, ids)), "--yes")
    return connected


def plan_of(report: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(action, personnel id, changes) per record."""
    return [(item["action"], item["personnelId"], item["changes"]) for item in report["plan"]]


@contextmanager
def retry_waits() -> Iterator[list[float]]:
    """The waits stamina schedules inside the block (the Retry-After it honoured)."""
    waits: list[float] = []
    previous = stamina.instrumentation.get_on_retry_hooks()

    def hook(details: RetryDetails) -> None:
        waits.append(details.wait_for)

    stamina.instrumentation.set_on_retry_hooks([hook])
    try:
        yield waits
    finally:
        stamina.instrumentation.set_on_retry_hooks(previous)


def doc_commands(target: str, urls: dict[str, str]) -> list[list[str]]:
    """docs/sync.md's ``$ contactvault sync --to <target>`` console lines, without the program name, URLs replaced."""
    blocks = re.findall(r"^```console\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)
    lines = [
        line[2:]
        for block in blocks
        for line in block.splitlines()
        if line.startswith(f"$ contactvault sync --to {target} ")
    ]
    for old, new in urls.items():
        lines = [line.replace(old, new) for line in lines]
    return [shlex.split(line)[1:] for line in lines]
