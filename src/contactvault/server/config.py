"""Settings: built once at start-up from the environment (``CONTACTVAULT_*``) and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./data/contactvault.db"


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="CONTACTVAULT_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # PostgreSQL: connections each process keeps open (as many again may be opened under bursts).
    database_pool_size: int = Field(default=10, ge=1, le=200)
    # Server processes of `serve --workers N` (set by it for its children): above 1, SQLite long-polls hear the
    # other processes' commits through a watcher thread (db/sqlite_watch.py).
    serve_workers: int = Field(default=1, ge=1, le=64)
    # Fernet keys (url-safe base64), newest first, comma separated; or a file with one key a line.
    encryption_keys: str = ""
    encryption_key_file: Path | None = None
    # Keyed hashes for lookups of emails/phones (suppressions) use their own secret.
    hash_key: str = ""

    worker_lease_seconds: float = Field(default=30.0, gt=0)
    worker_batch_size: int = Field(default=1000, ge=1, le=5000)
    worker_concurrency: int = Field(default=64, ge=1, le=1000)
    worker_max_attempts: int = Field(default=5, ge=1, le=100)
    worker_idle_seconds: float = Field(default=0.5, gt=0)

    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    # An in-progress idempotency record older than this belongs to a request that died; it may be taken over.
    idempotency_stale_seconds: int = Field(default=60, ge=1)
    # The housekeeping deletes expired idempotency records, quotes, console sessions and mail caches this often.
    idempotency_purge_interval_seconds: int = Field(default=3600, ge=1)
    # A precheck quote (`"create_quote": true`) holds its price this long (purged with the idempotency keys).
    quote_ttl_seconds: int = Field(default=600, ge=1)
    # Console sessions end after this long without a request, and in any case this long after sign-in.
    console_idle_seconds: int = Field(default=8 * 3600, ge=60)
    console_absolute_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    # The console's session cookie is `__Host-` and Secure. Browsers accept it over plain HTTP on 127.0.0.1 and
    # localhost (secure contexts); set this to false only to try the console over plain HTTP on another host.
    console_secure_cookie: bool = True

    # Long-polls (`?wait=N`) waiting at once, per API key and per process; over a cap a poll is answered at
    # once. 0 turns a cap off.
    long_poll_max_per_key: int = Field(default=10, ge=0)
    long_poll_max_per_node: int = Field(default=200, ge=0)

    # Requests per 60 s; 0 turns a limit off. The storage is a `limits` URI (memory://, redis://host:6379/0), or
    # database:// for counters in the service's database (what `serve --workers N` uses instead of memory://).
    rate_limit_per_key: int = Field(default=120, ge=0)
    rate_limit_per_ip: int = Field(default=600, ge=0)
    rate_limit_storage: str = "memory://"
    # The contract's limits are per 60 s; a shorter window exists for tests and drills.
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=3600)

    # /metrics: with a token, scrapes must send it as a bearer token; without one, only loopback clients are
    # answered (docs/operations.md, "What to watch").
    metrics_token: str = ""

    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    log_json: bool = False
    log_level: str = "INFO"
    # Comma-separated origins allowed to call the API from a browser; empty = no CORS headers at all.
    cors_origins: str = ""
    # Revealed values older than this many days are purged by `admin purge-retention`; 0 keeps them forever.
    unlock_retention_days: int = Field(default=0, ge=0)
    # Audit rows older than this many days are deleted by the housekeeping; 0 keeps them forever.
    audit_retention_days: int = Field(default=0, ge=0)
    # Housekeeping (docs/operations.md, "Running it"): wherever a worker runs, a thread runs these jobs, each at
    # most once per interval across every node. Expired credits are posted as `expire` entries; revealed values
    # and audit rows past their retention are purged; the ledger is reconciled (0 turns that job off).
    housekeeping: bool = True
    expiry_interval_seconds: int = Field(default=60, ge=1)
    retention_purge_interval_seconds: int = Field(default=3600, ge=1)
    reconcile_interval_seconds: int = Field(default=900, ge=0)

    # Mail verification (docs/verification.md). DNS goes only to these nameservers ("host[:port]", comma
    # separated), never to the system resolver; empty = no DNS verification.
    mail_dns_servers: str = ""
    mail_dns_timeout_seconds: float = Field(default=5.0, gt=0)
    # MX targets must be global addresses; loopback (127.0.0.0/8) is allowed only for tests and the demo's world.
    mail_allow_loopback: bool = False
    # SMTP RCPT probing is off until the operator names the HELO host and a real MAIL FROM and confirms port 25.
    smtp_probe: bool = False
    smtp_helo: str = ""
    smtp_mail_from: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    # "mx-host=port,...": one port per MX for a loopback world where only 127.0.0.1 exists (the demo's); honoured
    # only with mail_allow_loopback.
    smtp_host_ports: str = ""
    # A whole probe session (connect to QUIT, every MX tried) ends by this deadline: a tarpit cannot hold a worker.
    smtp_session_seconds: float = Field(default=20.0, gt=0)
    smtp_max_candidates: int = Field(default=3, ge=1, le=10)
    smtp_catch_all_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=0)
    # Per mail provider (the MX's registrable domain): sessions at once, seconds between session starts, and a
    # budget of sessions per window.
    smtp_provider_concurrency: int = Field(default=1, ge=1, le=100)
    smtp_provider_gap_seconds: float = Field(default=2.0, ge=0)
    smtp_provider_budget: int = Field(default=100, ge=1)
    smtp_provider_window_seconds: float = Field(default=3600.0, gt=0)
    # Webhooks (docs/webhooks.md): endpoint URLs must be https and every address they resolve to public, unless
    # this is set (self-hosting on a private network, and the tests' loopback receivers).
    webhooks_allow_private: bool = False
    # Where politeness state and the mail caches (MX, catch-all) live: "process" (this worker's memory), "database"
    # (shared by every worker), or "auto": the database on PostgreSQL (several workers may run), the process on
    # SQLite (embedded: one worker). docs/verification.md, "Scale-out".
    mail_shared_state: Literal["auto", "process", "database"] = "auto"
    # External providers asked after the vault (docs/resolution.md, "Providers"): a JSON or TOML file. Unset (the
    # default), the worker asks none and nothing leaves the process.
    providers_file: Path | None = None
    # The pattern resolver (docs/resolution.md): on by default, but it runs only where mail_dns_servers is set;
    # "off" keeps it out of every item (no DNS, no SMTP). Learnt patterns are kept per domain for this long.
    inference: bool = True
    pattern_evidence_ttl_seconds: int = Field(default=3600, ge=0)
    # A greylisted or politeness-deferred item goes back to the queue for this long, without using up an attempt.
    greylist_retry_after: int = Field(default=300, ge=1, le=86_400)
    # With SMTP probing on, a vault email whose verification is older than this many days is probed again before
    # delivery (worker/resolvers/reverify.py); 0 = never.
    reverify_after_days: int = Field(default=90, ge=0)
    # The operator's floor for values the engine found: "accept_all" (delivered at a score of 60 or more) or
    # "valid"; a task's ``verification_min`` can only tighten it.
    verification_min: Literal["valid", "accept_all"] = "accept_all"
