"""``make run`` / ``contactvault demo-serve`` / ``serve``: the port can be chosen, a taken port is one clear line,
and start-up prints no library noise around the key."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import CLI

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port somebody else is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def _make_run(*args: str, **env: str) -> str:
    if shutil.which("make") is None:
        pytest.fail("make is not installed", pytrace=False)
    # -n: print the commands only; -o: take the virtualenv as up to date.
    result = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "run", *args],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in {"PORT", "CONTACTVAULT_PORT"}} | env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_make_run_takes_a_port() -> None:
    assert "demo-serve --port 8011" in _make_run("PORT=8011")
    assert "demo-serve --port 8012" in _make_run(CONTACTVAULT_PORT="8012")
    assert "--port" not in _make_run()  # the command's own default (8000)


@pytest.mark.parametrize("command", ["demo-serve", "serve"])
def test_a_taken_port_is_one_line_with_the_fix(cli: CLI, tmp_path: Path, taken_port: int, command: str) -> None:
    db = tmp_path / "contactvault.db"
    result = cli(command, "--port", str(taken_port), "--db", f"sqlite:///{db}")
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    # The next free port is suggested: usually the one above, unless another process on the machine holds it.
    found = re.fullmatch(
        rf"error: port {taken_port} on 127\.0\.0\.1 is in use \(another server\?\); "
        r"choose another: --port (\d+), or make run PORT=(\d+)",
        line,
    )
    assert found, line
    assert found[1] == found[2]
    assert taken_port < int(found[1]) < taken_port + 100  # it looks at the next 99
    assert "Serving on" not in result.stdout
    assert not db.exists()  # checked before anything was created or seeded


def test_the_port_comes_from_contactvault_port(
    cli: CLI, tmp_path: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONTACTVAULT_PORT", str(taken_port))
    result = cli("demo-serve", "--db", f"sqlite:///{tmp_path}/contactvault.db")
    assert result.exit_code == 1
    assert f"error: port {taken_port} on 127.0.0.1 is in use" in result.stderr


def test_start_up_logs_no_alembic_plugin_noise(tmp_path: Path) -> None:
    # What `serve` does before it listens: configure logging, then migrate. A fresh process, since alembic
    # announces its plugins once per process, at import.
    script = (
        "from contactvault.server.logs import configure; configure(json_lines=False)\n"
        "from contactvault.server.bootstrap import build_runtime\n"
        "from contactvault.server.config import Settings\n"
        f"rt = build_runtime(Settings(database_url='sqlite:///{tmp_path}/cv.db', "
        f"encryption_key_file='{tmp_path}/keys.json'))\n"
        "rt.db.dispose()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTVAULT_")}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert "Running upgrade" in result.stderr  # migrations are still reported
    for noise in ("setup plugin", "Context impl", "Will assume"):
        assert noise not in result.stderr
