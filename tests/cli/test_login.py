"""``contactvault login``: the key is checked, saved with mode 600, and never printed."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
import stamina

from contactvault.cli.client import commands as client_commands
from tests.factories import Account

from .conftest import CLI, LiveServer


def _config() -> Path:
    return Path(os.environ["CONTACTVAULT_CONFIG"])


def test_login_checks_the_key_and_saves_it_with_mode_600(cli: CLI, live: LiveServer, user: Account) -> None:
    result = cli("login", "--base-url", live.base_url, "--api-key", user.api_key)
    assert result.exit_code == 0, result.output
    assert "10,000 credits" in result.stdout
    assert user.api_key not in result.output
    saved = tomllib.loads(_config().read_text())
    assert saved == {"base_url": live.base_url, "api_key": user.api_key}
    assert stat.S_IMODE(_config().stat().st_mode) == 0o600
    # Later commands find both in the config file.
    assert cli.json("credits")["totalBalance"] == 10_000


def test_login_prompts_for_the_key_with_hidden_input(
    cli: CLI, live: LiveServer, user: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_commands, "is_interactive", lambda: True)
    result = cli("login", "--base-url", live.base_url, input=user.api_key + "\n")
    assert result.exit_code == 0, result.output
    assert "API key" in result.stderr
    assert user.api_key not in result.output  # hidden input is not echoed
    assert tomllib.loads(_config().read_text())["api_key"] == user.api_key


def test_login_reads_a_piped_key_from_stdin_without_a_prompt(cli: CLI, live: LiveServer, user: Account) -> None:
    body = cli.json("login", "--base-url", live.base_url, input=user.api_key + "\n")
    assert body["totalBalance"] == 10_000
    assert tomllib.loads(_config().read_text())["api_key"] == user.api_key


def test_login_with_nothing_on_stdin_exits_2(cli: CLI, live: LiveServer) -> None:
    result = cli("login", "--base-url", live.base_url, input="")
    assert result.exit_code == 2
    assert "no API key given" in result.stderr


def test_login_json(cli: CLI, live: LiveServer, user: Account) -> None:
    body = cli.json("login", "--base-url", live.base_url, "--api-key", user.api_key)
    assert body == {"baseUrl": live.base_url, "configPath": str(_config()), "totalBalance": 10_000}


def test_login_with_a_rejected_key_saves_nothing_and_exits_1(cli: CLI, live: LiveServer) -> None:
    bad_key = "sk_00000000_" + "x" * 32
    result = cli("login", "--base-url", live.base_url, "--api-key", bad_key)
    assert result.exit_code == 1
    assert "rejected the API key" in result.stderr
    assert result.stderr.rstrip().endswith("check the key you gave")  # not "log in", which this command is
    assert bad_key not in result.output
    assert "Traceback" not in result.output
    assert not _config().exists()


def test_login_to_a_server_that_is_not_there_exits_1_with_one_line(cli: CLI, user: Account) -> None:
    with stamina.set_testing(True, attempts=4, cap=True):  # the SDK's retries without their backoff
        result = cli("login", "--base-url", "http://127.0.0.1:9", "--api-key", user.api_key)
    assert result.exit_code == 1
    *notices, last = result.stderr.strip().splitlines()
    assert notices == [f"server not reachable, retrying ({n}/4)…" for n in (2, 3, 4)]  # not a silent wait
    assert last.startswith("error: cannot reach http://127.0.0.1:9")
    assert user.api_key not in result.output


def test_login_rejects_a_base_url_without_a_scheme(cli: CLI, user: Account) -> None:
    result = cli("login", "--base-url", "127.0.0.1:8000", "--api-key", user.api_key)
    assert result.exit_code == 2
    assert "--base-url must start with http://" in result.stderr
