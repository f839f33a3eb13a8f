"""A load generator that is not the bottleneck: Debian's ``wrk`` (C, epoll) driven by a generated Lua script.

The httpx client spends more CPU per request than the bare route costs the server, so on a 2-core machine it
measures itself. ``wrk`` spends a few µs per request. The Lua script cycles through the scenario's requests
(method, path and optional JSON body), sends the bearer key, and prints one JSON line with the figures when done.
``available()`` is false when ``wrk`` is not installed (or ``BENCH_LOADGEN=httpx``): callers fall back to httpx.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MARKER = "WRK-FIGURES "

# One Lua state per wrk thread; requests cycle through the list, offset per thread so threads do not move in step.
_SCRIPT = """
local requests = %(requests)s
local auth = %(auth)s
local counter = 0
local offset = 0
local thread_no = 0

function setup(thread)
  thread:set("offset", thread_no * 7)
  thread_no = thread_no + 1
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  local r = requests[(counter %% #requests) + 1]
  local headers = {}
  if r[4] ~= nil then headers["Authorization"] = r[4] elseif auth ~= "" then headers["Authorization"] = auth end
  if r[3] ~= nil then headers["Content-Type"] = "application/json" end
  return wrk.format(r[1], r[2], headers, r[3])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%(marker)s{"requests":%%d,"duration_us":%%d,"non_2xx":%%d,"socket_errors":%%d,' ..
    '"p50_us":%%d,"p95_us":%%d,"p99_us":%%d,"mean_us":%%.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
"""


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run measured (latencies in ms)."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    client_cpu_seconds: float


def available() -> bool:
    """Whether wrk can drive the benchmark (``BENCH_LOADGEN=httpx`` forces the httpx client)."""
    return os.environ.get("BENCH_LOADGEN", "wrk") != "httpx" and shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid Lua string literal for ASCII text


Request = tuple[str, str, str | None] | tuple[str, str, str | None, str]


def _lua_item(request: Request) -> str:
    method, path, body = request[:3]
    parts = [_lua_string(method), _lua_string(path), _lua_string(body) if body is not None else "nil"]
    if len(request) > 3:
        parts.append(_lua_string(request[3]))
    return "{" + ", ".join(parts) + "}"


def script(requests: Sequence[Request], authorization: str | None) -> str:
    """The Lua script sending ``requests`` (method, path, body or None, optionally its own Authorization) in
    turn."""
    items = ", ".join(_lua_item(r) for r in requests)
    return _SCRIPT % {
        "requests": "{" + items + "}",
        "auth": _lua_string(authorization or ""),
        "marker": MARKER,
    }


def run(
    base: str,
    requests: Sequence[Request],
    *,
    authorization: str | None,
    connections: int,
    seconds: float,
    threads: int = 1,
) -> WrkRun:
    """Run wrk for ``seconds`` with ``connections`` keep-alive connections; the figures it printed."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script(requests, authorization))
        path = Path(handle.name)
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        command = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s"]
        command += ["--timeout", "60s", "-s", str(path), base]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 120).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        path.unlink(missing_ok=True)
    line = next((ln for ln in out.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no figures: {out[-2000:]}")
    data = json.loads(line[len(MARKER) :])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return WrkRun(
        requests=int(data["requests"]),
        errors=int(data["non_2xx"]) + int(data["socket_errors"]),
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        mean_ms=data["mean_us"] / 1000,
        client_cpu_seconds=cpu,
    )
