"""MX lookups through real DNS (a dnslib server on loopback): every routing case, the guard, the TTL cache."""

from __future__ import annotations

import socket

import pytest

from contactvault.server.clock import FakeClock
from contactvault.server.config import Settings
from contactvault.server.demo.mailworld import MailWorld
from contactvault.server.worker.mail.dns import MailDns, MailHost, MailStatus, Nameserver
from contactvault.server.worker.mail.guard import AddressGuard
from tests.integration.mail.conftest import OffLoopbackTraffic, world_settings

EXPECTED = [
    ("normal.test", MailStatus.MX),
    ("nomx.invalid", MailStatus.NO_DOMAIN),
    ("nullmx.test", MailStatus.NULL_MX),
    ("implicit.test", MailStatus.IMPLICIT_MX),
    ("nomail.test", MailStatus.NO_MAIL),
    ("deadmx.test", MailStatus.DEAD_MX),
    ("dnsdown.test", MailStatus.TRANSIENT),
    ("private.test", MailStatus.GUARDED),
    ("metadata.test", MailStatus.GUARDED),
    ("mapped.test", MailStatus.GUARDED),
]


@pytest.mark.parametrize(("domain", "status"), EXPECTED)
def test_each_simulated_domain_gets_its_routing(run_world, clock: FakeClock, domain: str, status: MailStatus) -> None:
    async def scenario(world: MailWorld) -> None:
        dns = MailDns.from_settings(world_settings(world), clock)
        answer = await dns.mail_domain(domain)
        assert answer.status is status
        assert answer.status.accepts_mail == (status in (MailStatus.MX, MailStatus.IMPLICIT_MX))
        assert (domain, "MX") in world.recorder.dns_queries  # the question really went to the zone server
        assert world.recorder.connections == []  # DNS alone never touches SMTP

    run_world(scenario)


def test_mx_hosts_come_in_preference_order_with_their_addresses(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        dns = MailDns.from_settings(world_settings(world), clock)
        answer = await dns.mail_domain("TwoMX.test.")
        assert answer.domain == "twomx.test"
        assert answer.hosts == (
            MailHost("mx1.twomx.test", 10, ("127.0.0.7",)),
            MailHost("mx2.twomx.test", 20, ("127.0.0.8",)),
        )
        implicit = await dns.mail_domain("implicit.test")
        assert implicit.hosts == (MailHost("implicit.test", 0, ("127.0.0.6",)),)

    run_world(scenario)


def test_loopback_mx_targets_are_refused_unless_allowed(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        strict = MailDns.from_settings(world_settings(world, mail_allow_loopback=False), clock)
        assert (await strict.mail_domain("normal.test")).status is MailStatus.GUARDED
        assert (await strict.mail_domain("implicit.test")).status is MailStatus.GUARDED
        allowed = MailDns.from_settings(world_settings(world, mail_allow_loopback=True), clock)
        assert (await allowed.mail_domain("normal.test")).status is MailStatus.MX
        assert world.recorder.connections == []

    run_world(scenario)


def test_the_loopback_switch_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTACTVAULT_MAIL_ALLOW_LOOPBACK", raising=False)
    assert Settings().mail_allow_loopback is False
    monkeypatch.setenv("CONTACTVAULT_MAIL_ALLOW_LOOPBACK", "1")
    assert Settings().mail_allow_loopback is True


def test_answers_are_cached_for_their_ttl(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        dns = MailDns.from_settings(world_settings(world), clock)
        first = await dns.mail_domain("normal.test")
        asked = len(world.recorder.dns_queries)
        assert asked >= 2  # MX, then the host's address records
        clock.advance(first.ttl_seconds - 1)
        assert await dns.mail_domain("normal.test") == first
        assert await dns.mail_domain("nomx.invalid") is not None
        negative_asked = len(world.recorder.dns_queries)
        assert negative_asked == asked + 1  # only the new domain was asked
        assert (await dns.mail_domain("nomx.invalid")).status is MailStatus.NO_DOMAIN
        assert len(world.recorder.dns_queries) == negative_asked  # NXDOMAIN is cached too
        clock.advance(2)
        await dns.mail_domain("normal.test")
        assert len(world.recorder.dns_queries) == negative_asked + asked  # expired: asked again

    run_world(scenario)


def test_a_transient_answer_is_never_cached(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        dns = MailDns.from_settings(world_settings(world), clock)
        assert (await dns.mail_domain("dnsdown.test")).status is MailStatus.TRANSIENT
        asked = world.recorder.dns_queries.count(("dnsdown.test", "MX"))
        assert (await dns.mail_domain("dnsdown.test")).status is MailStatus.TRANSIENT
        assert world.recorder.dns_queries.count(("dnsdown.test", "MX")) > asked

    run_world(scenario)


def test_a_nameserver_that_never_answers_is_transient(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        silent = MailDns((Nameserver("127.0.0.1", world.silent_dns_port),), AddressGuard(True), clock, 0.3)
        assert (await silent.mail_domain("normal.test")).status is MailStatus.TRANSIENT
        assert world.recorder.dns_queries == []  # the zone server was never asked

    run_world(scenario)


def test_no_nameserver_means_no_dns_at_all(clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="mail_dns_servers"):
        MailDns((), AddressGuard(), clock)


def test_the_guard_fixture_stops_traffic_off_loopback(loopback_only) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(OffLoopbackTraffic):
            sock.connect(("192.0.2.1", 53))
        with pytest.raises(OffLoopbackTraffic):
            socket.getaddrinfo("example.com", 25)
    finally:
        sock.close()
    assert loopback_only.offences == ["socket.connect to 192.0.2.1", "getaddrinfo for 'example.com'"]
    loopback_only.offences.clear()  # expected here; any other test with offences fails


@pytest.mark.parametrize("domain", ["", "a..b", "-" * 64 + ".test"])
def test_a_malformed_domain_is_refused_by_name_without_asking_dns(run_world, clock: FakeClock, domain: str) -> None:
    async def scenario(world: MailWorld) -> None:
        dns = MailDns.from_settings(world_settings(world), clock)
        with pytest.raises(ValueError, match=r"^domain: ") as refused:
            await dns.mail_domain(domain)
        assert domain not in str(refused.value) or domain == ""
        assert world.recorder.dns_queries == []

    run_world(scenario)
