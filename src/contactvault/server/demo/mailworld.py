"""A simulated mail world on loopback: a DNS zone server and one SMTP server per MX on 127.0.0.x.

Every simulated domain of the research test plan lives here, so the tests (tests/integration/mail/) and the demo
probe the same world. The DNS server (dnslib, UDP on 127.0.0.1:<ephemeral>) tells NXDOMAIN from NODATA and can
answer SERVFAIL; the SMTP servers (aiosmtpd, in the caller's event loop) share one high port, one loopback address
per MX, and record every connection (when it arrived: ``arrival.py``) and command. DATA is refused and recorded: a
prober must never send it. Linux routes all of 127.0.0.0/8 to ``lo``; where only 127.0.0.1 exists (macOS) the
demo's world (``inference.py``) gives each MX a port of its own. dnslib, aiosmtpd: the ``demo`` extra, dev group.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP, Session
from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from contactvault.server.demo.arrival import arrival

USERS = frozenset({"ada.lovelace", "alan.turing", "grace.hopper"})
FULL_USERS = frozenset({"ada.lovelace"})
ZONE_TTL = 300


@dataclass(frozen=True, slots=True)
class SmtpEvent:
    """One command a simulated MX received, and its reply."""

    server: str
    peer: str
    command: str
    argument: str
    reply: str
    helo: str | None
    mail_from: str | None
    at: float
    session: int = 0  # which connection to this MX it came on (numbered from 1 across the world)


@dataclass
class Recorder:
    """Everything the world saw: DNS questions, SMTP connections and commands (thread-safe appends)."""

    dns_queries: list[tuple[str, str]] = field(default_factory=list)
    connections: list[tuple[str, str]] = field(default_factory=list)
    tarpit_hangups: int = 0  # connections the client closed on the tarpit (it never closes one itself)
    events: list[SmtpEvent] = field(default_factory=list)
    opened: dict[int, float] = field(default_factory=dict)  # connection number -> when the MX accepted it
    arrived: dict[int, float] = field(default_factory=dict)  # ... and when it arrived, by the kernel (arrival.py)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _sessions: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def next_session(self, transport: asyncio.BaseTransport | None = None) -> int:
        """A fresh connection number, and when that connection was accepted (``opened``) and arrived (``arrived``)."""
        number = next(self._sessions)
        self.opened[number] = time.monotonic()
        self.arrived[number] = arrival(transport, self.opened[number])
        return number

    def note_query(self, name: str, qtype: str) -> None:
        """A DNS question arrived."""
        with self._lock:
            self.dns_queries.append((name, qtype))

    def commands(self, server: str | None = None, command: str | None = None) -> list[SmtpEvent]:
        """The recorded commands, optionally for one MX address and/or one verb."""
        return [
            e
            for e in self.events
            if (server is None or e.server == server) and (command is None or e.command == command)
        ]

    def connections_to(self, server: str) -> int:
        """How many connections reached the MX at ``server``."""
        return sum(1 for s, _ in self.connections if s == server)


class Mailbox(Protocol):
    """How one simulated MX answers RCPT."""

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """The reply line to ``RCPT TO:<rcpt>``."""
        ...


def _local(address: str) -> str:
    return address.partition("@")[0].lower()


@dataclass(frozen=True)
class Directory:
    """250 for known users, ``550 5.1.1`` for everyone else."""

    users: frozenset[str] = USERS

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """Known or unknown."""
        if _local(rcpt) in self.users:
            return "250 2.1.5 Ok"
        return "550 5.1.1 <" + rcpt + ">: Recipient address rejected: User unknown in local recipient table"


class CatchAll:
    """Accepts every recipient."""

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """Always yes."""
        return "250 2.1.5 Ok"


class Greylist:
    """``451 4.7.1`` until the (peer, sender, recipient) triplet was first seen ``min_wait`` seconds ago."""

    def __init__(
        self,
        min_wait: float,
        now: Callable[[], float] = time.monotonic,
        users: frozenset[str] = USERS,
        inner: Mailbox | None = None,
    ):
        self.min_wait = min_wait
        self.now = now
        self.inner: Mailbox = inner if inner is not None else Directory(users)
        self.first_seen: dict[tuple[str, str, str], float] = {}

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """Defer new triplets; answer like a directory once they are old enough."""
        first = self.first_seen.setdefault((peer, mail_from.lower(), rcpt.lower()), self.now())
        if self.now() - first < self.min_wait:
            return "451 4.7.1 <" + rcpt + ">: Recipient address rejected: Greylisted, please try again later"
        return self.inner.rcpt(peer, mail_from, rcpt, index_in_transaction)


class PolicyBlock:
    """Refuses every recipient because of the client's reputation (an RBL listing)."""

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """Blocked, whoever the recipient."""
        return "550 5.7.1 Service unavailable; client host [" + peer + "] blocked using zen.spamhaus.org"


