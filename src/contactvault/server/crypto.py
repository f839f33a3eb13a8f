"""Encryption at rest of revealed values, and keyed hashes for looking them up.

Values are sealed with Fernet (AES-128-CBC + HMAC-SHA256) through MultiFernet, so a new key can be put first
while old ciphertexts still open; the keys live outside the database (environment or a key file).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet


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

    def fingerprint(self) -> bytes:
        """Identifies the lookup-hash key without revealing it (stored in the database, compared at start)."""
        return hmac.new(self._hash_key, b"contactvault key check v1", hashlib.sha256).digest()

    def lookup_hash(self, kind: str, value: str) -> bytes:
        """A keyed hash for equality lookups; emails are compared case-insensitively."""
        normal = value.strip().lower() if kind == "email" else value.strip()
        return hmac.new(self._hash_key, f"{kind}:{normal}".encode(), hashlib.sha256).digest()
