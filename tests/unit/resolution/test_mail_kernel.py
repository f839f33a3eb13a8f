"""The address guard, nameserver parsing and the TTL cache behind MX and catch-all answers."""

from __future__ import annotations

import pytest

from contactvault.server.clock import FakeClock
from contactvault.server.worker.mail.cache import TtlCache
from contactvault.server.worker.mail.dns import Nameserver, parse_nameservers
from contactvault.server.worker.mail.guard import AddressGuard

REFUSED_ALWAYS = [
    "10.0.0.1",  # private
    "172.16.5.4",
    "192.168.1.1",
    "169.254.169.254",  # link-local: the cloud metadata service
    "100.64.0.1",  # shared address space (CGN)
    "0.0.0.0",
    "224.0.0.1",  # multicast
    "192.0.2.10",  # documentation
    "fe80::1",  # IPv6 link-local
    "fc00::1",  # IPv6 unique local
    "::1",  # IPv6 loopback: refused even when loopback is allowed (the world is IPv4)
    "::ffff:10.0.0.1",  # IPv4-mapped IPv6
    "::ffff:8.8.8.8",
    "2002:a00:1::1",  # 6to4 wrapping 10.0.0.1
    "not-an-address",
]


@pytest.mark.parametrize("address", REFUSED_ALWAYS)
def test_non_global_addresses_are_refused(address: str) -> None:
    assert not AddressGuard().allows(address)
    assert not AddressGuard(allow_loopback=True).allows(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "2a00:1450:4001:80b::201a"])
def test_global_addresses_are_allowed(address: str) -> None:
    assert AddressGuard().allows(address)


def test_loopback_is_allowed_only_when_switched_on() -> None:
    assert not AddressGuard().allows("127.0.0.2")
    assert AddressGuard(allow_loopback=True).allows("127.0.0.2")


def test_nameservers_parse_with_and_without_ports() -> None:
    assert parse_nameservers("127.0.0.1:5353, 192.0.2.53,[::1]:53,[2001:db8::1]") == (
        Nameserver("127.0.0.1", 5353),
        Nameserver("192.0.2.53", 53),
        Nameserver("::1", 53),
        Nameserver("2001:db8::1", 53),
    )
    assert parse_nameservers("") == ()


def test_the_ttl_cache_forgets_at_expiry_and_stays_bounded() -> None:
    clock = FakeClock()
    cache: TtlCache[str, int] = TtlCache(clock, max_entries=2)
    cache.put("a", 1, 10)
    cache.put("zero", 0, 0)  # nothing stored for a TTL of 0
    assert cache.get("zero") is None
    clock.advance(9.9)
    assert cache.get("a") == 1
    clock.advance(0.1)
    assert cache.get("a") is None
    cache.put("b", 2, 10)
    cache.put("c", 3, 10)
    cache.put("d", 4, 10)
    assert (cache.get("b"), cache.get("c"), cache.get("d")) == (None, 3, 4)
    assert len(cache) == 2
