"""``contactvault demo-serve`` (what ``make run`` starts) turns the engine on against the demo's simulated mail world:
a person whose email the vault lacks is delivered by the pattern resolver, verified over SMTP, and charged once.

A real subprocess on a free port: its stdout names the people only the engine can find, and the API says where each
delivered value came from. The world runs on 127.0.0.1 only, one port per MX."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

DEADLINE_SECONDS = 20.0
COMMAND = (str(Path(sys.executable).with_name("contactvault")), "demo-serve")
PLANTED = re.compile(r"personnel (\d+) at event (\d+): (.+) \(@([\w.-]+)\)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    """The demo-serve process and the lines it printed so far (read by a thread)."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, deadline: float) -> None:
        while not any(text in line for line in self.lines):
            assert self.process.poll() is None, "demo-serve exited:\n" + "\n".join(self.lines)
            assert time.monotonic() < deadline, f"no {text!r} in time:\n" + "\n".join(self.lines)
            time.sleep(0.05)  # polling the subprocess output with a deadline


def _balance_once_up(http: httpx.Client, deadline: float) -> dict[str, object]:
    """The balance, asked until the server listens ("Serving on" is printed just before uvicorn starts)."""
    while True:
        try:
            return dict(http.get("/external/credits/balance").raise_for_status().json())
        except httpx.ConnectError:
            assert time.monotonic() < deadline, "the server never answered"
            time.sleep(0.05)  # polling until the server listens, with a deadline


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, str]]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTVAULT_")}
    env["CONTACTVAULT_ENCRYPTION_KEY_FILE"] = str(tmp_path / "keys.json")
    process = subprocess.Popen(
        [*COMMAND, "--port", str(port), "--db", f"sqlite:///{tmp_path}/cv.db"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Served(process), f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_demo_serve_delivers_a_person_the_vault_lacks_by_inference_charged_once(served: tuple[Served, str]) -> None:
    proc, base = served
    deadline = time.monotonic() + DEADLINE_SECONDS
    proc.wait_for("Serving on", deadline)
    assert any("Simulated mail world on 127.0.0.1" in line for line in proc.lines)
    found = [m for m in map(PLANTED.search, proc.lines) if m]
    assert found, "demo-serve named nobody to find by inference:\n" + "\n".join(proc.lines)
    person_id, event_id = found[0].group(1), found[0].group(2)
    key = next(line.split(": ", 1)[1].strip() for line in proc.lines if line.startswith("API key"))
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=5.0) as http:
        before = _balance_once_up(http, deadline)
        submitted = http.post("/external/contacts/unlock", json={"event_id": event_id, "personnel_ids": [person_id]})
        assert submitted.status_code == 201, submitted.text
        task_id = submitted.json()["task_id"]
        while (task := http.get(f"/external/contacts/unlock-tasks/{task_id}").json())["taskStatus"] in (
            "pending",
            "processing",
        ):
            assert time.monotonic() < deadline, task
            time.sleep(0.1)  # polling the server's task with a deadline
        after = http.get("/external/credits/balance").json()
    (item,) = task["items"]
    assert item["status"] == "unlocked", item
    assert item["source"] == "pattern"
    assert item["email"].endswith("@" + found[0].group(4))
    assert item["verification"]["status"] == "valid"
    assert item["creditsCharged"] == 15
    assert after["totalBalance"] == before["totalBalance"] - 15  # type: ignore[operator]
