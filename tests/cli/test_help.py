"""Every client command has help text, and the top-level help lists them."""

from __future__ import annotations

import pytest

from .conftest import CLI

COMMANDS = [
    ["login"],
    ["credits"],
    ["events", "list"],
    ["people", "list"],
    ["people", "show"],
    ["contacts", "search"],
    ["unlock"],
    ["tasks", "show"],
    ["tasks", "resume"],
    ["tasks", "list"],
    ["export"],
    ["demo"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_exits_0_and_names_the_command(cli: CLI, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert f"contactvault {' '.join(command)}" in result.stdout
    assert "--help" in result.stdout


@pytest.mark.parametrize("command", [c for c in COMMANDS if c not in (["tasks", "list"], ["export"])], ids=" ".join)
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


@pytest.mark.parametrize("command", [*COMMANDS, ["admin", "import"], ["serve"], []], ids=" ".join)
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
