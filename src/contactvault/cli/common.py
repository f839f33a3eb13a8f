"""Shared by the client and admin commands: exit codes, JSON output, one clear error line."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any, NoReturn

import typer

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INSUFFICIENT, EXIT_PARTIAL = 0, 1, 2, 3, 4


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def emit(data: Any) -> None:
    """Print JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=_plain) + "\n")


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print one line on stderr and exit."""
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(code)
