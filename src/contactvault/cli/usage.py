"""How ``contactvault`` reads its command line and reports misuse: one ``error:`` line, help without noise.

Typer prints usage errors as a four-line box and its help shows ``<bool>`` after every flag and ``{files}``
for arguments. ``CliGroup`` (the root command) fixes that for the whole command tree, once, when it is built:

- a usage error (unknown option or command, missing or extra argument) is one line on stderr,
  ``error: <what> (see 'contactvault unlock --help')``, and exit code 2, like every other CLI error;
- an unknown command suggests only close names (``event`` -> ``events``, not ``serve``);
- flags show no type, and arguments show as ``TASK_ID`` / ``FILES...``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from typer import _click as click  # typer vendors the click it runs on
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from contactvault.cli.common import fail

__all__ = ["HELP_OPTION_NAMES", "CliGroup", "close_commands"]

HELP_OPTION_NAMES = ["-h", "--help"]
# difflib's ratio above which a mistyped command is worth suggesting ("event" -> "events" is 0.91, "serve" 0.6).
SUGGEST_CUTOFF = 0.75


class _Flag(TyperOption):
    """An option; a flag (``--json``) shows no type in help: it takes no value."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        """No ``<bool>`` for flags."""
        return None if self.is_flag else super().display_type_rich(ctx)


class _Argument(TyperArgument):
    """An argument shown as ``TASK_ID`` (``FILES...`` when it takes several), in usage and help alike."""

    def display_type_rich(self, ctx: click.Context) -> str | None:
        """No type: the name and the help say what it is."""
        return None

    @property
    def display_name_raw(self) -> str:
        """``TASK_ID`` rather than ``task_id``."""
        return self.metavar or (self.name or "").upper()

    def _rich_display_name(self) -> str:
        return self.display_name_raw + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self._rich_display_name()
        return name if self.required else f"[{name}]"


def _plain(params: Sequence[click.Parameter]) -> None:
    for param in params:
        if type(param) is TyperOption:
            param.__class__ = _Flag
        elif type(param) is TyperArgument:
            param.__class__ = _Argument


class _Command(TyperCommand):
    """A leaf command with plain help."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """Its parameters (help option included), shown plainly."""
        params = super().get_params(ctx)
        _plain(params)
        return params


def close_commands(typo: str, names: Sequence[str]) -> list[str]:
    """Command names close enough to ``typo`` to be what was meant (at most two, closest first)."""
    return difflib.get_close_matches(typo, list(names), n=2, cutoff=SUGGEST_CUTOFF)


def _usage_line(exc: click.ClickException) -> str:
    message = exc.format_message().strip().rstrip(".")
    if message[:1].isupper() and message[1:2].islower():
        message = message[0].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and message.startswith("no such command"):
        typo = message.split("'")[1] if message.count("'") >= 2 else ""
        names = [name for name, cmd in getattr(ctx.command, "commands", {}).items() if not cmd.hidden]
        matches = close_commands(typo, names)
        if matches:
            message += "; did you mean " + " or ".join(f"'{name}'" for name in matches) + "?"
    if ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


@contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # `contactvault` alone prints the help, as documented
    except click.ClickException as exc:
        fail(_usage_line(exc), exc.exit_code)


def _tidy(command: click.Command) -> None:
    """Give ``command`` and everything under it the plain help and one-line errors."""
    if isinstance(command, TyperGroup):
        command.suggest_commands = False  # ours are in the error line, and only close ones
        for sub in command.commands.values():
            _tidy(sub)
        if type(command) is TyperGroup:
            command.__class__ = _Group
    elif type(command) is TyperCommand:
        command.__class__ = _Command


class _Group(TyperGroup):
    """A group whose parse errors are one ``error:`` line (its own and its commands'), with plain help."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """Its parameters (help option included), shown plainly."""
        params = super().get_params(ctx)
        _plain(params)
        return params

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        """Parse, reporting a usage error in one line."""
        with _one_line_usage_errors():
            return super().make_context(info_name, args, parent, **extra)
        raise AssertionError("unreachable")  # pragma: no cover

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand, reporting its usage errors in one line."""
        with _one_line_usage_errors():
            return super().invoke(ctx)
        raise AssertionError("unreachable")  # pragma: no cover


class CliGroup(_Group):
    """The root ``contactvault`` command (``typer.Typer(cls=CliGroup)``)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _tidy(self)


def version_callback(value: bool) -> None:
    """``--version``: print the installed version and exit."""
    if value:
        from importlib.metadata import version

        typer.echo(f"contactvault {version('contactvault')}")
        raise typer.Exit(0)
