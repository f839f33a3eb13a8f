"""The SMTP RCPT probe: one polite session per domain (aiosmtplib), never DATA.

A session: connect to the best MX (the next one on refusal), ``EHLO <our name>``, ``MAIL FROM:<our mailbox>``,
a catch-all probe with a random local part (unless its verdict is cached), then up to N candidates best-first with
``RSET`` and a fresh ``MAIL FROM`` before each, stopping at the first acceptance on a domain that refused the probe;
``QUIT``. The whole session, every MX included, ends by one deadline: a tarpit cannot hold a worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import aiosmtplib

from contactvault.server.clock import Clock
from contactvault.server.config import Settings
from contactvault.server.domain.smtp_replies import ReplyClass, SmtpReply, classify, parse_reply
from contactvault.server.worker.mail.cache import Cache, TtlCache
from contactvault.server.worker.mail.dns import MailDomain, MailHost
from contactvault.server.worker.mail.guard import AddressGuard
from contactvault.server.worker.mail.politeness import PolitenessLimiter, provider_key

# How long a provider gets no new session after it refused us for policy (research §4.2: 1 h), or said 421
# (busy: long enough to stop a burst, short like the greylisting retry).
POLICY_BLOCK_BACKOFF_SECONDS = 3600.0
BUSY_BACKOFF_SECONDS = 300.0


class ProbeConfigError(ValueError):
    """The probe settings are incomplete; the message names the setting."""


@dataclass(frozen=True, slots=True)
class ProbeConfig:
    """Who the prober says it is, and its limits."""

    helo: str
    mail_from: str
    port: int = 25
    session_seconds: float = 20.0
    max_candidates: int = 3
    catch_all_ttl_seconds: float = 7 * 24 * 3600.0
    allow_loopback: bool = False
    # MX host name -> port, for a simulated world where only 127.0.0.1 exists (one port per MX); loopback only.
    host_ports: tuple[tuple[str, int], ...] = ()

    def port_for(self, mx_host: str) -> int:
        """The port to probe ``mx_host`` on: its own port in a loopback world, else the configured one."""
        return dict(self.host_ports).get(mx_host.lower().rstrip("."), self.port) if self.allow_loopback else self.port

    def __post_init__(self) -> None:
        # Both go on the wire verbatim: nothing that could end the command line or the MAIL argument.
        if not _HOST_NAME.fullmatch(self.helo):
            raise ProbeConfigError("helo: must be a host name we own")
        local, at, domain = self.mail_from.rpartition("@")
        if not (at and _LOCAL_PART.fullmatch(local) and _HOST_NAME.fullmatch(domain)):
            raise ProbeConfigError("mail_from: must be a plain mailbox (local@domain)")

    @classmethod
    def from_settings(cls, settings: Settings) -> ProbeConfig | None:
        """The probe's configuration, or None while probing is off; incomplete settings are refused."""
        if not settings.smtp_probe:
            return None
        for name, value in (("smtp_helo", settings.smtp_helo), ("smtp_mail_from", settings.smtp_mail_from)):
            if not value.strip():
                raise ProbeConfigError(f"CONTACTVAULT_{name.upper()} must be set when CONTACTVAULT_SMTP_PROBE is on")
        if "@" not in settings.smtp_mail_from:
            raise ProbeConfigError("CONTACTVAULT_SMTP_MAIL_FROM must be a mailbox (local@domain)")
        return cls(
            settings.smtp_helo.strip(),
            settings.smtp_mail_from.strip(),
            settings.smtp_port,
            settings.smtp_session_seconds,
            settings.smtp_max_candidates,
            float(settings.smtp_catch_all_ttl_seconds),
            settings.mail_allow_loopback,
            parse_host_ports(settings.smtp_host_ports),
        )


def parse_host_ports(text: str) -> tuple[tuple[str, int], ...]:
    """``"mx.a.test=2525,mx.b.test=2526"`` -> pairs; a malformed entry is refused, naming the setting."""
    pairs: list[tuple[str, int]] = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = entry.partition("=")
        if not (_HOST_NAME.fullmatch(host.strip()) and port.strip().isdigit() and 0 < int(port) < 65536):
            raise ProbeConfigError("CONTACTVAULT_SMTP_HOST_PORTS: each entry must be host=port")
        pairs.append((host.strip().lower(), int(port)))
    return tuple(pairs)


