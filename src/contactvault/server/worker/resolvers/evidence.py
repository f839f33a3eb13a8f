"""A company domain's learnt address patterns, from the vault's imported addresses there (cached per domain).

The addresses are opened with the cipher in the worker, matched to their owner's name forms and fed to
``patterns.learn`` as corroborated evidence; an address that is not at the domain (a personal address imported for
someone at the company), a value no key opens, or a name with no ASCII spelling is skipped, never an error.
"""

from __future__ import annotations

import logging

from contactvault.server.clock import Clock
from contactvault.server.crypto import Cipher
from contactvault.server.db.engine import Database
from contactvault.server.db.evidence import KnownAddress, colleagues, known_addresses
from contactvault.server.domain.candidates import IneligibleDomain, rank_candidates
from contactvault.server.domain.names import NameForm, UnusableName, name_forms, parse_name
from contactvault.server.domain.patterns import DomainPatterns, Evidence, learn
from contactvault.server.worker.mail.cache import TtlCache

log = logging.getLogger("contactvault.worker")


def forms_of(full_name: str) -> tuple[NameForm, ...]:
    """The name's ASCII spellings; none when it has no letter that can be spelt."""
    try:
        return name_forms(parse_name(full_name))
    except UnusableName:
        return ()


class VaultEvidence:
    """Per-process cache of each domain's learnt patterns, refreshed after ``ttl_seconds``."""

    def __init__(self, db: Database, cipher: Cipher, clock: Clock, ttl_seconds: float) -> None:
        self.db = db
        self.cipher = cipher
        self.ttl_seconds = ttl_seconds
        self._cache: TtlCache[str, DomainPatterns] = TtlCache(clock)
        self._claims: TtlCache[str, dict[str, frozenset[int]]] = TtlCache(clock)
        self.reads = 0  # database reads made (the cache's hit rate is visible to tests)

    def patterns(self, domain: str) -> DomainPatterns:
        """The domain's pattern distribution (the global prior alone when the vault knows nobody there)."""
        key = domain.strip().rstrip(".").lower()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        with self.db.read() as conn:
            rows = known_addresses(conn, key)
        self.reads += 1
        learnt = learn(self.evidence(key, rows))
        self._cache.put(key, learnt, self.ttl_seconds)
        return learnt

    def evidence(self, domain: str, rows: list[KnownAddress]) -> list[Evidence]:
        """The rows that are addresses at ``domain``, as corroborated evidence."""
        found: list[Evidence] = []
        unreadable = 0
        for row in rows:
            try:
                value = self.cipher.open(row.value_encrypted)
            except Exception:  # a value sealed under a retired key: not evidence, and never logged
                unreadable += 1
                continue
            local_part, at, value_domain = value.strip().lower().rpartition("@")
            forms = forms_of(row.full_name)
            if at and value_domain == domain and local_part and forms:
                found.append(Evidence(row.personnel_id, forms, local_part, corroborated=True))
        if unreadable:
            log.warning("pattern evidence: %d stored values at one domain could not be opened", unreadable)
        return found

    def claimants(self, domain: str) -> dict[str, frozenset[int]]:
        """Per address at ``domain``, the people it could belong to: a person whose address the vault holds claims
        that address only; anyone else every address among their ranked candidates. Cached like the patterns."""
        key = domain.strip().rstrip(".").lower()
        cached = self._claims.get(key)
        if cached is not None:
            return cached
        patterns = self.patterns(key)
        with self.db.read() as conn:
            rows = known_addresses(conn, key)
            people = colleagues(conn, key)
        held = {e.owner: e.local_part for e in self.evidence(key, rows)}
        claims: dict[str, set[int]] = {}
        for personnel_id, full_name in people:
            if personnel_id in held:
                addresses = [f"{held[personnel_id]}@{key}"]
            else:
                try:
                    ranked = rank_candidates(forms_of(full_name), key, patterns, owner=personnel_id)
                except IneligibleDomain:
                    ranked = ()
                addresses = [c.address for c in ranked]
            for address in addresses:
                claims.setdefault(address, set()).add(personnel_id)
        frozen = {address: frozenset(ids) for address, ids in claims.items()}
        self._claims.put(key, frozen, self.ttl_seconds)
        return frozen
