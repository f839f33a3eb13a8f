"""Building the pattern resolver over a running mail world (tests only)."""

from __future__ import annotations

import random
from typing import Any

from contactvault.server.clock import FakeClock
from contactvault.server.demo.mailworld import MailWorld
from contactvault.server.domain.scoring import VerificationMin
from contactvault.server.runtime import Runtime
from contactvault.server.worker.mail.dns import MailDns
from contactvault.server.worker.mail.politeness import InProcessLimiter
from contactvault.server.worker.mail.smtp import ProbeConfig, SmtpProber
from contactvault.server.worker.resolvers.evidence import VaultEvidence
from contactvault.server.worker.resolvers.pattern import PatternResolver
from tests.integration.mail.conftest import world_settings


def pattern_resolver(
    rt: Runtime, world: MailWorld, clock: FakeClock, limiter: InProcessLimiter | None = None, **overrides: Any
) -> PatternResolver:
    """The resolver on ``rt``'s database, DNS and SMTP pointed at ``world`` (``smtp_probe=False`` for DNS only)."""
    settings = world_settings(world, **overrides)
    config = ProbeConfig.from_settings(settings)
    prober = SmtpProber(config, clock, random.Random(7), limiter) if config is not None else None
    return PatternResolver(
        rt.db,
        rt.cipher,
        clock,
        MailDns.from_settings(settings, clock),
        VaultEvidence(rt.db, rt.cipher, clock, 600),
        prober,
        inference=settings.inference,
        greylist_retry_after=float(settings.greylist_retry_after),
        verification_min=VerificationMin(settings.verification_min),
    )