class CatchAll(StrEnum):
    """Whether the domain accepts any local part."""

    YES = "yes"
    NO = "no"
    UNKNOWN = "unknown"


class SessionEnd(StrEnum):
    """How the session ended."""

    COMPLETED = "completed"
    NO_ROUTE = "no_route"  # DNS gave no host to try: no connection made
    NETWORK = "network"  # every MX refused or dropped the connection
    DEADLINE = "deadline"  # the session deadline cut it (tarpit, slow server)
    TEMPORARY = "temporary"  # greylisting, rate limit: try again later
    BUSY = "busy"  # the server closed with 421 (too many connections, shutting down): later, and slower
    POLICY_BLOCK = "policy_block"  # the provider refuses us (reputation, RBL): back off
    PROTOCOL = "protocol"  # the server did not speak SMTP as expected


@dataclass(frozen=True, slots=True)
class CandidateResult:
    """One candidate's RCPT reply, classified."""

    address: str
    reply_class: ReplyClass
    reply: SmtpReply


@dataclass(frozen=True, slots=True)
class ProbeReport:
    """What one session learned about a domain and its candidates (only those it asked about)."""

    domain: str
    end: SessionEnd
    catch_all: CatchAll
    results: tuple[CandidateResult, ...]
    mx_host: str | None
    connections: int


@dataclass
class _Session:
    """What a session has learned so far (kept when the deadline cuts it)."""

    domain: str
    catch_all: CatchAll
    clocks: int | None = None  # greylisting clocks to start at most (None: every candidate's)
    key: str | None = None  # the provider's politeness key, when a limiter holds the session
    results: list[CandidateResult] = field(default_factory=list)
    mx_host: str | None = None
    connections: int = 0

    def report(self, end: SessionEnd) -> ProbeReport:
        return ProbeReport(self.domain, end, self.catch_all, tuple(self.results), self.mx_host, self.connections)


class _Ended(Exception):
    def __init__(self, end: SessionEnd) -> None:
        self.end = end


