"""The resolution bench's mail world in a process of its own.

``demo.mailworld`` runs its SMTP servers in the caller's event loop. In the bench that loop is also the engine's
(and the raw client's), so the servers and the side being measured took turns on one loop: the raw ceiling swung
with whatever else the loop was doing, and a connection accepted while the loop was busy was timestamped late,
which shortened the gaps the servers noted between one key's sessions. Here the world (DNS thread and SMTP
servers) runs in a child interpreter (``python -m bench._servers``) with its own loop; the bench asks it, one
line on its stdin per request, how much it has recorded so far and, between phases, for a copy of the recorder
(pickled, length-prefixed, on its stdout). Both processes read ``time.monotonic`` (one system-wide clock on Linux
and macOS), so the servers' timestamps compare with the prober's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from bench._world import generate, layout
from contactvault.server.demo.mailworld import Recorder, running_mail_world

START_SECONDS = 60.0  # the child imports the project and generates the world before it answers
_LENGTH = struct.Struct("!Q")


@dataclass(frozen=True, slots=True)
class WorldSpec:
    """What the child needs to rebuild the same world (it is generated, so the seed and sizes are enough)."""

    seed: int
    companies: int
    people: int
    greylist_wait: float


class Counts(NamedTuple):
    """Connections, commands and RCPTs the servers recorded so far; CPU seconds their process used."""

    connections: int
    events: int
    rcpts: int
    cpu: float


class ServedWorld:
    """The parent's handle on the child's world: where it answers, and what it recorded."""

    def __init__(self, process: asyncio.subprocess.Process, dns_port: int, smtp_port: int) -> None:
        self._process = process
        self.dns_port = dns_port
        self.smtp_port = smtp_port

    @property
    def dns_servers(self) -> str:
        """The value for ``CONTACTVAULT_MAIL_DNS_SERVERS``."""
        return f"127.0.0.1:{self.dns_port}"

    async def _ask(self, request: str) -> Any:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(request.encode() + b"\n")
        await self._process.stdin.drain()
        (size,) = _LENGTH.unpack(await self._process.stdout.readexactly(_LENGTH.size))
        # Bytes from the child this process started, over its own pipe: nothing untrusted is unpickled.
        return pickle.loads(await self._process.stdout.readexactly(size))  # noqa: S301

    async def counts(self) -> Counts:
        """What the servers have recorded so far, and the CPU time their process has used."""
        return Counts(*await self._ask("counts"))

    async def recorder(self) -> Recorder:
        """A copy of everything the servers have recorded so far."""
        connections, events, opened, arrived, tarpit_hangups, dns_queries = await self._ask("snapshot")
        return Recorder(
            dns_queries=dns_queries,
            connections=connections,
            tarpit_hangups=tarpit_hangups,
            events=events,
            opened=opened,
            arrived=arrived,
        )


@contextlib.asynccontextmanager
async def served_world(spec: WorldSpec) -> AsyncIterator[ServedWorld]:
    """Start the world in a child process, yield the handle, stop the child on exit."""
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH"))))}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench._servers",
        *map(str, astuple(spec)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=root,
        env=env,
        limit=2**20,
    )
    try:
        assert process.stdout is not None
        ready = await asyncio.wait_for(process.stdout.readline(), START_SECONDS)
        if not ready:
            raise RuntimeError("the mail world process did not start (see its stderr)")
        dns_port, smtp_port = map(int, ready.split())
        yield ServedWorld(process, dns_port, smtp_port)
    finally:
        if process.returncode is None:
            with contextlib.suppress(OSError, RuntimeError):
                assert process.stdin is not None
                process.stdin.close()  # end of requests: the child stops its world and exits
            try:
                await asyncio.wait_for(process.wait(), 10.0)
            except TimeoutError:
                process.kill()
                await process.wait()


def _send(out: BinaryIO, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LENGTH.pack(len(data)) + data)
    out.flush()


async def _serve(spec: WorldSpec) -> None:
    world = generate(spec.seed, spec.companies, spec.people)
    out = sys.stdout.buffer
    async with running_mail_world(layout=layout(world, spec.greylist_wait)) as mail:
        out.write(f"{mail.dns_port} {mail.smtp_port}\n".encode())
        out.flush()
        recorder = mail.recorder
        while request := (await asyncio.to_thread(sys.stdin.readline)).strip():
            if request == "counts":
                events = list(recorder.events)
                rcpts = sum(1 for e in events if e.command == "RCPT")
                _send(out, (len(recorder.connections), len(events), rcpts, time.process_time()))
            elif request == "snapshot":
                copied = (
                    list(recorder.connections),
                    list(recorder.events),
                    dict(recorder.opened),
                    dict(recorder.arrived),
                    recorder.tarpit_hangups,
                    list(recorder.dns_queries),
                )
                _send(out, copied)
            else:
                raise SystemExit(f"unknown request {request!r}")


if __name__ == "__main__":
    seed, companies, people, wait = sys.argv[1:5]
    asyncio.run(_serve(WorldSpec(int(seed), int(companies), int(people), float(wait))))
