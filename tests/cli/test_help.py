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