class SmtpProber:
    """Runs probe sessions; caches each domain's catch-all verdict."""

    def __init__(
        self,
        config: ProbeConfig,
        clock: Clock,
        rng: random.Random,
        limiter: PolitenessLimiter | None = None,
        caches: tuple[Cache[str, CatchAll], Cache[str, str]] | None = None,
    ) -> None:
        self.config = config
        self._rng = rng
        self._limiter = limiter
        self._guard = AddressGuard(allow_loopback=config.allow_loopback)
        # Catch-all verdicts and probe local parts per domain: in this process unless shared ones are given.
        self._catch_all: Cache[str, CatchAll]
        self._probe_locals: Cache[str, str]
        self._catch_all, self._probe_locals = caches if caches is not None else (TtlCache(clock), TtlCache(clock))

    async def probe(
        self, domain: MailDomain, candidates: Sequence[str], *, greylist_clocks: int | None = None
    ) -> ProbeReport:
        """Ask the domain's MX about up to ``max_candidates`` addresses (best first) in one session. Where the
        server greylists, ``greylist_clocks`` (when given) bounds how many candidates are asked only to start their
        greylisting clocks: the session ends after that many temporary refusals.

        Raises ``ValueError`` naming the candidate's index when one is not a plain address at the domain, and
        ``PolitenessDeferred`` when the provider's limits allow no session soon enough.
        """
        session = _Session(domain.domain, self._catch_all.get(domain.domain) or CatchAll.UNKNOWN, greylist_clocks)
        # The guard again: a routing may come from somewhere other than MailDns (a cache row, a caller's bug).
        hosts = tuple(
            MailHost(h.name, h.preference, allowed)
            for h in domain.hosts
            if (allowed := tuple(a for a in h.addresses if self._guard.allows(a)))
        )
        if not domain.status.accepts_mail or not hosts:
            return session.report(SessionEnd.NO_ROUTE)
        if session.catch_all is CatchAll.YES:
            # Every candidate would be accepted: asking proves nothing, so no session at all.
            return session.report(SessionEnd.COMPLETED)
        wanted = _checked(candidates, domain.domain)[: self.config.max_candidates]
        if self._limiter is None:
            return await self._session(hosts, wanted, session)
        key = session.key = provider_key(hosts[0].name)
        async with self._limiter.session(key):
            report = await self._session(hosts, wanted, session)
        if report.end is SessionEnd.POLICY_BLOCK:
            await self._limiter.block(key, POLICY_BLOCK_BACKOFF_SECONDS)
        elif report.end is SessionEnd.BUSY:
            await self._limiter.block(key, BUSY_BACKOFF_SECONDS)
        return report

    async def _session(self, hosts: tuple[MailHost, ...], candidates: list[str], session: _Session) -> ProbeReport:
        try:
            async with asyncio.timeout(self.config.session_seconds):
                end = await self._over_hosts(hosts, candidates, session)
        except TimeoutError:
            end = SessionEnd.DEADLINE
        if session.catch_all is not CatchAll.UNKNOWN:
            self._catch_all.put(session.domain, session.catch_all, self.config.catch_all_ttl_seconds)
        return session.report(end)

    async def _over_hosts(self, hosts: tuple[MailHost, ...], candidates: list[str], session: _Session) -> SessionEnd:
        """Try MX hosts in preference order; the first that answers with a 220 banner gets the session."""
        unreached = SessionEnd.NETWORK
        for host in hosts:
            for address in host.addresses:
                client = aiosmtplib.SMTP(
                    hostname=address,
                    port=self.config.port_for(host.name),
                    local_hostname=self.config.helo,
                    start_tls=False,
                    timeout=self.config.session_seconds,
                )
                session.connections += 1
                try:
                    await client.connect()
                except aiosmtplib.SMTPConnectResponseError as exc:
                    end = _end_for(classify(parse_reply(exc.code, exc.message), host.name))
                    if end is SessionEnd.POLICY_BLOCK:
                        return end
                    if exc.code == 421 or end is SessionEnd.TEMPORARY:
                        unreached = SessionEnd.BUSY if exc.code == 421 else SessionEnd.TEMPORARY
                    continue  # a 421 or odd banner: RFC 5321 says try the next MX
                except (aiosmtplib.SMTPConnectError, OSError):
                    continue
                if self._limiter is not None and session.key is not None:
                    await self._limiter.connected(session.key)  # the gap counts from what the provider saw
                session.mx_host = host.name
                try:
                    return await self._converse(client, host.name, candidates, session)
                finally:
                    client.close()
        return unreached

    async def _converse(
        self, client: aiosmtplib.SMTP, mx_host: str, candidates: list[str], session: _Session
    ) -> SessionEnd:
        try:
            await self._greet(client, mx_host)
            temporary, clocks = False, 0
            if session.catch_all is CatchAll.UNKNOWN:
                session.catch_all, temporary = await self._probe_catch_all(client, mx_host, session.domain)
                if session.catch_all is CatchAll.YES:
                    return await _quit(client, SessionEnd.COMPLETED)
                await self._new_transaction(client, mx_host)
            for index, address in enumerate(candidates):
                if index:
                    await self._new_transaction(client, mx_host)
                reply = await _command(client, b"RCPT", b"TO:<" + address.encode() + b">")
                reply_class = classify(reply, mx_host)
                session.results.append(CandidateResult(address, reply_class, reply))
                if reply_class in (ReplyClass.POLICY_BLOCK, ReplyClass.PROTOCOL):
                    return await _quit(client, _end_for(reply_class))
                # A greylister defers each (client, sender, recipient) triplet on its own: asking the other
                # candidates now starts their clocks too, so the retry can pass for them (as many as the caller
                # wants: each costs an RCPT now and another on the retry).
                if reply_class is ReplyClass.TEMPORARY:
                    clocks += 1
                    temporary = True
                    if session.clocks is not None and clocks >= session.clocks:
                        break
                if reply_class is ReplyClass.ACCEPTED and session.catch_all is CatchAll.NO:
                    break
            return await _quit(client, SessionEnd.TEMPORARY if temporary else SessionEnd.COMPLETED)
        except _Ended as ended:
            return await _quit(client, ended.end)
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError):
            return SessionEnd.NETWORK

    async def _greet(self, client: aiosmtplib.SMTP, mx_host: str) -> None:
        reply = await _command(client, b"EHLO", self.config.helo.encode())
        if reply.code != 250:
            reply = await _command(client, b"HELO", self.config.helo.encode())
        _require_ok(reply, mx_host)
        _require_ok(await _command(client, b"MAIL", b"FROM:<" + self.config.mail_from.encode() + b">"), mx_host)

    async def _new_transaction(self, client: aiosmtplib.SMTP, mx_host: str) -> None:
        """RSET and a fresh MAIL FROM: each RCPT is the first of its transaction (one-RCPT servers answer it)."""
        _require_ok(await _command(client, b"RSET"), mx_host)
        _require_ok(await _command(client, b"MAIL", b"FROM:<" + self.config.mail_from.encode() + b">"), mx_host)

    async def _probe_catch_all(self, client: aiosmtplib.SMTP, mx_host: str, domain: str) -> tuple[CatchAll, bool]:
        """RCPT for a local part nobody has: the verdict, and whether the answer was temporary (greylisting)."""
        local = self._probe_locals.get(domain)
        if local is None:
            # The same random local part until the TTL ends, so a greylister lets it through on the retry.
            local = "".join(self._rng.choices(string.ascii_lowercase + string.digits, k=20))
            self._probe_locals.put(domain, local, self.config.catch_all_ttl_seconds)
        reply = await _command(client, b"RCPT", f"TO:<{local}@{domain}>".encode())
        reply_class = classify(reply, mx_host)
        if reply_class is ReplyClass.ACCEPTED:
            return CatchAll.YES, False
        if reply_class.proves_absence:
            return CatchAll.NO, False
        if reply_class in (ReplyClass.MAILBOX_FULL, ReplyClass.TEMPORARY):
            return CatchAll.UNKNOWN, reply_class is ReplyClass.TEMPORARY
        raise _Ended(_end_for(reply_class))


