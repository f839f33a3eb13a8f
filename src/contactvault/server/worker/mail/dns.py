"""MX lookups with dnspython against explicitly configured nameservers (never the system resolver).

A domain's answer is a ``MailDomain``: its MX hosts in preference order with the addresses the guard allows,
or why there are none (null MX, NXDOMAIN, no MX and no address, dead MX, only guarded addresses), or that DNS
could not tell now (SERVFAIL, timeout: transient, never cached).
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from enum import StrEnum

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver

from contactvault.server.clock import Clock
from contactvault.server.config import Settings
from contactvault.server.worker.mail.cache import Cache, TtlCache
from contactvault.server.worker.mail.guard import AddressGuard

# Research §4.3: DNS TTLs clamped to [5 min, 24 h]; negative answers kept 1 h.
MIN_TTL_SECONDS = 300
MAX_TTL_SECONDS = 24 * 3600
NEGATIVE_TTL_SECONDS = 3600


class MailStatus(StrEnum):
    """What DNS says about a domain's mail."""

    MX = "mx"
    IMPLICIT_MX = "implicit_mx"  # no MX records but an address: RFC 5321 §5.1
    NULL_MX = "null_mx"  # MX 0 . (RFC 7505): the domain takes no mail
    NO_DOMAIN = "no_domain"  # NXDOMAIN
    NO_MAIL = "no_mail"  # neither MX nor address records
    DEAD_MX = "dead_mx"  # MX hosts that have no address
    GUARDED = "guarded"  # every MX address is refused by the guard (private, loopback, metadata...)
    TRANSIENT = "transient"  # SERVFAIL or timeout: ask again later

    @property
    def accepts_mail(self) -> bool:
        """There is a host to probe."""
        return self in (MailStatus.MX, MailStatus.IMPLICIT_MX)


@dataclass(frozen=True, slots=True)
class MailHost:
    """One MX host and the addresses the guard allows, in the order to try."""

    name: str
    preference: int
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MailDomain:
    """A domain's mail routing as DNS answered it."""

    domain: str
    status: MailStatus
    hosts: tuple[MailHost, ...] = ()
    ttl_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Nameserver:
    """Where DNS questions go."""

    host: str
    port: int = 53


