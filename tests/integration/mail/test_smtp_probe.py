"""The SMTP probe against every simulated MX: verdicts, and exactly which connections and commands each saw."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from contactvault.server.clock import FakeClock
from contactvault.server.demo.mailworld import TARPIT_ADDRESS, MailWorld
from contactvault.server.domain.smtp_replies import ReplyClass
from contactvault.server.worker.mail.dns import MailDns, MailDomain, MailHost, MailStatus
from contactvault.server.worker.mail.politeness import InProcessLimiter, PolitenessDeferred, ProviderLimits
from contactvault.server.worker.mail.smtp import CatchAll, ProbeConfig, ProbeReport, SessionEnd, SmtpProber
from tests.integration.mail.conftest import FakeTime, world_settings

HELO = "probe.contactvault.test"
FROM = "verify@contactvault.test"


class Probe:
    """DNS + prober over one world, as the resolver will use them."""

    def __init__(self, world: MailWorld, clock: FakeClock, limiter: InProcessLimiter | None = None, **settings):
        config = world_settings(world, **settings)
        self.world = world
        self.dns = MailDns.from_settings(config, clock)
        probe_config = ProbeConfig.from_settings(config)
        assert probe_config is not None
        self.prober = SmtpProber(probe_config, clock, random.Random(7), limiter)

    async def __call__(self, domain: str, *candidates: str) -> ProbeReport:
        return await self.prober.probe(await self.dns.mail_domain(domain), candidates)


def classes(report: ProbeReport) -> list[tuple[str, ReplyClass]]:
    return [(r.address, r.reply_class) for r in report.results]


def verbs(world: MailWorld, server: str) -> list[str]:
    return [e.command for e in world.recorder.commands(server)]


def test_a_known_person_on_a_normal_domain(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        report = await Probe(world, clock)("normal.test", "a.lovelace@normal.test", "ada.lovelace@normal.test")
        assert report.end is SessionEnd.COMPLETED
        assert report.catch_all is CatchAll.NO
        assert classes(report) == [
            ("a.lovelace@normal.test", ReplyClass.MAILBOX_UNKNOWN),
            ("ada.lovelace@normal.test", ReplyClass.ACCEPTED),
        ]
        assert report.mx_host == "mx.normal.test"
        assert world.recorder.connections_to("127.0.0.2") == 1
        # probe, then each candidate in its own transaction; never DATA (checked for every test)
        assert verbs(world, "127.0.0.2") == [
            "EHLO",
            "MAIL",
            "RCPT",
            "RSET",
            "MAIL",
            "RCPT",
            "RSET",
            "MAIL",
            "RCPT",
            "QUIT",
        ]
        events = world.recorder.commands("127.0.0.2")
        assert {e.helo for e in events} == {HELO}
        assert {e.argument for e in events if e.command == "MAIL"} == {FROM}
        probe_rcpt = world.recorder.commands("127.0.0.2", "RCPT")[0].argument
        assert probe_rcpt.endswith("@normal.test")
        assert probe_rcpt.partition("@")[0] not in ("ada.lovelace", "a.lovelace")

    run_world(scenario)


def test_the_probe_stops_at_the_first_accepted_candidate(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        report = await Probe(world, clock)(
            "normal.test", "ada.lovelace@normal.test", "alan.turing@normal.test", "grace.hopper@normal.test"
        )
        assert classes(report) == [("ada.lovelace@normal.test", ReplyClass.ACCEPTED)]
        assert len(world.recorder.commands("127.0.0.2", "RCPT")) == 2  # the catch-all probe + one candidate

    run_world(scenario)


def test_nobody_on_a_normal_domain_is_asked_about_at_most_max_candidates(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        guesses = [f"nobody{i}@normal.test" for i in range(6)]
        report = await Probe(world, clock, smtp_max_candidates=3)("normal.test", *guesses)
        assert report.end is SessionEnd.COMPLETED
        assert classes(report) == [(g, ReplyClass.MAILBOX_UNKNOWN) for g in guesses[:3]]
        assert len(world.recorder.commands("127.0.0.2", "RCPT")) == 4
        assert world.recorder.connections_to("127.0.0.2") == 1

    run_world(scenario)


def test_a_catch_all_domain_is_never_asked_about_candidates(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        probe = Probe(world, clock)
        report = await probe("catchall.test", "ada.lovelace@catchall.test")
        assert report.catch_all is CatchAll.YES
        assert report.end is SessionEnd.COMPLETED
        assert report.results == ()
        assert verbs(world, "127.0.0.3") == ["EHLO", "MAIL", "RCPT", "QUIT"]
        # The verdict is cached: a second person at the domain costs no session at all.
        again = await probe("catchall.test", "alan.turing@catchall.test")
        assert again.catch_all is CatchAll.YES
        assert again.connections == 0
        assert world.recorder.connections_to("127.0.0.3") == 1

    run_world(scenario)


def test_the_catch_all_verdict_is_probed_once_per_ttl(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        probe = Probe(world, clock, smtp_catch_all_ttl_seconds=3600)
        await probe("normal.test", "ada.lovelace@normal.test")
        second = await probe("normal.test", "alan.turing@normal.test")
        assert second.catch_all is CatchAll.NO
        assert [e.argument for e in world.recorder.commands("127.0.0.2", "RCPT")][2:] == ["alan.turing@normal.test"]
        clock.advance(3601)
        await probe("normal.test", "grace.hopper@normal.test")
        assert len(world.recorder.commands("127.0.0.2", "RCPT")) == 5  # expired: probed again

    run_world(scenario)


def test_greylisting_is_temporary_then_passes_on_the_retry(
    run_world, clock: FakeClock, greylist_time: FakeTime
) -> None:
    async def scenario(world: MailWorld) -> None:
        probe = Probe(world, clock)
        first = await probe("grey.test", "a.lovelace@grey.test", "ada.lovelace@grey.test")
        assert first.end is SessionEnd.TEMPORARY
        assert first.catch_all is CatchAll.UNKNOWN
        assert {r.reply_class for r in first.results} == {ReplyClass.TEMPORARY}  # never a verdict
        assert len(first.results) == 2  # both candidates asked, so the greylister's clock runs for both
        greylist_time.now += 61
        second = await probe("grey.test", "a.lovelace@grey.test", "ada.lovelace@grey.test")
        assert second.end is SessionEnd.COMPLETED
        assert second.catch_all is CatchAll.NO
        assert classes(second) == [
            ("a.lovelace@grey.test", ReplyClass.MAILBOX_UNKNOWN),
            ("ada.lovelace@grey.test", ReplyClass.ACCEPTED),
        ]
        rcpts = [e.argument for e in world.recorder.commands("127.0.0.4", "RCPT")]
        assert rcpts[0] == rcpts[3]  # the same probe address both times (a new one would be greylisted again)
        assert world.recorder.connections_to("127.0.0.4") == 2

    run_world(scenario)


def test_a_tarpit_is_cut_at_the_session_deadline_and_blocks_nobody_else(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        probe = Probe(world, clock, smtp_session_seconds=0.5)
        slow, normal = await asyncio.gather(
            probe("slow.test", "ada.lovelace@slow.test"), probe("normal.test", "ada.lovelace@normal.test")
        )
        assert slow.end is SessionEnd.DEADLINE
        assert slow.results == ()
        assert world.recorder.connections_to(TARPIT_ADDRESS) == 1
        # The cut session's socket is closed, not left to the garbage collector (poll: the close is async).
        deadline = asyncio.get_running_loop().time() + 2.0
        while world.recorder.tarpit_hangups == 0 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)  # polling the server's hang-up with a deadline
        assert world.recorder.tarpit_hangups == 1
        assert normal.end is SessionEnd.COMPLETED
        assert classes(normal) == [("ada.lovelace@normal.test", ReplyClass.ACCEPTED)]

    run_world(scenario)


@pytest.mark.parametrize("domain", ["nomx.invalid", "nullmx.test", "nomail.test", "deadmx.test", "private.test"])
def test_domains_without_a_reachable_mx_get_no_smtp_at_all(run_world, clock: FakeClock, domain: str) -> None:
    async def scenario(world: MailWorld) -> None:
        report = await Probe(world, clock)(domain, f"ada.lovelace@{domain}")
        assert report.end is SessionEnd.NO_ROUTE
        assert report.connections == 0
        assert world.recorder.connections == []
        assert world.recorder.events == []

    run_world(scenario)


def test_dns_down_gets_no_smtp_and_says_transient(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        probe = Probe(world, clock)
        domain = await probe.dns.mail_domain("dnsdown.test")
        assert domain.status is MailStatus.TRANSIENT
        report = await probe.prober.probe(domain, ["ada.lovelace@dnsdown.test"])
        assert report.end is SessionEnd.NO_ROUTE
        assert world.recorder.connections == []

    run_world(scenario)


def test_the_implicit_mx_is_probed_on_the_domains_own_address(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        report = await Probe(world, clock)("implicit.test", "ada.lovelace@implicit.test")
        assert classes(report) == [("ada.lovelace@implicit.test", ReplyClass.ACCEPTED)]
        assert report.mx_host == "implicit.test"
        assert world.recorder.connections_to("127.0.0.6") == 1

    run_world(scenario)


def test_a_refused_connection_with_no_other_mx_is_a_network_failure(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        report = await Probe(world, clock)("refused.test", "ada.lovelace@refused.test")
        assert report.end is SessionEnd.NETWORK
        assert report.connections == 1
        assert report.results == ()
        assert world.recorder.connections == []

    run_world(scenario)


def test_a_refused_first_mx_falls_back_to_the_second(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        report = await Probe(world, clock)("twomx.test", "ada.lovelace@twomx.test")
        assert report.end is SessionEnd.COMPLETED
        assert report.mx_host == "mx2.twomx.test"
        assert report.connections == 2
        assert classes(report) == [("ada.lovelace@twomx.test", ReplyClass.ACCEPTED)]
        assert world.recorder.connections_to("127.0.0.8") == 1

    run_world(scenario)


def test_a_policy_block_is_never_a_verdict_and_backs_off_the_provider(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        limiter = InProcessLimiter(ProviderLimits(concurrency=1, gap_seconds=0, budget=100, window_seconds=60))
        probe = Probe(world, clock, limiter)
        report = await probe("blocked.test", "ada.lovelace@blocked.test")
        assert report.end is SessionEnd.POLICY_BLOCK
        assert report.catch_all is CatchAll.UNKNOWN
        assert report.results == ()  # the probe RCPT was refused for policy: no candidate was asked
        assert verbs(world, "127.0.0.9") == ["EHLO", "MAIL", "RCPT", "QUIT"]
        with pytest.raises(PolitenessDeferred) as deferred:
            await probe("blocked.test", "alan.turing@blocked.test")
        assert deferred.value.key == "blocked.test"
        assert deferred.value.retry_after > 3000
        assert world.recorder.connections_to("127.0.0.9") == 1

    run_world(scenario)


def test_microsoft_style_edge_blocking_reads_as_an_unknown_mailbox(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        report = await Probe(world, clock)("dbeb.test", "a.lovelace@dbeb.test", "ada.lovelace@dbeb.test")
        assert report.catch_all is CatchAll.NO  # the probe's 550 5.4.1 Access denied proved absence
        assert classes(report) == [
            ("a.lovelace@dbeb.test", ReplyClass.MAILBOX_UNKNOWN),
            ("ada.lovelace@dbeb.test", ReplyClass.ACCEPTED),
        ]
        assert world.recorder.commands("127.0.0.10", "RCPT")[0].reply.startswith("550 5.4.1")
        assert world.recorder.connections_to("127.0.0.10") == 1
        assert len(world.recorder.commands("127.0.0.10", "RCPT")) == 3

    run_world(scenario)


def test_a_one_recipient_server_answers_every_rcpt_because_of_rset(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        report = await Probe(world, clock)("onercpt.test", "a.lovelace@onercpt.test", "ada.lovelace@onercpt.test")
        assert report.catch_all is CatchAll.NO
        assert classes(report) == [
            ("a.lovelace@onercpt.test", ReplyClass.MAILBOX_UNKNOWN),
            ("ada.lovelace@onercpt.test", ReplyClass.ACCEPTED),
        ]
        assert not any(e.reply.startswith("452") for e in world.recorder.commands("127.0.0.11", "RCPT"))
        assert verbs(world, "127.0.0.11").count("RSET") == 2

    run_world(scenario)


def test_a_full_mailbox_exists_but_is_not_accepted(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        report = await Probe(world, clock)("full.test", "ada.lovelace@full.test")
        assert report.end is SessionEnd.COMPLETED
        assert report.catch_all is CatchAll.NO
        assert classes(report) == [("ada.lovelace@full.test", ReplyClass.MAILBOX_FULL)]
        assert world.recorder.connections_to("127.0.0.12") == 1
        assert verbs(world, "127.0.0.12") == ["EHLO", "MAIL", "RCPT", "RSET", "MAIL", "RCPT", "QUIT"]

    run_world(scenario)


def test_probing_is_off_by_default_and_refuses_to_run_half_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    from contactvault.server.config import Settings
    from contactvault.server.worker.mail.smtp import ProbeConfigError

    for name in ("SMTP_PROBE", "SMTP_HELO", "SMTP_MAIL_FROM"):
        monkeypatch.delenv(f"CONTACTVAULT_{name}", raising=False)
    assert ProbeConfig.from_settings(Settings()) is None
    with pytest.raises(ProbeConfigError, match="CONTACTVAULT_SMTP_HELO"):
        ProbeConfig.from_settings(Settings(smtp_probe=True, smtp_mail_from=FROM))
    with pytest.raises(ProbeConfigError, match="CONTACTVAULT_SMTP_MAIL_FROM"):
        ProbeConfig.from_settings(Settings(smtp_probe=True, smtp_helo=HELO))
    with pytest.raises(ProbeConfigError, match="CONTACTVAULT_SMTP_MAIL_FROM must be a mailbox"):
        ProbeConfig.from_settings(Settings(smtp_probe=True, smtp_helo=HELO, smtp_mail_from="contactvault.test"))
    config = ProbeConfig.from_settings(Settings(smtp_probe=True, smtp_helo=HELO, smtp_mail_from=FROM))
    assert config is not None
    assert (config.helo, config.mail_from, config.port) == (HELO, FROM, 25)


def test_sessions_to_one_provider_never_overlap_beyond_its_limit(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        limiter = InProcessLimiter(ProviderLimits(concurrency=1, gap_seconds=0.01, budget=100, max_wait_seconds=5.0))
        probe = Probe(world, clock, limiter)
        people = ["ada.lovelace", "alan.turing", "grace.hopper", "nobody"]
        reports = await asyncio.gather(*(probe("normal.test", f"{p}@normal.test") for p in people))
        assert [r.end for r in reports] == [SessionEnd.COMPLETED] * 4
        events = world.recorder.commands("127.0.0.2")
        sessions = [
            (e.at, q.at)
            for e, q in zip(
                [e for e in events if e.command == "EHLO"], [e for e in events if e.command == "QUIT"], strict=True
            )
        ]
        assert len(sessions) == 4
        # One session at a time: each begins after the previous one said QUIT.
        assert all(later[0] > earlier[1] for earlier, later in itertools.pairwise(sessions))

    run_world(scenario)


def test_the_prober_itself_refuses_a_non_global_address_handed_to_it(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        # A routing that did not come from MailDns (a stale or tampered cache row) is checked again.
        hostile = MailDomain(
            "hostile.test",
            MailStatus.MX,
            (MailHost("mx.hostile.test", 10, ("10.0.0.1", "169.254.169.254")),),
        )
        report = await Probe(world, clock).prober.probe(hostile, ["ada.lovelace@hostile.test"])
        assert report.end is SessionEnd.NO_ROUTE
        assert report.connections == 0

    run_world(scenario)


def test_loopback_is_refused_by_the_prober_unless_allowed(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        allowed = Probe(world, clock)
        routing = await allowed.dns.mail_domain("normal.test")
        strict = Probe(world, clock, mail_allow_loopback=False)
        report = await strict.prober.probe(routing, ["ada.lovelace@normal.test"])
        assert report.end is SessionEnd.NO_ROUTE
        assert world.recorder.connections == []

    run_world(scenario)


@pytest.mark.parametrize(
    "candidate",
    [
        "ada.lovelace@normal.test>\r\nDATA",  # a line break would smuggle a command into the session
        "ada.lovelace@normal.test> NOTIFY=NEVER",
        "ada lovelace@normal.test",
        "<ada.lovelace@normal.test>",
        "ada.lovelace@other.test",  # another domain: that would be a relay attempt through this MX
        "ada.lovelace",
        "@normal.test",
    ],
)
def test_a_malformed_candidate_is_refused_before_any_connection(run_world, clock: FakeClock, candidate: str) -> None:
    async def scenario(world: MailWorld) -> None:
        probe = Probe(world, clock)
        with pytest.raises(ValueError, match=r"^candidates\[1\]: ") as refused:
            await probe("normal.test", "alan.turing@normal.test", candidate)
        assert candidate not in str(refused.value)
        assert world.recorder.connections == []

    run_world(scenario)


def test_a_busy_provider_is_temporary_and_left_alone_for_a_while(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        limiter = InProcessLimiter(ProviderLimits(concurrency=1, gap_seconds=0, budget=100, window_seconds=60))
        probe = Probe(world, clock, limiter)
        report = await probe("busy.test", "ada.lovelace@busy.test")
        assert report.end is SessionEnd.BUSY
        assert report.results == ()
        with pytest.raises(PolitenessDeferred) as deferred:
            await probe("busy.test", "alan.turing@busy.test")
        assert 200 < deferred.value.retry_after <= 300
        assert world.recorder.connections_to("127.0.0.13") == 1
        assert verbs(world, "127.0.0.13") == ["EHLO", "MAIL", "RCPT"]  # a 421 closes the session: no QUIT

    run_world(scenario)


def test_a_private_mx_beside_a_public_one_is_skipped_without_a_connection(run_world, clock: FakeClock) -> None:
    async def scenario(world: MailWorld) -> None:
        probe = Probe(world, clock)
        routing = await probe.dns.mail_domain("mixed.test")
        assert [h.name for h in routing.hosts] == ["mx.normal.test"]  # mx.private.test (10.0.0.1) dropped
        report = await probe.prober.probe(routing, ["ada.lovelace@mixed.test"])
        assert report.connections == 1
        assert report.mx_host == "mx.normal.test"
        assert world.recorder.connections_to("127.0.0.2") == 1

    run_world(scenario)


def test_a_probe_config_built_by_hand_still_needs_helo_and_mail_from() -> None:
    from contactvault.server.worker.mail.smtp import ProbeConfigError

    with pytest.raises(ProbeConfigError, match=r"^helo: "):
        ProbeConfig(" ", FROM)
    with pytest.raises(ProbeConfigError, match=r"^mail_from: "):
        ProbeConfig(HELO, "")
    with pytest.raises(ProbeConfigError, match=r"^mail_from: "):
        ProbeConfig(HELO, "verify@contactvault.test>\r\nDATA")
    assert ProbeConfig(HELO, FROM).helo == HELO
