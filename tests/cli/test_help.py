"""Every command has help text, and the top-level help lists them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer.main

from contactvault.cli.main import app

from .conftest import CLI


def _walk(command: Any, path: list[str]) -> Iterator[list[str]]:
    """``path`` and every command below it, depth first, as typer builds the tree."""
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, [*path, name])


# Every command and sub-command of the real tree (client, admin, serve, worker, demo-serve), root first.
TREE = list(_walk(typer.main.get_command(app), []))
COMMANDS = TREE[1:]
# The client commands that talk to an API (tasks list and export read the local state only).
NETWORKED = [
    ["login"],
    ["credits"],
    ["events", "list"],
    ["people", "list"],
    ["people", "show"],
    ["contacts", "search"],
    ["unlock"],
    ["tasks", "show"],
    ["tasks", "resume"],
    ["demo"],
]


def test_the_walk_finds_every_kind_of_command() -> None:
    for expected in (["admin", "import"], ["serve"], ["worker"], ["demo-serve"], ["tasks", "list"], ["unlock"]):
        assert expected in COMMANDS
    assert all(command in COMMANDS for command in NETWORKED)


@pytest.mark.parametrize("command", TREE, ids=lambda c: " ".join(c) or "contactvault")
def test_every_command_help_exits_0_with_its_usage_line(cli: CLI, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    usage = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("Usage:")]
    assert len(usage) == 1, result.stdout
    assert usage[0].startswith(f"Usage: {' '.join(['contactvault', *command])} [OPTIONS]"), usage[0]
    assert "--help" in result.stdout


@pytest.mark.parametrize("command", NETWORKED, ids=" ".join)
def test_every_networked_command_takes_the_connection_options(cli: CLI, command: list[str]) -> None:
    help_text = cli(*command, "--help").stdout
    assert "--base-url" in help_text
    assert "--api-key" in help_text
    assert "--json" in help_text


def test_top_level_help_lists_the_client_commands(cli: CLI) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name in ("login", "credits", "events", "people", "contacts", "unlock", "tasks", "export", "demo"):
        assert name in result.stdout


def test_unlock_help_documents_the_exit_codes(cli: CLI) -> None:
    text = cli("unlock", "--help").stdout
    assert "3 insufficient credits" in text
    assert "4 partially delivered" in text


def test_unlock_help_lists_the_interrupted_exit_code(cli: CLI) -> None:
    assert "130 interrupted" in cli("unlock", "--help").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["unlock", "--ids", "1"], "error: missing option '--event'"),
        (["unlock", "--event", "100", "--bogus"], "error: no such option: --bogus"),
        (["tasks", "show"], "error: missing argument 'TASK_ID'"),
        (["people", "list", "--event", "1", "--page", "0"], "error: invalid value for '--page'"),
        (["tasks", "list", "extra"], "error: got unexpected extra argument"),
        (["--bogus"], "error: no such option: --bogus"),
    ],
)
def test_usage_errors_are_one_error_line_and_exit_2(cli: CLI, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(message), line
    assert line.endswith("--help')")
    assert result.stdout == ""


def test_usage_error_names_the_help_of_the_command_at_fault(cli: CLI) -> None:
    line = cli("tasks", "show").stderr.strip()
    assert line.endswith("(see 'contactvault tasks show --help')")


@pytest.mark.parametrize(
    ("typo", "suggested", "not_suggested"),
    [(["event"], "'events'", "'serve'"), (["tasks", "lst"], "'list'", "'show'"), (["unlok"], "'unlock'", "'login'")],
)
def test_a_mistyped_command_suggests_only_close_names(
    cli: CLI, typo: list[str], suggested: str, not_suggested: str
) -> None:
    result = cli(*typo)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("error: no such command")
    assert f"did you mean {suggested}?" in line
    assert not_suggested not in line


def test_a_command_nothing_resembles_gets_no_suggestion(cli: CLI) -> None:
    line = cli("frobnicate").stderr.strip()
    assert line.startswith("error: no such command 'frobnicate'")
    assert "did you mean" not in line


@pytest.mark.parametrize("command", TREE, ids=lambda c: " ".join(c) or "contactvault")
def test_help_shows_no_bool_after_flags_nor_braces_around_arguments(cli: CLI, command: list[str]) -> None:
    text = cli(*command, "--help").stdout
    assert "<bool>" not in text
    assert "{" not in text


def test_arguments_are_named_in_capitals(cli: CLI) -> None:
    assert "contactvault admin import [OPTIONS] FILES..." in cli("admin", "import", "--help").stdout
    assert "contactvault tasks show [OPTIONS] TASK_ID" in cli("tasks", "show", "--help").stdout


@pytest.mark.parametrize("command", [[], ["unlock"], ["tasks", "show"], ["admin"]], ids=" ".join)
def test_dash_h_is_help(cli: CLI, command: list[str]) -> None:
    result = cli(*command, "-h")
    assert result.exit_code == 0, result.output
    assert result.stdout == cli(*command, "--help").stdout


def test_version(cli: CLI) -> None:
    from importlib.metadata import version

    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout == f"contactvault {version('contactvault')}\n"