# RFC 5321 dot-atom local parts in ASCII: no quoting, no spaces, no angle brackets or line breaks that could end
# the RCPT argument and smuggle a parameter or a command into the session; SMTPUTF8 is not negotiated.
_HOST_NAME = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+"
)
_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def _checked(candidates: Sequence[str], domain: str) -> list[str]:
    """The candidates, each a plain address at ``domain``; the error names the index, never the value."""
    checked = []
    for index, candidate in enumerate(candidates):
        local, at, candidate_domain = candidate.rpartition("@")
        if not (at and len(local) <= 64 and _LOCAL_PART.fullmatch(local) and candidate_domain.lower() == domain):
            raise ValueError(f"candidates[{index}]: not a plain address at the probed domain")
        checked.append(f"{local}@{domain}")
    return checked


async def _command(client: aiosmtplib.SMTP, verb: bytes, *args: bytes) -> SmtpReply:
    response = await client.execute_command(verb, *args)
    if response.code == 421:
        # The server is closing the connection (aiosmtplib has closed its side already).
        raise _Ended(SessionEnd.BUSY)
    return parse_reply(response.code, response.message)


def _require_ok(reply: SmtpReply, mx_host: str) -> None:
    if not 200 <= reply.code < 300:
        raise _Ended(_end_for(classify(reply, mx_host)))


def _end_for(reply_class: ReplyClass) -> SessionEnd:
    if reply_class is ReplyClass.TEMPORARY:
        return SessionEnd.TEMPORARY
    if reply_class is ReplyClass.POLICY_BLOCK:
        return SessionEnd.POLICY_BLOCK
    if reply_class is ReplyClass.NETWORK:
        return SessionEnd.NETWORK
    return SessionEnd.PROTOCOL


async def _quit(client: aiosmtplib.SMTP, end: SessionEnd) -> SessionEnd:
    """Say goodbye politely; a server that already hung up changes nothing."""
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await client.execute_command(b"QUIT")
    return end
