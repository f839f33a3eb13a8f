"""The composition root: settings in, a ready Runtime out (keys loaded, schema migrated)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from contactvault.server.config import Settings
from contactvault.server.crypto import Cipher, KeyMaterial
from contactvault.server.db.engine import Database, make_engine
from contactvault.server.db.migrate import upgrade
from contactvault.server.notifier import Notifier
from contactvault.server.runtime import Runtime


def default_key_file(settings: Settings) -> Path:
    """Where the embedded mode keeps its generated keys: beside the SQLite file, never inside it."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).with_suffix(".keys.json")
    return Path("./data/contactvault.keys.json")


def load_keys(settings: Settings, *, create: bool = True) -> KeyMaterial:
    """Keys from the environment, else from the key file (generated on first start when ``create``)."""
    if settings.encryption_keys:
        fernet = tuple(k.strip() for k in settings.encryption_keys.split(",") if k.strip())
        if not settings.hash_key:
            raise ValueError("CONTACTVAULT_HASH_KEY is required with CONTACTVAULT_ENCRYPTION_KEYS")
        return KeyMaterial(fernet, settings.hash_key)
    path = settings.encryption_key_file or default_key_file(settings)
    if path.exists():
        return KeyMaterial.load(path)
    if not create:
        raise FileNotFoundError(f"no key file at {path}")
    keys = KeyMaterial.generate()
    keys.dump(path)
    return keys


class KeyMismatch(RuntimeError):
    """The configured keys are not the ones this database was written with."""


def build_runtime(settings: Settings, *, migrate: bool = True) -> Runtime:
    """Everything the service needs, built once."""
    db = Database(make_engine(settings.database_url, pool_size=settings.database_pool_size))
    if migrate:
        upgrade(db.engine)
    cipher = Cipher(load_keys(settings))
    try:
        check_keys(db, cipher, settings)
    except KeyMismatch:
        db.dispose()
        raise
    return Runtime(settings=settings, db=db, cipher=cipher, notifier=make_notifier(db))


def check_keys(db: Database, cipher: Cipher, settings: Settings) -> None:
    """Refuse to run with keys other than the ones that wrote this database (the first start records them)."""
    from datetime import UTC, datetime

    from sqlalchemy import insert, inspect, select

    from contactvault.server.db.tables import key_checks

    if not inspect(db.engine).has_table("key_checks"):
        return  # an older schema (migrate=False): nothing to compare with yet
    with db.write() as conn:
        stored = conn.execute(select(key_checks.c.fingerprint).where(key_checks.c.name == "hash_key")).scalar()
        if stored is None:
            conn.execute(
                insert(key_checks).values(
                    name="hash_key", fingerprint=cipher.fingerprint(), created_at=datetime.now(UTC)
                )
            )
            return
    if bytes(stored) != cipher.fingerprint():
        source = (
            "CONTACTVAULT_ENCRYPTION_KEYS/CONTACTVAULT_HASH_KEY"
            if settings.encryption_keys
            else (f"the key file {settings.encryption_key_file or default_key_file(settings)}")
        )
        raise KeyMismatch(
            f"The keys from {source} are not the ones this database was written with; every node must share "
            "the same key file or variables (see docs/deployment.md)."
        )


def make_notifier(db: Database) -> Notifier:
    """In-process wake-ups on SQLite (one process serves); LISTEN/NOTIFY across processes on PostgreSQL."""
    if db.is_sqlite:
        return Notifier()
    from contactvault.server.db.pg_notify import PgNotifier

    return PgNotifier(db.engine)
