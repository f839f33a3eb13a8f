"""The start-up key check: refuse to run with keys other than the ones that wrote this database.

Two records, neither of them a key (docs/operations.md, "Checking the encryption keys"):

- ``key_checks``: a keyed fingerprint of the lookup-hash key, recorded at the first start;
- ``key_canaries``: a random value sealed under the newest encryption key, with its lookup hash, sealed by the first
  process that migrates or starts with the keys. At every start (and at ``admin restore``) the configured encryption
  keys must open it. A start whose keys open it only with an older key (a rotation: the new key was put first)
  re-seals it under its newest key, so after ``rotate-encryption-key`` a node still without the new key refuses to
  start instead of failing to read what the others write.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from cryptography.fernet import InvalidToken

from contactvault.server.config import Settings
from contactvault.server.crypto import Cipher
from contactvault.server.db import key_canary
from contactvault.server.db.engine import Conflict, Database, Transaction

log = logging.getLogger("contactvault.keys")

CANARY_KIND = "canary"


class KeyProblem(StrEnum):
    """Which configured key does not match the database."""

    HASH_KEY = "hash_key"
    ENCRYPTION = "encryption"


class KeyMismatch(RuntimeError):
    """The configured keys are not the ones this database was written with."""


def key_source(settings: Settings, problem: KeyProblem) -> str:
    """Where the keys came from, naming the setting (never a key)."""
    if settings.encryption_keys:
        return (
            "CONTACTVAULT_ENCRYPTION_KEYS"
            if problem is KeyProblem.ENCRYPTION
            else ("CONTACTVAULT_ENCRYPTION_KEYS/CONTACTVAULT_HASH_KEY")
        )
    from contactvault.server.bootstrap import default_key_file  # bootstrap imports this module

    path = settings.encryption_key_file or default_key_file(settings)
    return f"the key file {path} (CONTACTVAULT_ENCRYPTION_KEY_FILE)"


def describe(problem: KeyProblem, settings: Settings) -> str:
    """One line for an operator: which setting holds keys that do not match, and what to do."""
    source = key_source(settings, problem)
    if problem is KeyProblem.ENCRYPTION:
        return (
            f"No encryption key from {source} opens this database's key canary: the keys are not the ones this "
            "database was written with (a wrong key, or a node without the newest key after a rotation); every "
            "node must share the same key file or variables (see docs/operations.md)."
        )
    return (
        f"The keys from {source} are not the ones this database was written with; every node must share "
        "the same key file or variables (see docs/deployment.md)."
    )


def check_keys(db: Database, cipher: Cipher, settings: Settings) -> None:
    """Refuse to run with keys other than the ones that wrote this database (the first start records them)."""
    try:
        problem = _check_once(db, cipher)
    except Conflict:
        problem = _check_once(db, cipher)  # another node recorded them at the same moment: compare with its
    if problem is not None:
        raise KeyMismatch(describe(problem, settings))


def keys_problem(conn: Transaction, cipher: Cipher) -> KeyProblem | None:
    """Read-only: which of these keys does not match what the database recorded (None: all match, or nothing
    recorded yet)."""
    has_checks, has_canaries = key_canary.has_key_tables(conn)
    if has_checks:
        stored = key_canary.hash_key_fingerprint(conn)
        if stored is not None and stored != cipher.fingerprint():
            return KeyProblem.HASH_KEY
    found = key_canary.canary(conn) if has_canaries else None
    return None if found is None else _canary_problem(cipher, found)


def reseal_canary(db: Database, cipher: Cipher) -> bool:
    """Re-seal the canary under ``cipher``'s newest key when an older one sealed it (key rotation); whether it
    did."""
    with db.write() as conn:
        found = key_canary.canary(conn)
        if found is None or cipher.is_current(found.token) or _canary_problem(cipher, found) is not None:
            return False
        return key_canary.reseal_canary(conn, found.token, cipher.rotate(found.token), datetime.now(UTC))


def _check_once(db: Database, cipher: Cipher) -> KeyProblem | None:
    now = datetime.now(UTC)
    with db.write() as conn:
        has_checks, has_canaries = key_canary.has_key_tables(conn)
        if not has_checks:
            return None  # an older schema (migrate=False): nothing to compare with yet
        stored = key_canary.hash_key_fingerprint(conn)
        if stored is None:
            key_canary.record_hash_key_fingerprint(conn, cipher.fingerprint(), now)
        elif stored != cipher.fingerprint():
            return KeyProblem.HASH_KEY
        if not has_canaries:
            return None
        found = key_canary.canary(conn)
        if found is None:
            value = secrets.token_urlsafe(24)
            sealed = key_canary.Canary(cipher.seal(value), cipher.lookup_hash(CANARY_KIND, value))
            key_canary.record_canary(conn, sealed, now)
            log.info("key canary sealed under the newest encryption key")
            return None
        problem = _canary_problem(cipher, found)
        if problem is None and not cipher.is_current(found.token):
            key_canary.reseal_canary(conn, found.token, cipher.rotate(found.token), now)
            log.info("key canary re-sealed under the newest encryption key (a rotation)")
        return problem


def _canary_problem(cipher: Cipher, found: key_canary.Canary) -> KeyProblem | None:
    try:
        value = cipher.open(found.token)
    except InvalidToken:
        return KeyProblem.ENCRYPTION
    if cipher.lookup_hash(CANARY_KIND, value) != found.value_hash:
        return KeyProblem.HASH_KEY
    return None
