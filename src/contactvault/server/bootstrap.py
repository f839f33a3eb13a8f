"""The composition root: settings in, a ready Runtime out (keys loaded, schema migrated)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from contactvault.server.config import Settings
from contactvault.server.crypto import Cipher, KeyMaterial
from contactvault.server.db.engine import Database, make_engine
from contactvault.server.db.migrate import upgrade
from contactvault.server.key_checks import KeyMismatch as KeyMismatch
from contactvault.server.key_checks import check_keys
from contactvault.server.notifier import Notifier
from contactvault.server.runtime import Runtime


def default_key_file(settings: Settings) -> Path:
    """Where the embedded mode keeps its generated keys: beside the SQLite file, never inside it."""
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).with_suffix(".keys.json")
    return Path("./data/contactvault.keys.json")


def in_memory_database(settings: Settings) -> bool:
    """Whether the database lives in this process's memory (SQLite ``:memory:``), so no other process can share it."""
    url = make_url(settings.database_url)
    return url.get_backend_name() == "sqlite" and (not url.database or url.database == ":memory:")


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
    return Runtime(settings=settings, db=db, cipher=cipher, notifier=make_notifier(db, settings))


def make_notifier(db: Database, settings: Settings) -> Notifier:
    """In-process wake-ups on SQLite (one process serves), plus a watcher of the file when several processes
    serve it (``serve --workers N``); LISTEN/NOTIFY across processes on PostgreSQL."""
    if db.is_sqlite:
        database = db.engine.url.database
        if settings.serve_workers > 1 and database and database != ":memory:":
            from contactvault.server.db.sqlite_watch import SqliteNotifier

            return SqliteNotifier(database)
        return Notifier()
    from contactvault.server.db.pg_notify import PgNotifier

    return PgNotifier(db.engine)
