"""The test harness's server process: its log must never be able to stall it."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.e2e import processes


def test_a_server_that_logs_more_than_a_pipe_holds_keeps_answering(tmp_path: Path) -> None:
    # Every request writes an access-log line to stderr. A pipe nobody reads holds 64 KiB, after which the
    # server's event loop blocks in the write and every later request times out: the shared CLI server hung so.
    env = processes.env_for(f"sqlite:///{tmp_path}/cv.db", tmp_path / "keys.json")
    with processes.server(env) as base, httpx.Client(base_url=base, timeout=10) as http:
        for _ in range(1200):  # ~150 bytes of log each: well past 64 KiB
            assert http.get("/healthz").status_code == 200
