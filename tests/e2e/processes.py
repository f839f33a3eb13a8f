"""Real processes for end-to-end tests: a server on a loopback port, standalone workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CLI = [sys.executable, "-m", "contactvault.cli.main"]


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(database_url: str, key_file: Path, **extra: str) -> dict[str, str]:
    """The environment a server or worker process needs to share the test's database and keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTVAULT_")}
    env.update({"CONTACTVAULT_DATABASE_URL": database_url, "CONTACTVAULT_ENCRYPTION_KEY_FILE": str(key_file)})
    env.update(extra)
    return env


def wait_until(check: Callable[[], bool], timeout: float = 30.0, interval: float = 0.05) -> None:
    """Poll ``check`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)  # polling another process with a deadline: there is nothing to wait on instead
    raise AssertionError(f"condition not met within {timeout} s")


@contextmanager
def server(env: dict[str, str], *args: str) -> Iterator[str]:
    """``contactvault serve`` on a free loopback port; yields its base URL and stops it afterwards."""
    port = free_port()
    # Its log goes to a file, never a pipe: a pipe nobody drains fills up (64 KiB) and then blocks the server's
    # event loop in the write, so a long-lived server (the CLI tests' session one) would stop answering.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port), *args], env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            log.seek(0)
            raise AssertionError(f"server exited: {log.read().decode(errors='replace')}")
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up)
        yield base
    finally:
        stop(proc)
        log.close()


def worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``contactvault worker``; the caller stops it."""
    return subprocess.Popen([*CLI, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it does not go."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stderr:
        proc.stderr.close()
