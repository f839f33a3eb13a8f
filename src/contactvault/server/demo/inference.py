"""The demo's simulated mail world: company domains answered by a loopback DNS server and one SMTP server per MX,
so that ``make run`` and ``contactvault demo`` show the engine find addresses nobody imported (docs/resolution.md).

``plant`` (once, right after seeding) removes the work email of a few people at a few companies, keeping their
colleagues' so the pattern resolver can learn the company's pattern; ``start_world`` serves those companies' domains:
DNS (dnslib) on 127.0.0.1 and, per company, an MX on 127.0.0.1 with a port of its own (macOS has only 127.0.0.1),
each knowing the company's people as ``first.last`` and refusing everyone else, as a real directory would. The world
runs in two daemon threads until ``stop``; it records what it saw, like the tests' world (``mailworld``).

dnslib and aiosmtpd are in the ``demo`` extra (``make setup`` installs it); without them ``world_libraries_missing``
names the missing one and the demo runs without inference.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from contactvault.server.db import demo_world
from contactvault.server.runtime import Runtime

DEMO_HELO = "probe.demo.contactvault.test"
DEMO_MAIL_FROM = "verify@demo.contactvault.test"
WORLD_COMPANIES = 3  # companies whose domain the world serves
PLANTED_PER_COMPANY = 2  # people per company whose email the vault loses
MIN_PEOPLE = 5  # a company needs this many people with plain names: the planted ones and colleagues to learn from
START_SECONDS = 10.0
_PLAIN = re.compile(r"[a-z]+")


@dataclass(frozen=True, slots=True)
class DemoCompany:
    """One company of the world: its domain and its people's local parts (``first.last``)."""

    company_id: int
    domain: str
    users: frozenset[str]


@dataclass(frozen=True, slots=True)
class PlantedPerson:
    """Someone whose email only the engine can find."""

    person_id: int
    full_name: str
    domain: str
    event_id: int


@dataclass
class RunningWorld:
    """The world's DNS address, each MX's port, what it recorded, and how to stop it."""

    dns_port: int
    mx_ports: dict[str, int]
    recorder: Any
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)
    _dns: Any = field(default=None, repr=False)

    def settings(self) -> dict[str, Any]:
        """Settings for the serving process: DNS at the world, probing on with the demo's identity, short gaps."""
        return {
            "mail_dns_servers": f"127.0.0.1:{self.dns_port}",
            "mail_dns_timeout_seconds": 2.0,
            "mail_allow_loopback": True,
            "smtp_probe": True,
            "smtp_helo": DEMO_HELO,
            "smtp_mail_from": DEMO_MAIL_FROM,
            "smtp_host_ports": ",".join(f"{host}={port}" for host, port in self.mx_ports.items()),
            "smtp_session_seconds": 5.0,
            "smtp_provider_gap_seconds": 0.1,
        }

    def stop(self) -> None:
        """Stop the DNS and SMTP threads."""
        self._stop.set()
        if self._dns is not None:
            self._dns.server.shutdown()
            self._dns.server.server_close()
        for thread in self._threads:
            thread.join(START_SECONDS)


@dataclass
class DemoWorld:
    """The demo's world (None when it could not run), who only the engine can find, and what to tell the user."""

    running: RunningWorld | None
    planted: list[PlantedPerson]
    lines: list[str]

    def settings(self) -> dict[str, Any]:
        """Setting overrides that point the engine at the world (none without a world)."""
        return self.running.settings() if self.running is not None else {}

    def stop(self) -> None:
        """Stop the world, if it runs."""
        if self.running is not None:
            self.running.stop()


def open_demo_world(rt: Runtime, *, seeded: bool) -> DemoWorld:
    """Start the world for ``rt``'s directory (planting people first when ``seeded`` just now), unless inference is
    off or the world's libraries are missing: then one line says why and the demo delivers vault addresses only."""
    missing = world_libraries_missing()
    if missing is not None or not rt.settings.inference:
        why = (
            f"{missing} is not installed: pip install 'contactvault[demo]'" if missing else "CONTACTVAULT_INFERENCE=off"
        )
        return DemoWorld(None, [], [f"No simulated mail world ({why}): unlocks deliver only vault addresses."])
    world = world_companies(rt)
    planted = plant(rt, world) if seeded else []
    running = start_world(world)
    domains = ", ".join(c.domain for c in world)
    lines = [f"Simulated mail world on 127.0.0.1 (DNS and one SMTP port per MX) for {domains}."]
    if planted:
        lines.append("Not in the vault, found by inference (pattern + SMTP verification) when unlocked:")
        lines += [f"  personnel {p.person_id} at event {p.event_id}: {p.full_name} (@{p.domain})" for p in planted]
    return DemoWorld(running, planted, lines)


