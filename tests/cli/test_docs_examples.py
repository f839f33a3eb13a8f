"""docs/cli.md's examples, run verbatim, in order, against a server seeded exactly as ``make run`` seeds it.

Each command of a ```console block (``$ ...`` lines) or a ```sh block runs in bash under a pseudo-terminal
(``script``), as a person would type it: a ``[y/N]`` prompt gets ``y``; ``login``'s hidden key prompt gets the
key on stdin (the documented way for scripts). What is substituted: the
server's address (the docs say ``http://127.0.0.1:8000``, what ``make run`` serves, or ``https://cv.example.com``
for "your server") and ``$KEY`` (the key ``make run`` printed) through the environment; run and task ids the docs
show are replaced by the ids the earlier examples really produced (read from the state file). Every command must
exit 0, except where the docs show its exit code (``$ echo $?``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from contactvault.cli.admin.server import seed_demo
from contactvault.client import StateStore
from contactvault.server.bootstrap import build_runtime
from contactvault.server.config import Settings
from tests.e2e import processes

ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = ROOT / "docs" / "cli.md"
SERVER_URLS = ("http://127.0.0.1:8000", "https://cv.example.com")
# The ids the docs show, by what they stand for.
DOC_EMAIL_RUN = "1443bf92db0448c49bdd1a65937f55ff"
DOC_EMAIL_TASK = "4156915865725482925"
DOC_PHONE_RUN = "9c2d0e5b7a4f4b61a3f0c8d2e6b1a7f3"
DOC_PHONE_TASK = "8817204519637718306"
COMMAND_TIMEOUT = 120.0
FENCE = re.compile(r"^```(\w*)\s*$")


@dataclasses.dataclass(frozen=True)
class Example:
    """One documented command, where it is, and the exit code the docs give it."""

    line: int
    command: str
    exit_code: int = 0


def examples(text: str) -> list[Example]:
    """The commands of every console/sh block, in order; ``$ echo $?`` followed by a number sets the code."""
    found: list[Example] = []
    block: str | None = None
    awaiting_code = False
    for number, line in enumerate(text.splitlines(), start=1):
        fence = FENCE.match(line)
        if fence:
            block = None if block is not None else fence.group(1)
            continue
        if block == "sh" and line.strip() and not line.lstrip().startswith("#"):
            found.append(Example(number, line.strip()))
        elif block == "console" and line.startswith("$ "):
            command = line[2:].strip()
            awaiting_code = command == "echo $?"
            if not awaiting_code:
                found.append(Example(number, command))
        elif block == "console" and awaiting_code:
            found[-1] = dataclasses.replace(found[-1], exit_code=int(line.strip()))
            awaiting_code = False
    return found


def test_the_parser_reads_commands_and_documented_exit_codes() -> None:
    text = "```console\n$ contactvault a  # note\nout\n$ echo $?\n4\n```\n```sh\n# c\ncontactvault b\n```\n"
    assert examples(text) == [Example(2, "contactvault a  # note", 4), Example(9, "contactvault b")]


@dataclasses.dataclass(frozen=True)
class MakeRun:
    """A server seeded like ``make run`` and the demo key."""

    base_url: str
    api_key: str = dataclasses.field(repr=False)


@pytest.fixture(scope="module")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakeRun]:
    """``contactvault serve`` on what ``make run`` seeds (no rate limit: the examples come in a quick burst)."""
    tmp = tmp_path_factory.mktemp("make-run")
    settings = Settings(database_url=f"sqlite:///{tmp}/contactvault.db", encryption_key_file=tmp / "keys.json")
    rt = build_runtime(settings)
    try:
        _, key = seed_demo(rt)
    finally:
        rt.db.dispose()
    env = processes.env_for(
        settings.database_url,
        tmp / "keys.json",
        CONTACTVAULT_RATE_LIMIT_PER_KEY="0",
        CONTACTVAULT_LOG_LEVEL="WARNING",
    )
    with processes.server(env) as base:
        yield MakeRun(base, key)


def _ids(state_file: Path) -> dict[str, str]:
    """The documented ids -> the latest real ones of the same kind."""
    found: dict[str, str] = {}
    if not state_file.exists():
        return found
    with StateStore(state_file) as store:
        for run in reversed(store.list_runs()):  # oldest first: the newest of each kind wins
            doc_run, doc_task = (
                (DOC_PHONE_RUN, DOC_PHONE_TASK) if run.channel == "phone" else (DOC_EMAIL_RUN, DOC_EMAIL_TASK)
            )
            found[doc_run] = run.run_id
            tasks = [b.task_id for b in store.batches(run.run_id) if b.task_id]
            if tasks:
                found[doc_task] = tasks[0]
    return found


def in_terminal(command: str, env: dict[str, str], cwd: Path, answers: dict[str, str]) -> tuple[int, str]:
    """Run ``command`` in bash on a pseudo-terminal; type each answer once its prompt has appeared."""
    proc = subprocess.Popen(
        ["script", "-qec", command, "/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    output, pending = b"", dict(answers)
    deadline = time.monotonic() + COMMAND_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)  # waits on the pipe, not a sleep
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                return proc.wait(COMMAND_TIMEOUT), output.decode(errors="replace")
            output += chunk
            for prompt in [p for p in pending if p.encode() in output]:
                proc.stdin.write(pending.pop(prompt).encode())
                proc.stdin.flush()
        raise AssertionError(f"{command} did not finish within {COMMAND_TIMEOUT} s:\n{output.decode(errors='replace')}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def test_every_cli_md_example_runs_against_make_run_data(make_run: MakeRun, tmp_path: Path) -> None:
    if shutil.which("script") is None:
        pytest.fail("`script` (util-linux) is needed to give the examples a terminal", pytrace=False)
    state_file = tmp_path / "state" / "state.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTACTVAULT_", "LENSMOR_"))}
    env |= {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "SHELL": "/bin/bash",
        "KEY": make_run.api_key,
        "CONTACTVAULT_BASE_URL": make_run.base_url,  # what `make run` serves, on this test's port
        "CONTACTVAULT_CONFIG": str(tmp_path / "config" / "config.toml"),
        "CONTACTVAULT_STATE_FILE": str(state_file),
        "TMPDIR": str(tmp_path),
        "COLUMNS": "120",
    }
    ran = 0
    for example in examples(CLI_DOC.read_text(encoding="utf-8")):
        command = example.command
        for url in SERVER_URLS:
            command = command.replace(url, make_run.base_url)
        for documented, real in _ids(state_file).items():
            command = command.replace(documented, real)
        if "contactvault login" in command and "|" not in command:
            # A hidden prompt flushes what was typed before it switched echo off, so a driver cannot type into it
            # reliably; the key goes in on stdin instead, the documented way for scripts.
            command = f'printf "%s\\n" "$KEY" | {command}'
        code, output = in_terminal(command, env, tmp_path, {"[y/N]:": "y\n"})
        where = f"docs/cli.md:{example.line}: {example.command}"
        assert code == example.exit_code, f"{where}\nexit {code}\n{output[-3000:]}"
        ran += 1
    assert ran >= 20  # the parser found the examples