def parse_nameservers(text: str) -> tuple[Nameserver, ...]:
    """``"127.0.0.1:5353,192.0.2.53"`` -> nameservers; an IPv6 server is written ``[::1]:53``."""
    servers = []
    for raw in (part.strip() for part in text.split(",")):
        if not raw:
            continue
        host, port = raw, 53
        if raw.startswith("["):
            host, _, rest = raw[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") else 53
        elif raw.count(":") == 1:
            host, _, port_text = raw.partition(":")
            port = int(port_text)
        servers.append(Nameserver(host, port))
    return tuple(servers)


class _Transient(Exception):
    """DNS could not answer now."""


class MailDns:
    """MX lookups for one process: explicit nameservers, the address guard, a TTL cache of answers."""

    def __init__(
        self,
        nameservers: tuple[Nameserver, ...],
        guard: AddressGuard,
        clock: Clock,
        timeout_seconds: float = 5.0,
        cache: Cache[str, MailDomain] | None = None,
    ) -> None:
        if not nameservers:
            raise ValueError(
                "mail_dns_servers: at least one nameserver is required (the system resolver is never used)"
            )
        # configure=False: /etc/resolv.conf is never read, so no question can reach the system resolver.
        self._resolver = dns.asyncresolver.Resolver(configure=False)
        self._resolver.nameservers = [dns.nameserver.Do53Nameserver(ns.host, ns.port) for ns in nameservers]
        self._resolver.timeout = timeout_seconds
        self._resolver.lifetime = timeout_seconds
        self._guard = guard
        self._cache: Cache[str, MailDomain] = cache if cache is not None else TtlCache(clock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock, cache: Cache[str, MailDomain] | None = None) -> MailDns:
        """The adapter the settings describe (answers cached in ``cache``, else in this process)."""
        return cls(
            parse_nameservers(settings.mail_dns_servers),
            AddressGuard(allow_loopback=settings.mail_allow_loopback),
            clock,
            settings.mail_dns_timeout_seconds,
            cache,
        )

    async def mail_domain(self, domain: str) -> MailDomain:
        """The domain's mail routing, from the cache while its TTL lasts; ValueError for a malformed name."""
        key = _domain_name(domain)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        try:
            answer = await self._lookup(key)
        except _Transient:
            return MailDomain(key, MailStatus.TRANSIENT)
        self._cache.put(key, answer, answer.ttl_seconds)
        return answer

    async def _lookup(self, domain: str) -> MailDomain:
        try:
            answer = await self._resolver.resolve(domain, "MX", search=False)
        except dns.resolver.NXDOMAIN:
            return MailDomain(domain, MailStatus.NO_DOMAIN, ttl_seconds=NEGATIVE_TTL_SECONDS)
        except dns.resolver.NoAnswer:
            return await self._implicit_mx(domain)
        except dns.exception.DNSException as exc:
            raise _Transient from exc
        rrset = answer.rrset
        assert rrset is not None  # resolve() raises NoAnswer otherwise
        ttl = _clamp(rrset.ttl)
        records = sorted(((r.preference, r.exchange) for r in rrset), key=lambda pe: (pe[0], str(pe[1])))
        if any(exchange == dns.name.root for _, exchange in records):
            return MailDomain(domain, MailStatus.NULL_MX, ttl_seconds=ttl)
        names = [exchange.to_text(omit_final_dot=True).lower() for _, exchange in records]
        found = await asyncio.gather(*(self._addresses(name) for name in names))
        return _routing(
            domain, [(n, p, a) for n, (p, _), a in zip(names, records, found, strict=True)], ttl, self._guard
        )

    async def _implicit_mx(self, domain: str) -> MailDomain:
        addresses = await self._addresses(domain)
        if not addresses:
            return MailDomain(domain, MailStatus.NO_MAIL, ttl_seconds=NEGATIVE_TTL_SECONDS)
        routed = _routing(domain, [(domain, 0, addresses)], NEGATIVE_TTL_SECONDS, self._guard)
        if routed.status is MailStatus.MX:
            return MailDomain(domain, MailStatus.IMPLICIT_MX, routed.hosts, routed.ttl_seconds)
        return routed

    async def _addresses(self, name: str) -> tuple[str, ...]:
        """A then AAAA addresses of a host; none when it has none; _Transient when DNS cannot tell."""
        found: list[str] = []
        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                answer = await self._resolver.resolve(name, rdtype, search=False)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except dns.exception.DNSException as exc:
                raise _Transient from exc
            found += [r.address for r in answer]
        return tuple(found)


@functools.lru_cache(maxsize=4096)
def _domain_name(domain: str) -> str:
    """The domain in the ASCII form DNS uses (IDNA for Unicode names); the value stays out of the message. Kept for
    the names seen last (a pure function: parsing the name cost a cached routing's lookup more than the lookup)."""
    text = domain.strip().rstrip(".")
    try:
        name = dns.name.from_text(text) if text else None
    except dns.exception.DNSException:
        name = None
    if name is None or len(name.labels) < 3:  # at least two labels and the root: no bare TLDs
        raise ValueError("domain: not a valid domain name")
    return name.to_text(omit_final_dot=True).lower()


def _routing(domain: str, hosts: list[tuple[str, int, tuple[str, ...]]], ttl: int, guard: AddressGuard) -> MailDomain:
    """Hosts with the addresses the guard allows; the status says why there are none when there are none."""
    usable = []
    guarded = False
    for name, preference, addresses in hosts:
        allowed = tuple(a for a in addresses if guard.allows(a))
        guarded = guarded or len(allowed) < len(addresses)
        if allowed:
            usable.append(MailHost(name, preference, allowed))
    if usable:
        return MailDomain(domain, MailStatus.MX, tuple(usable), ttl)
    status = MailStatus.GUARDED if guarded else MailStatus.DEAD_MX
    return MailDomain(domain, status, (), min(ttl, NEGATIVE_TTL_SECONDS))


def _clamp(ttl: int) -> int:
    return max(MIN_TTL_SECONDS, min(MAX_TTL_SECONDS, ttl))
