"""The backfill of canonical hashes: vault values stored before canonical forms get the second keyed hash.

A migration cannot compute it (the values are sealed and a migration has no keys), so ``contactvault admin
backfill-hashes`` does, in batches, after ``admin migrate``; it is idempotent (only rows without one are read) and
safe beside a running service (a row an import rewrote meanwhile keeps the import's hashes). For each value whose
legacy hash is on the opt-out list, the canonical hash is listed too (``suppressions.carry_over_opt_outs``), so an
opt-out recorded before the change blocks the value in its canonical form, whichever resolver finds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.fernet import InvalidToken

from contactvault.server.addresses import AddressError, canonical
from contactvault.server.db.contact_points import set_canonical_hashes, without_canonical_hash
from contactvault.server.runtime import Runtime
from contactvault.server.services.suppressions import carry_over_opt_outs

BATCH = 500


@dataclass(frozen=True, slots=True)
class BackfillReport:
    """What a backfill did: rows read, canonical hashes stored, values no key opens, opt-outs carried over."""

    scanned: int = 0
    hashed: int = 0
    unreadable: int = 0
    opt_outs_carried: int = 0


def backfill_canonical_hashes(rt: Runtime, batch: int = BATCH) -> BackfillReport:
    """Compute the canonical hash of every contact point that has none (a value with no canonical form, stored
    before the rules, keeps its legacy hash as its only form)."""
    scanned = hashed = unreadable = carried = 0
    last_id = 0
    while True:
        with rt.db.read() as conn:
            rows = without_canonical_hash(conn, last_id, batch)
        if not rows:
            return BackfillReport(scanned, hashed, unreadable, carried)
        last_id = rows[-1].row_id
        scanned += len(rows)
        computed: list[tuple[int, str, bytes, bytes]] = []
        for row in rows:
            try:
                value = rt.cipher.open(row.value_encrypted)
            except InvalidToken:
                unreadable += 1  # left without one: `admin keys check` lists these
                continue
            try:
                digest = rt.cipher.lookup_hash(row.channel, canonical(row.channel, value))
            except AddressError:
                digest = row.value_hash
            computed.append((row.row_id, row.channel, row.value_hash, digest))
        with rt.db.write() as conn:
            hashed += set_canonical_hashes(conn, [(row_id, legacy, digest) for row_id, _, legacy, digest in computed])
        carried += carry_over_opt_outs(rt, [(channel, legacy, digest) for _, channel, legacy, digest in computed])