class Busy:
    """Answers RCPT with ``421``: too many connections, closing (the client must go away and slow down)."""

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """Go away for now."""
        return "421 4.7.0 mx.busy.test Too many concurrent SMTP connections; please try again later"


@dataclass(frozen=True)
class EdgeBlocking:
    """Microsoft-style Directory-Based Edge Blocking: unknown recipients get ``550 5.4.1 ... Access denied``."""

    users: frozenset[str] = USERS

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """Known, or DBEB's refusal."""
        if _local(rcpt) in self.users:
            return "250 2.1.5 Recipient OK"
        return "550 5.4.1 Recipient address rejected: Access denied. AS(201806281)"


@dataclass(frozen=True)
class OneRecipient:
    """A directory that refuses any second RCPT in one transaction with ``452 4.5.3``."""

    users: frozenset[str] = USERS

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """Only the first RCPT of a transaction is answered."""
        if index_in_transaction > 0:
            return "452 4.5.3 Too many recipients"
        return Directory(self.users).rcpt(peer, mail_from, rcpt, index_in_transaction)


@dataclass(frozen=True)
class FullMailboxes:
    """``552 5.2.2`` for full mailboxes, ``550 5.1.1`` for unknown users."""

    full: frozenset[str] = FULL_USERS

    def rcpt(self, peer: str, mail_from: str, rcpt: str, index_in_transaction: int) -> str:
        """Full or unknown."""
        if _local(rcpt) in self.full:
            return "552 5.2.2 <" + rcpt + ">: Mailbox full"
        return Directory(frozenset()).rcpt(peer, mail_from, rcpt, index_in_transaction)


class _NumberedSession(Session):
    """aiosmtpd's session, with the world's number for its connection."""

    world_session: int = 0


