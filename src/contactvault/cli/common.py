"""Shared CLI plumbing: the ``--db`` option, JSON output, one clear error line and an exit code."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from contactvault.server.config import Settings
    from contactvault.server.runtime import Runtime

T = TypeVar("T")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL (default: $CONTACTVAULT_DATABASE_URL or sqlite:///./data/contactvault.db)."
    ),
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INSUFFICIENT, EXIT_PARTIAL = 0, 1, 2, 3, 4


def database_url(option: str | None) -> str:
    """The URL from ``--db``, then the environment, then the default."""
    from contactvault.server.config import DEFAULT_DATABASE_URL  # the server extra; imported only when needed

    return option or os.environ.get("CONTACTVAULT_DATABASE_URL") or DEFAULT_DATABASE_URL


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


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn domain errors into one stderr line and exit code 1 (2 for invalid input)."""
    from contactvault.server.domain.errors import DomainError, InvalidRequest

    try:
        yield
    except InvalidRequest as exc:
        fail(exc.message, EXIT_USAGE)
    except DomainError as exc:
        fail(exc.message, EXIT_FAILED)


def guarded(fn: Callable[[], T]) -> T:
    """Call ``fn`` with domain errors reported as CLI errors."""
    with domain_errors():
        return fn()
    raise AssertionError("unreachable")  # pragma: no cover


def open_runtime(settings: Settings) -> Runtime:
    """``build_runtime``, with a key mismatch reported as one line and exit 1 instead of a traceback."""
    from contactvault.server.bootstrap import KeyMismatch, build_runtime

    try:
        return build_runtime(settings)
    except KeyMismatch as exc:
        fail(str(exc), EXIT_FAILED)
