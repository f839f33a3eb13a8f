"""Encryption at rest of revealed values, and keyed hashes for looking them up.

Values are sealed with Fernet (AES-128-CBC + HMAC-SHA256) through MultiFernet, so a new key can be put first
while old ciphertexts still open; the keys live outside the database (environment or a key file). Key files are
written by ``KeyMaterial.dump`` only (atomic, mode 0600); ``ReloadingCipher`` re-reads one after a rotation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger("contactvault.keys")

# A token that no key opens must not make every request re-read the key file.
RELOAD_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class KeyMaterial:
    """Fernet keys (newest first) and the secret for keyed hashes."""

    fernet_keys: tuple[str, ...]
    hash_key: str

    @classmethod
    def generate(cls) -> KeyMaterial:
        """Fresh keys."""
        return cls((Fernet.generate_key().decode(),), Fernet.generate_key().decode())

    def dump(self, path: Path) -> None:
        """Write a key file readable by its owner only (atomically; an existing file is replaced, not reused)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"fernet_keys": list(self.fernet_keys), "hash_key": self.hash_key})
        write_private_file(path, text)

    @classmethod
    def load(cls, path: Path) -> KeyMaterial:
        """Read a key file written by ``dump``."""
        data = json.loads(path.read_text())
        return cls(tuple(data["fernet_keys"]), data["hash_key"])

    def fingerprints(self) -> dict[str, object]:
        """Short one-way fingerprints of every key (for backup manifests and messages), never the keys."""
        return {
            "encryptionKeys": [key_fingerprint(k) for k in self.fernet_keys],
            "hashKey": key_fingerprint(self.hash_key),
        }


def key_fingerprint(key: str) -> str:
    """Identifies a key without revealing it: a truncated SHA-256 of a 256-bit random secret cannot be inverted."""
    return hashlib.sha256(b"contactvault key fingerprint v1\0" + key.encode()).hexdigest()[:16]


def write_private_file(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` as a new file of mode 0600, atomically and durably.

    ``mkstemp`` creates a fresh 0600 file beside the target, which is renamed over it: the keys are never in a
    file others can read (an ``O_TRUNC`` of an existing file would keep its old mode), and a reader sees the
    old file or the new one, never half of one. The client has its own copy of this helper: it never imports
    server code.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Cipher:
    """Seals and opens personal values."""

    def __init__(self, keys: KeyMaterial) -> None:
        if not keys.fernet_keys:
            raise ValueError("at least one encryption key is required")
        self._primary = Fernet(keys.fernet_keys[0].encode())
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys.fernet_keys])
        self._hash_key = keys.hash_key.encode()

    def seal(self, value: str) -> bytes:
        """Encrypt a value."""
        return self._fernet.encrypt(value.encode())

    def open(self, token: bytes) -> str:
        """Decrypt a value sealed by any of the configured keys."""
        return self._fernet.decrypt(token).decode()

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the newest key."""
        return self._fernet.rotate(token)

    def is_current(self, token: bytes) -> bool:
        """Whether the newest (first) key opens ``token``."""
        try:
            self._primary.decrypt(token)
        except InvalidToken:
            return False
        return True

    def fingerprint(self) -> bytes:
        """Identifies the lookup-hash key without revealing it (stored in the database, compared at start)."""
        return hmac.new(self._hash_key, b"contactvault key check v1", hashlib.sha256).digest()

    def lookup_hash(self, kind: str, value: str) -> bytes:
        """A keyed hash for equality lookups; emails are compared case-insensitively."""
        normal = value.strip().lower() if kind == "email" else value.strip()
        return hmac.new(self._hash_key, f"{kind}:{normal}".encode(), hashlib.sha256).digest()


class ReloadingCipher(Cipher):
    """A cipher that, when a token does not open, re-reads its keys once (a rotation may have put a new key first).

    It wraps the cipher it replaces and only ever swaps in keys that keep the same hash key, since every stored
    lookup hash (suppressions, contact points) depends on it.
    """

    def __init__(self, inner: Cipher, load: Callable[[], KeyMaterial]) -> None:
        # Deliberately no super().__init__(): every method delegates to the current inner cipher.
        self._inner = inner
        self._load = load
        self._lock = threading.Lock()
        self._last_reload = float("-inf")

    def seal(self, value: str) -> bytes:
        """Encrypt a value under the newest key known."""
        return self._inner.seal(value)

    def open(self, token: bytes) -> str:
        """Decrypt a value; on an unknown key, reload the keys once and try again."""
        inner = self._inner
        try:
            return inner.open(token)
        except InvalidToken:
            fresh = self._reload(inner)
            if fresh is None:
                raise
            return fresh.open(token)

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt under the newest key."""
        return self._inner.rotate(token)

    def is_current(self, token: bytes) -> bool:
        """Whether the newest key in memory opens ``token``."""
        return self._inner.is_current(token)

    def fingerprint(self) -> bytes:
        """The hash key's fingerprint (a reload keeps the hash key, so it never changes)."""
        return self._inner.fingerprint()

    def lookup_hash(self, kind: str, value: str) -> bytes:
        """A keyed hash for equality lookups."""
        return self._inner.lookup_hash(kind, value)

    def _reload(self, seen: Cipher) -> Cipher | None:
        with self._lock:
            if self._inner is not seen:
                return self._inner  # another thread reloaded meanwhile
            now = time.monotonic()
            if now - self._last_reload < RELOAD_INTERVAL_SECONDS:
                return None
            self._last_reload = now
            try:
                fresh = Cipher(self._load())
            except (OSError, ValueError, KeyError) as exc:
                log.warning("could not reload encryption keys: %s", type(exc).__name__)
                return None
            probe = "reload-probe"
            if fresh.lookup_hash("person", probe) != seen.lookup_hash("person", probe):
                log.error("the key file now has a different hash key; keeping the keys in memory")
                return None
            self._inner = fresh
            log.info("encryption keys reloaded")
            return fresh