class _RecordingSMTP(SMTP):
    """aiosmtpd's server, noting each connection and refusing (and noting) DATA."""

    def __init__(self, handler: _Handler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._recording = handler

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self._recording.recorder.connections.append((self._recording.server, peer[0] if peer else "?"))
        super().connection_made(transport)
        if isinstance(self.session, _NumberedSession):
            self.session.world_session = self._recording.recorder.next_session(transport)

    def _create_session(self) -> Session:
        return _NumberedSession(self.loop)

    async def smtp_DATA(self, arg: str) -> None:
        """Refuse DATA (aiosmtpd dispatches on the verb's name); the recorder lets tests prove it never came."""
        self._recording.note(self.session, None, "DATA", arg or "", "554 5.5.1 DATA is never expected here")
        await self.push("554 5.5.1 DATA is never expected here")


class _Handler:
    """aiosmtpd hooks for one simulated MX."""

    def __init__(self, server: str, mailbox: Mailbox, recorder: Recorder) -> None:
        self.server = server
        self.mailbox = mailbox
        self.recorder = recorder

    def note(self, session: Any, envelope: Any, command: str, argument: str, reply: str) -> None:
        peer = session.peer[0] if session and session.peer else "?"
        mail_from = envelope.mail_from if envelope is not None else None
        helo = session.host_name if session else None
        number = getattr(session, "world_session", 0)
        self.recorder.events.append(
            SmtpEvent(self.server, peer, command, argument, reply, helo, mail_from, time.monotonic(), number)
        )

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> Any:
        session.host_name = hostname
        self.note(session, envelope, "EHLO", hostname, "250")
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        envelope.mail_from = address
        self.note(session, envelope, "MAIL", address, "250 2.1.0 Ok")
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        reply = self.mailbox.rcpt(session.peer[0], envelope.mail_from or "", address, len(envelope.rcpt_tos))
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        self.note(session, envelope, "RCPT", address, reply)
        return reply

    async def handle_RSET(self, server: Any, session: Any, envelope: Any) -> str:
        self.note(session, envelope, "RSET", "", "250 2.0.0 Ok")
        return "250 2.0.0 Ok"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.note(session, envelope, "QUIT", "", "221 2.0.0 Bye")
        return "221 2.0.0 Bye"


class _Tarpit(asyncio.Protocol):
    """Accepts the connection and never says a word."""

    def __init__(self, server: str, recorder: Recorder) -> None:
        self.server = server
        self.recorder = recorder

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.recorder.connections.append((self.server, peer[0] if peer else "?"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.recorder.tarpit_hangups += 1


Zone = dict[str, list[RR]]


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    """An in-memory zone: NXDOMAIN for names it lacks, NOERROR with no answer (NODATA) for types a name lacks."""

    def __init__(self, zone: Zone, servfail: frozenset[str], recorder: Recorder) -> None:
        self.zone = zone
        self.servfail = servfail
        self.recorder = recorder

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        """Answer one question from the zone."""
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.recorder.note_query(name, qtype)
        if name in self.servfail:
            reply.header.rcode = RCODE.SERVFAIL
        elif name not in self.zone:
            reply.header.rcode = RCODE.NXDOMAIN
        else:
            for record in self.zone[name]:
                if QTYPE[record.rtype] == qtype:
                    reply.add_answer(record)
        return reply


def _rr(name: str, rdata: Any) -> RR:
    rtype = {MX: QTYPE.MX, A: QTYPE.A, AAAA: QTYPE.AAAA, TXT: QTYPE.TXT}[type(rdata)]
    return RR(name, rtype, rdata=rdata, ttl=ZONE_TTL)


def _add(zone: Zone, name: str, *rdatas: Any) -> None:
    zone.setdefault(name, []).extend(_rr(name, r) for r in rdatas)


# --- The world -------------------------------------------------------------------------------------------------

# One loopback address per simulated MX (the prober connects to all of them on one shared port).
MX_ADDRESSES: dict[str, str] = {
    "mx.normal.test": "127.0.0.2",
    "mx.catchall.test": "127.0.0.3",
    "mx.grey.test": "127.0.0.4",
    "mx.slow.test": "127.0.0.5",
    "implicit.test": "127.0.0.6",
    "mx.refused.test": "127.0.0.7",  # nothing listens there: connection refused
    "mx1.twomx.test": "127.0.0.7",
    "mx2.twomx.test": "127.0.0.8",
    "mx.blocked.test": "127.0.0.9",
    "dbeb-test.mail.protection.outlook.test": "127.0.0.10",
    "mx.onercpt.test": "127.0.0.11",
    "mx.full.test": "127.0.0.12",
    "mx.busy.test": "127.0.0.13",
}
REFUSED_ADDRESS = "127.0.0.7"
TARPIT_ADDRESS = "127.0.0.5"


def build_zone() -> Zone:
    """Every simulated domain of the research test plan (b)."""
    zone: Zone = {}
    mx_of = {
        "normal.test": "mx.normal.test",
        "catchall.test": "mx.catchall.test",
        "grey.test": "mx.grey.test",
        "slow.test": "mx.slow.test",
        "refused.test": "mx.refused.test",
        "blocked.test": "mx.blocked.test",
        "dbeb.test": "dbeb-test.mail.protection.outlook.test",
        "onercpt.test": "mx.onercpt.test",
        "full.test": "mx.full.test",
        "busy.test": "mx.busy.test",
        "deadmx.test": "mx.deadmx.test",  # the MX host has no address records (and does not exist)
        "private.test": "mx.private.test",
        "metadata.test": "mx.metadata.test",
        "mapped.test": "mx.mapped.test",
    }
    for domain, host in mx_of.items():
        _add(zone, domain, MX(host, 10))
    for host, address in MX_ADDRESSES.items():
        _add(zone, host, A(address))
    _add(zone, "twomx.test", MX("mx1.twomx.test", 10), MX("mx2.twomx.test", 20))
    _add(zone, "mixed.test", MX("mx.private.test", 10), MX("mx.normal.test", 20))  # the guard drops the first
    _add(zone, "nullmx.test", MX(".", 0))
    _add(zone, "nomail.test", TXT("v=spf1 -all"))  # exists, but neither MX nor address
    _add(zone, "mx.private.test", A("10.0.0.1"))
    _add(zone, "mx.metadata.test", A("169.254.169.254"))
    _add(zone, "mx.mapped.test", AAAA("::ffff:a00:1"))
    return zone


SERVFAIL_NAMES = frozenset({"dnsdown.test"})


def mailboxes(greylist_wait: float, now: Callable[[], float]) -> dict[str, Mailbox]:
    """Which behaviour each listening MX address has."""
    return {
        "127.0.0.2": Directory(),
        "127.0.0.3": CatchAll(),
        "127.0.0.4": Greylist(greylist_wait, now),
        "127.0.0.6": Directory(),
        "127.0.0.8": Directory(),
        "127.0.0.9": PolicyBlock(),
        "127.0.0.10": EdgeBlocking(),
        "127.0.0.11": OneRecipient(),
        "127.0.0.12": FullMailboxes(),
        "127.0.0.13": Busy(),
    }


@dataclass(frozen=True)
class WorldLayout:
    """What a world serves: the DNS zone (and names that SERVFAIL), the mailbox behind each listening MX address,
    each address's host name (its banner), and the addresses of silent tarpits. ``research_layout`` is the research
    test plan's world; generated worlds (bench/resolution.py) build their own."""

    zone: Zone
    servfail: frozenset[str]
    boxes: dict[str, Mailbox]
    host_names: dict[str, str]
    tarpits: tuple[str, ...] = ()


def research_layout(greylist_wait: float, now: Callable[[], float]) -> WorldLayout:
    """Every simulated domain of the research test plan (b)."""
    names = {address: host for host, address in MX_ADDRESSES.items()}
    return WorldLayout(build_zone(), SERVFAIL_NAMES, mailboxes(greylist_wait, now), names, (TARPIT_ADDRESS,))


@dataclass
class MailWorld:
    """A running world: where its DNS answers, the shared SMTP port, and what it recorded."""

    recorder: Recorder
    dns_port: int
    smtp_port: int
    silent_dns_port: int  # a UDP port that never answers: DNS down by timeout

    @property
    def dns_servers(self) -> str:
        """The value for ``CONTACTVAULT_MAIL_DNS_SERVERS``."""
        return f"127.0.0.1:{self.dns_port}"

    @property
    def data_commands(self) -> int:
        """How many DATA commands arrived anywhere (always 0 for a well-behaved prober)."""
        return len(self.recorder.commands(command="DATA"))


@contextlib.asynccontextmanager
async def running_mail_world(
    greylist_wait: float = 300.0, now: Callable[[], float] = time.monotonic, *, layout: WorldLayout | None = None
) -> AsyncIterator[MailWorld]:
    """Start the DNS server (a thread) and the SMTP servers (in the running loop); stop them all on exit. Without
    ``layout`` the world is the research test plan's."""
    layout = layout if layout is not None else research_layout(greylist_wait, now)
    recorder = Recorder()
    dns_server = DNSServer(
        ZoneResolver(layout.zone, layout.servfail, recorder),
        address="127.0.0.1",
        port=0,
        logger=DNSLogger(logf=lambda _message: None),
    )
    # dnslib's own start_thread() polls for shutdown every 0.5 s; a short poll makes stopping the world quick.
    dns_thread = threading.Thread(
        target=dns_server.server.serve_forever, kwargs={"poll_interval": 0.02}, name="mailworld-dns", daemon=True
    )
    dns_thread.start()
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        servers, port = await _start_smtp(layout, recorder)
        try:
            yield MailWorld(recorder, dns_server.server.server_address[1], port, silent.getsockname()[1])
        finally:
            for server in servers:
                server.close()
            for server in servers:
                await server.wait_closed()
    finally:
        silent.close()
        dns_server.server.shutdown()
        dns_server.server.server_close()
        dns_thread.join()


async def _start_smtp(layout: WorldLayout, recorder: Recorder) -> tuple[list[asyncio.Server], int]:
    """Every MX on one shared port (chosen by the first bind; tried again if another address has it taken)."""
    loop = asyncio.get_running_loop()
    names = layout.host_names
    for _ in range(10):
        servers: list[asyncio.Server] = []
        port = 0
        try:
            for address, box in layout.boxes.items():
                handler = _Handler(address, box, recorder)
                server = await loop.create_server(
                    lambda h=handler, n=names[address]: _RecordingSMTP(h, hostname=n, timeout=30),  # type: ignore[misc]
                    host=address,
                    port=port,
                )
                port = port or server.sockets[0].getsockname()[1]
                servers.append(server)
            for tarpit in layout.tarpits:
                servers.append(
                    await loop.create_server(lambda t=tarpit: _Tarpit(t, recorder), host=tarpit, port=port)  # type: ignore[misc]
                )
            return servers, port
        except OSError as exc:
            for server in servers:
                server.close()
            if exc.errno != errno.EADDRINUSE:
                raise
    raise RuntimeError("no free port shared by every simulated MX address")
