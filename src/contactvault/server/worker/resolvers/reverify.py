"""Re-verification of stale vault emails (docs/resolution.md, "Re-verification"): with SMTP probing on, an email
the vault found whose ``checked_at`` is older than ``CONTACTVAULT_REVERIFY_AFTER_DAYS`` is probed again before it
is delivered, in one polite session like the pattern resolver's.

- mailbox unknown or disabled (5.1.x): the contact point is stored ``invalid`` (the vault never reveals it again)
  and the vault answers NOT_FOUND, so the chain goes on to the pattern resolver and the providers;
- accepted: ``valid`` (the domain refused a random address) or ``accept_all`` (it accepted it) is stored with a
  fresh ``checked_at`` and delivered;
- anything else (greylisting, a politeness limit, DNS trouble, policy block, deadline): delivered with the stored
  verification, as before re-verification existed. Not deferred: the value is the operator's own import, and holding
  a vault delivery for minutes because a server greylists would make the engine worse than no engine.

A value whose address or domain is on the opt-out list is never probed: it ends ``INELIGIBLE`` (as the record step
would end it), with no DNS or SMTP traffic.

A value with no ``checked_at`` is not re-verified: its age is unknown, and probing every such import at the first
unlock after probing is turned on would be a burst against every mail provider; re-verify them deliberately.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta

from contactvault.server.clock import Clock
from contactvault.server.crypto import Cipher
from contactvault.server.db.contact_points import INVALID, set_verification
from contactvault.server.db.engine import Database
from contactvault.server.domain.resolution import INELIGIBLE, NOT_FOUND, Outcome, Resolution
from contactvault.server.domain.smtp_replies import ReplyClass
from contactvault.server.services.suppressions import address_hashes, has_suppressions, suppressed_hashes
from contactvault.server.worker.mail.dns import MailDns
from contactvault.server.worker.mail.politeness import PolitenessDeferred
from contactvault.server.worker.mail.smtp import CatchAll, SmtpProber

log = logging.getLogger("contactvault.worker")

# Scores stored with a re-verified value (the scale of domain/scoring.py: a proven mailbox, a catch-all at the
# delivery rule's threshold).
VALID_SCORE = 95
ACCEPT_ALL_SCORE = 60


class Reverifier:
    """Probes stale vault emails again; see the module docstring for the verdicts."""

    def __init__(
        self, db: Database, cipher: Cipher, clock: Clock, dns: MailDns, prober: SmtpProber, after_days: int
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.clock = clock
        self.dns = dns
        self.prober = prober
        self.after = timedelta(days=after_days)

    def is_stale(self, found: Resolution) -> bool:
        """Whether a found value's last check is known and older than the limit."""
        return found.checked_at is not None and found.checked_at < self.clock.now() - self.after

    async def check(self, personnel_id: int, found: Resolution) -> Resolution:
        """The resolution to deliver (refreshed, unchanged, or NOT_FOUND when the mailbox is gone)."""
        if found.outcome is not Outcome.FOUND or found.value_encrypted is None or not self.is_stale(found):
            return found
        address = self.cipher.open(found.value_encrypted)
        if self._opted_out(address):
            return INELIGIBLE  # never probed: the record step would refuse to reveal it anyway
        verdict = await self._verdict(address)
        if verdict is None:
            return found
        now = self.clock.now()
        if verdict == INVALID:
            with self.db.write() as conn:
                set_verification(conn, personnel_id, "email", INVALID, 0, now)
            log.info("re-verification: stored email of person %s refused by its mail server", personnel_id)
            return NOT_FOUND
        score = VALID_SCORE if verdict == "valid" else ACCEPT_ALL_SCORE
        with self.db.write() as conn:
            set_verification(conn, personnel_id, "email", verdict, score, now)
        return replace(found, verification_status=verdict, verification_score=score, checked_at=now)

    def _opted_out(self, address: str) -> bool:
        """Whether the address or its domain is on the opt-out list (checked before any DNS or SMTP traffic)."""
        with self.db.read() as conn:
            return has_suppressions(conn) and bool(
                suppressed_hashes(conn, list(address_hashes(self.cipher, "email", address)))
            )

    async def _verdict(self, address: str) -> str | None:
        """``valid``, ``accept_all``, ``invalid``, or None when the probe proved nothing."""
        routing = await self.dns.mail_domain(address.rpartition("@")[2])
        if not routing.status.accepts_mail:
            return None
        try:
            report = await self.prober.probe(routing, [address])
        except PolitenessDeferred:
            return None
        if report.catch_all is CatchAll.YES:
            return "accept_all"  # the server accepts any address (the prober asks no candidate then)
        if not report.results:
            return None
        reply_class = report.results[0].reply_class
        if reply_class.proves_absence:
            return INVALID
        if reply_class is ReplyClass.ACCEPTED:
            return "valid" if report.catch_all is CatchAll.NO else None
        return None