def world_libraries_missing() -> str | None:
    """The first library the world needs that is not installed (``pip install 'contactvault[demo]'``), if any."""
    for module in ("dnslib", "aiosmtpd"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


def _plain_local(full_name: str) -> str | None:
    parts = full_name.lower().split()
    return ".".join(parts) if len(parts) == 2 and all(_PLAIN.fullmatch(p) for p in parts) else None


def world_companies(rt: Runtime) -> list[DemoCompany]:
    """The companies the world serves: those of the first VPs (then anyone) at the largest event, by id, with enough
    people of plain names. Depends only on the directory, so a restart serves the same companies."""
    chosen: list[DemoCompany] = []
    with rt.db.read() as conn:
        event_id = demo_world.largest_event(conn)
        rows = demo_world.companies_at(conn, event_id) if event_id is not None else []
        ordered = [company for company, title in rows if "VP" in title] + [company for company, _ in rows]
        for company_id in dict.fromkeys(ordered):
            domain, names = demo_world.company_people(conn, company_id)
            users = frozenset(filter(None, map(_plain_local, names)))
            if domain and len(users) >= MIN_PEOPLE:
                chosen.append(DemoCompany(company_id, domain.lower(), users))
            if len(chosen) == WORLD_COMPANIES:
                break
    return chosen


def plant(rt: Runtime, world: list[DemoCompany]) -> list[PlantedPerson]:
    """Remove the vault email of a few plain-named people at the largest event per world company (VPs first)."""
    planted: list[PlantedPerson] = []
    with rt.db.write() as conn:
        event_id = demo_world.largest_event(conn)
        if event_id is None:
            return []
        for company in world:
            plain = [row for row in demo_world.emailed_at(conn, company.company_id, event_id) if _plain_local(row[1])]
            picks = sorted(plain, key=lambda row: "VP" not in row[2])[:PLANTED_PER_COMPANY]
            demo_world.drop_emails(conn, [person_id for person_id, _, _ in picks])
            planted += [PlantedPerson(pid, name, company.domain, event_id) for pid, name, _ in picks]
    return planted


def start_world(world: list[DemoCompany]) -> RunningWorld:
    """Serve the companies' domains: DNS and one SMTP server per MX, all on 127.0.0.1, each MX on its own port."""
    from dnslib import MX, A
    from dnslib.server import DNSLogger, DNSServer

    from contactvault.server.demo.mailworld import Directory, Recorder, Zone, ZoneResolver, _add

    zone: Zone = {}
    boxes: dict[str, Directory] = {}
    for company in world:
        host = f"mx.{company.domain}"
        _add(zone, company.domain, MX(host, 10))
        _add(zone, host, A("127.0.0.1"))
        boxes[host] = Directory(company.users)
    recorder = Recorder()
    dns = DNSServer(
        ZoneResolver(zone, frozenset(), recorder), address="127.0.0.1", port=0, logger=DNSLogger(logf=lambda _m: None)
    )
    running = RunningWorld(int(dns.server.server_address[1]), {}, recorder, _dns=dns)
    dns_thread = threading.Thread(
        target=dns.server.serve_forever, kwargs={"poll_interval": 0.05}, name="demo-mail-dns", daemon=True
    )
    ready = threading.Event()
    smtp_thread = threading.Thread(
        target=asyncio.run, args=(_serve_smtp(boxes, running, ready),), name="demo-mail-smtp", daemon=True
    )
    running._threads.extend((dns_thread, smtp_thread))
    dns_thread.start()
    smtp_thread.start()
    if not ready.wait(START_SECONDS) or len(running.mx_ports) != len(boxes):
        running.stop()
        raise RuntimeError("the demo's mail world did not start")
    return running


async def _serve_smtp(boxes: dict[str, Any], running: RunningWorld, ready: threading.Event) -> None:
    from contactvault.server.demo.mailworld import _Handler, _RecordingSMTP

    loop = asyncio.get_running_loop()
    servers: list[asyncio.Server] = []
    try:
        for host, box in boxes.items():
            handler = _Handler(host, box, running.recorder)
            server = await loop.create_server(
                lambda h=handler, n=host: _RecordingSMTP(h, hostname=n, timeout=30),  # type: ignore[misc]
                host="127.0.0.1",
                port=0,
            )
            servers.append(server)
            running.mx_ports[host] = int(server.sockets[0].getsockname()[1])
    finally:
        ready.set()
    while not running._stop.is_set():
        await asyncio.sleep(0.05)
    for server in servers:
        server.close()
        await server.wait_closed()
