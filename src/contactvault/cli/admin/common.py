"""Admin and server command plumbing: the ``--db`` option, domain errors as CLI errors, opening a runtime.

Server modules are imported inside the functions: importing the CLI never needs the server extra.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from contactvault.cli.common import EXIT_FAILED, EXIT_USAGE, fail

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


def database_url(option: str | None) -> str:
    """The URL from ``--db``, then the environment, then the default."""
    from contactvault.server.config import DEFAULT_DATABASE_URL  # the server extra; imported only when needed

    return option or os.environ.get("CONTACTVAULT_DATABASE_URL") or DEFAULT_DATABASE_URL


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
    """``build_runtime``, with a key mismatch reported as one line and exit 1 instead of a traceback.

    The caller disposes of it: the admin commands use ``admin_runtime`` or ``runtime_of``, which do.
    """
    from contactvault.server.bootstrap import KeyMismatch, build_runtime

    try:
        return build_runtime(settings)
    except KeyMismatch as exc:
        fail(str(exc), EXIT_FAILED)


@contextmanager
def runtime_of(settings: Settings) -> Iterator[Runtime]:
    """A migrated runtime whose pooled connections are closed when the command ends (error and exit included).

    Every ``admin`` command opens its runtime here: one left open keeps a PostgreSQL connection until the process
    ends (a ResourceWarning where it is collected).
    """
    rt = open_runtime(settings)
    try:
        yield rt
    finally:
        rt.db.dispose()


def admin_runtime(db: str | None) -> AbstractContextManager[Runtime]:
    """``runtime_of`` the settings for ``--db`` (the rest from the environment)."""
    from contactvault.server.config import Settings

    return runtime_of(Settings(database_url=database_url(db)))
