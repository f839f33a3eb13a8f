"""The resolution benchmark's engine: the worker's own ``PatternResolver`` over a real database seeded from the
generated world (a temporary SQLite file: one event, the companies with their domains, the people, and the vault's
addresses as imported contact points), with the runtime and cipher ``bootstrap.build_runtime`` builds for the
worker. The bench only adds an observer (``ObservedResolver``) that notes each verdict before the delivery rule, so
that the calibration can also count the verdicts the rule does not deliver.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import insert

from bench._world import World
from contactvault.server.bootstrap import build_runtime
from contactvault.server.clock import SystemClock
from contactvault.server.config import Settings
from contactvault.server.db.tables import companies, contact_points, event_personnel, events, personnel
from contactvault.server.domain.resolution import Lookup, Resolution
from contactvault.server.domain.scoring import VerificationMin, score_candidate
from contactvault.server.runtime import Runtime
from contactvault.server.worker.mail.dns import MailDns
from contactvault.server.worker.mail.politeness import PolitenessLimiter
from contactvault.server.worker.mail.smtp import ProbeConfig, SmtpProber
from contactvault.server.worker.resolvers.evidence import VaultEvidence
from contactvault.server.worker.resolvers.pattern import PatternResolver, Verdict

EVENT = 1
HELO, MAIL_FROM = "probe.contactvault.test", "verify@contactvault.test"


def personnel_id(person_id: int) -> int:
    """The database id of the world's person ``person_id`` (ids start at 1 in the database)."""
    return person_id + 1


class ObservedResolver(PatternResolver):
    """The pattern resolver, noting per item the verdict it reached and its score before the delivery rule."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.judged: dict[int, tuple[Verdict, int]] = {}

    def _delivered(self, lookup: Lookup, verdict: Verdict | None) -> Resolution:
        if verdict is not None:
            self.judged[lookup.item_id] = (verdict, score_candidate(verdict.candidate, verdict.status))
        return super()._delivered(lookup, verdict)


def seed(rt: Runtime, world: World) -> None:
    """The world's companies, people and vault addresses, as an import would have stored them."""
    with rt.db.write() as conn:
        conn.execute(insert(events).values({"id": EVENT, "name": "Resolution bench"}))
        conn.execute(
            insert(companies),
            [{"id": c.index + 1, "name": f"Company {c.index}", "domain": c.domain} for c in world.companies],
        )
        conn.execute(
            insert(personnel),
            [{"id": personnel_id(p.id), "full_name": p.full_name, "company_id": p.company + 1} for p in world.people],
        )
        conn.execute(
            insert(event_personnel),
            [
                {"event_id": EVENT, "personnel_id": personnel_id(p.id), "source_types": "exhibitor"}
                for p in world.people
            ],
        )
        vault = [
            {
                "personnel_id": personnel_id(p.id),
                "channel": "email",
                "value_encrypted": rt.cipher.seal(p.address),
                "value_hash": rt.cipher.lookup_hash("email", p.address),
                "source": "import",
                "verification_status": "valid",
                "verification_score": 90,
            }
            for p in world.people
            if p.in_vault
        ]
        if vault:
            conn.execute(insert(contact_points), vault)


@contextmanager
def seeded_runtime(world: World, settings: dict[str, Any]) -> Iterator[Runtime]:
    """A migrated runtime on a temporary SQLite file holding the world, built as the worker builds its own."""
    with TemporaryDirectory(prefix="cv-bench-") as tmp:
        values = {
            "database_url": f"sqlite:///{Path(tmp) / 'bench.db'}",
            "encryption_key_file": Path(tmp) / "keys.json",
            **settings,
        }
        rt = build_runtime(Settings(**values))
        try:
            seed(rt, world)
            yield rt
        finally:
            rt.db.dispose()


def mail_settings(dns_servers: str, smtp_port: int, session_seconds: float, max_candidates: int) -> dict[str, Any]:
    """The worker's settings for probing the loopback world."""
    return {
        "mail_dns_servers": dns_servers,
        "mail_dns_timeout_seconds": 2.0,
        "mail_allow_loopback": True,
        "smtp_probe": True,
        "smtp_helo": HELO,
        "smtp_mail_from": MAIL_FROM,
        "smtp_port": smtp_port,
        "smtp_session_seconds": session_seconds,
        "smtp_max_candidates": max_candidates,
    }


def resolver(
    rt: Runtime, limiter: PolitenessLimiter, rng: random.Random, greylist_retry_after: float
) -> ObservedResolver:
    """The pattern resolver as ``PatternResolver.from_runtime`` builds it for one worker process (in-process
    politeness and caches), with the bench's recording limiter and a greylist delay shorter than the settings allow."""
    s = rt.settings
    config = ProbeConfig.from_settings(s)
    assert config is not None
    clock = SystemClock()
    return ObservedResolver(
        rt.db,
        rt.cipher,
        clock,
        MailDns.from_settings(s, clock),
        VaultEvidence(rt.db, rt.cipher, clock, s.pattern_evidence_ttl_seconds),
        SmtpProber(config, clock, rng, limiter),
        inference=s.inference,
        greylist_retry_after=greylist_retry_after,
        verification_min=VerificationMin(s.verification_min),
    )
