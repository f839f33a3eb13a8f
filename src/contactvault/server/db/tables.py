"""The schema, as SQLAlchemy Core tables (migrations in ``migrations/`` create exactly this)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TextClause,
    UniqueConstraint,
    text,
)

from contactvault.server.db.types import UTCDateTime
from contactvault.server.domain.tasks import UNFINISHED_ITEM_STATUSES, ItemStatus

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")
UTC = UTCDateTime()

accounts = Table(
    "accounts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UTC, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(8), primary_key=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("secret_hash", LargeBinary(32), nullable=False),
    Column("label", String(200)),
    Column("created_at", UTC, nullable=False),
    Column("revoked_at", UTC),
    Column("expires_at", UTC),
    Column("last_used_at", UTC),
)

credit_buckets = Table(
    "credit_buckets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False, server_default="0"),
    Column("expires_at", UTC),
    Column("created_at", UTC, nullable=False),
    CheckConstraint("balance >= 0", name="balance_nonnegative"),
    CheckConstraint("reserved >= 0", name="reserved_nonnegative"),
    CheckConstraint("kind IN ('subscription', 'addon', 'gift')", name="kind_known"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, nullable=False),
    Column("bucket_id", BigInteger, ForeignKey("credit_buckets.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("available_delta", BigInteger, nullable=False),
    Column("reserved_delta", BigInteger, nullable=False),
    # What caused the posting: ("grant", bucket id), ("task", task id) or ("item", item id).
    Column("cause_type", String(16), nullable=False),
    Column("cause_id", BigInteger, nullable=False),
    Column("task_id", BigInteger),
    Column("created_at", UTC, nullable=False),
    UniqueConstraint("cause_type", "cause_id", "kind", "bucket_id", name="uq_ledger_cause_kind_bucket"),
    Index("ix_ledger_account", "account_id", "id"),
    Index("ix_ledger_task", "task_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(300), nullable=False),
    Column("nickname", String(100)),
    Column("description", Text),
    Column("url", String(500)),
    Column("date_start", Date),
    Column("date_end", Date),
    Column("venue", String(300)),
    Column("city", String(100)),
    Column("region", String(100)),
    Column("country", String(100)),
    Column("image", String(500)),
    Column("data_source", String(50)),
    Column("event_type", String(50)),
    Column("topics", Text),  # JSON array of strings
    Column("attendee_count", Integer),
    Column("exhibitor_count", Integer, nullable=False, server_default="0"),
    Column("personnel_count", Integer, nullable=False, server_default="0"),
    Index("ix_events_date_start", "date_start"),
)

companies = Table(
    "companies",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(300), nullable=False),
    Column("domain", String(255)),
    Column("industry", String(100)),
    Column("country", String(100)),
)

personnel = Table(
    "personnel",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("full_name", String(300), nullable=False),
    Column("title", String(300)),
    Column("department", String(100)),
    Column("seniority_level", String(50)),
    Column("linkedin_url", String(500)),
    Column("company_id", BigInteger, ForeignKey("companies.id")),
    Index("ix_personnel_company_id", "company_id", "id"),
)

event_personnel = Table(
    "event_personnel",
    metadata,
    Column("event_id", BigInteger, ForeignKey("events.id"), primary_key=True),
    Column("personnel_id", BigInteger, ForeignKey("personnel.id"), primary_key=True),
    # Comma-separated subset of exhibitor, social, visitors.
    Column("source_types", String(40), nullable=False),
    Column("exhibitor_id", BigInteger),
    Index("ix_event_personnel_person", "personnel_id"),
)

contact_points = Table(
    "contact_points",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("personnel_id", BigInteger, ForeignKey("personnel.id"), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("value_encrypted", LargeBinary, nullable=False),
    # The keyed hash of the value as received, trimmed (emails lower-cased, phones without punctuation): the form
    # hashed before canonical forms, kept so that opt-outs recorded then still match (docs/security.md).
    Column("value_hash", LargeBinary(32), nullable=False),
    Column("source", String(50), nullable=False),
    Column("verification_status", String(16)),
    Column("verification_score", Integer),
    Column("checked_at", UTC),
    # The keyed hash of the canonical form (server/addresses.py); NULL until `admin backfill-hashes` computes it.
    Column("canonical_hash", LargeBinary(32)),
    UniqueConstraint("personnel_id", "channel", name="uq_contact_points_person_channel"),
    Index("ix_contact_points_hash", "value_hash"),
    Index("ix_contact_points_canonical_hash", "canonical_hash"),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(8), nullable=False),  # "email", "phone" or "person"
    Column("value_hash", LargeBinary(32), nullable=False),
    Column("created_at", UTC, nullable=False),
    UniqueConstraint("kind", "value_hash", name="uq_suppressions_kind_hash"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("channel", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("call_source", String(16), nullable=False),
    Column("max_credits", BigInteger),
    Column("item_count", Integer, nullable=False),
    Column("credits_held", BigInteger, nullable=False),
    Column("credits_charged", BigInteger, nullable=False, server_default="0"),
    Column("credits_released", BigInteger, nullable=False, server_default="0"),
    Column("unfinished", Integer, nullable=False),
    Column("version", Integer, nullable=False, server_default="0"),
    Column("created_at", UTC, nullable=False),
    Column("updated_at", UTC, nullable=False),
    Column("completed_at", UTC),
    Column("trace_id", String(64)),
    Column("verification_min", String(16)),  # the task's floor for found values; null = the operator's default
    # The key an agent-sourced task was submitted with: its day's agent spending is summed per key.
    Column("key_id", String(8)),
    Index("ix_tasks_account", "account_id", "created_at"),
    Index("ix_tasks_key_created", "key_id", "created_at"),
)

task_holds = Table(
    "task_holds",
    metadata,
    Column("task_id", BigInteger, ForeignKey("tasks.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("bucket_id", BigInteger, ForeignKey("credit_buckets.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("settled", BigInteger, nullable=False, server_default="0"),
    CheckConstraint("settled >= 0 AND settled <= amount", name="settled_within_hold"),
)


def _status_in(*statuses: ItemStatus) -> TextClause:
    """A partial index's condition on item status (rendered exactly as the migrations wrote it)."""
    if len(statuses) == 1:
        return text(f"status = '{statuses[0].value}'")
    return text("status IN ({})".format(", ".join(f"'{s.value}'" for s in statuses)))


task_items = Table(
    "task_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("task_id", BigInteger, ForeignKey("tasks.id"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("personnel_id", BigInteger, nullable=False),
    Column("channel", String(8), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UTC),
    Column("next_attempt_at", UTC, nullable=False),
    Column("error_code", String(32)),
    Column("credits_charged", BigInteger, nullable=False, server_default="0"),
    Column("source", String(50)),
    Column("completed_at", UTC),
    UniqueConstraint("task_id", "position", name="uq_task_items_task_position"),
    # A person is in at most one unfinished item per account and channel: concurrent submissions cannot both
    # hold credits for the same person.
    Index(
        "uq_task_items_in_flight",
        "account_id",
        "personnel_id",
        "channel",
        unique=True,
        sqlite_where=_status_in(*UNFINISHED_ITEM_STATUSES),
        postgresql_where=_status_in(*UNFINISHED_ITEM_STATUSES),
    ),
    Index(
        "ix_task_items_due",
        "next_attempt_at",
        sqlite_where=_status_in(ItemStatus.PENDING),
        postgresql_where=_status_in(ItemStatus.PENDING),
    ),
    Index(
        "ix_task_items_leased",
        "lease_expires_at",
        sqlite_where=_status_in(ItemStatus.PROCESSING),
        postgresql_where=_status_in(ItemStatus.PROCESSING),
    ),
    Index("ix_task_items_person", "account_id", "personnel_id", "channel", "status"),
)

unlocks = Table(
    "unlocks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False),
    Column("personnel_id", BigInteger, nullable=False),
    Column("channel", String(8), nullable=False),
    # NULL once erased or past retention; the row stays, so the account is never charged for this person again.
    Column("value_encrypted", LargeBinary),
    Column("task_id", BigInteger, nullable=False),
    Column("item_id", BigInteger, nullable=False),
    Column("source", String(50)),
    Column("verification_status", String(16)),
    Column("verification_score", Integer),
    Column("checked_at", UTC),
    Column("created_at", UTC, nullable=False),
    Column("value_removed_at", UTC),
    # The guarantee behind "never charged twice for the same person and channel".
    UniqueConstraint("account_id", "personnel_id", "channel", name="uq_unlocks_account_person_channel"),
    Index("ix_unlocks_item", "item_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", BigInteger, primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", LargeBinary(32), nullable=False),
    Column("state", String(16), nullable=False),  # "in_progress" or "completed"
    Column("status_code", Integer),
    Column("response_body", LargeBinary),
    Column("created_at", UTC, nullable=False),
    Column("expires_at", UTC, nullable=False),
    Index("ix_idempotency_expires", "expires_at"),
)

quotes = Table(
    "quotes",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # random, like task ids
    Column("account_id", BigInteger, nullable=False),
    Column("channel", String(8), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("personnel_ids", Text, nullable=False),  # the chargeable ids, sorted, as a JSON array of integers
    Column("credits", BigInteger, nullable=False),
    Column("created_at", UTC, nullable=False),
    Column("expires_at", UTC, nullable=False),
    Index("ix_quotes_expires", "expires_at"),
)

console_users = Table(
    "console_users",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("email", String(320), nullable=False, unique=True),  # lower-cased
    Column("password_hash", Text, nullable=False),  # argon2id, never the password
    Column("created_at", UTC, nullable=False),
    Column("disabled_at", UTC),
)

# Per-key guardrails for agent-sourced spending (x-call-source: agent, and every MCP call), set by an operator.
key_guardrails = Table(
    "key_guardrails",
    metadata,
    Column("key_id", String(8), ForeignKey("api_keys.id"), primary_key=True),
    Column("agent_allowed", Boolean, nullable=False),
    Column("agent_max_per_call", BigInteger),  # credits; None: no ceiling
    Column("agent_max_per_day", BigInteger),  # credits per UTC day; None: no ceiling
    Column("updated_at", UTC, nullable=False),
)

console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", LargeBinary(32), primary_key=True),  # SHA-256 of the cookie's random token
    Column("account_id", BigInteger, nullable=False),
    Column("api_key_id", String(8), index=True),  # signed in with a key: revoking it ends the session
    Column("user_id", BigInteger, index=True),  # or signed in as a user
    Column("created_at", UTC, nullable=False),
    Column("last_seen_at", UTC, nullable=False),
    Column("expires_at", UTC, nullable=False, index=True),  # the absolute limit
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("account_id", BigInteger),
    Column("action", String(40), nullable=False),
    Column("subject_type", String(20)),
    Column("subject_id", String(40)),
    Column("credits", BigInteger),
    Column("detail", Text),  # JSON, never a secret or a personal value
    Column("trace_id", String(64)),
    Column("created_at", UTC, nullable=False),
    Index("ix_audit_account", "account_id", "id"),
    Index("ix_audit_created", "created_at"),  # the audit purge (CONTACTVAULT_AUDIT_RETENTION_DAYS)
)

# A keyed fingerprint of the lookup-hash key: a node started with other keys refuses to run rather than write
# values the other nodes cannot read (or hashes that no longer match the opt-out list).
key_checks = Table(
    "key_checks",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("fingerprint", LargeBinary(32), nullable=False),
    Column("created_at", UTC, nullable=False),
)

# Webhooks (docs/webhooks.md): endpoints per account, their signing secrets (sealed with the runtime's cipher; a
# rotated secret keeps signing until ``expires_at``), the outbox (one message per event and endpoint, written in the
# transaction that caused the event) and the attempt log.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("account_id", BigInteger, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("url", Text, nullable=False),
    Column("description", String(500), nullable=False, server_default=""),
    Column("event_types", Text, nullable=False),  # JSON array of event types; [] means every type
    Column("created_at", UTC, nullable=False),
    Column("updated_at", UTC, nullable=False),
    Column("disabled_at", UTC),  # NULL: enabled
    Column("disabled_reason", String(40)),
    Column("failing_since", UTC),  # the first failed attempt of the current run of failures
    # "thin" or "full": full adds the delivered items, rendered at each attempt (never stored in the outbox)
    Column("payload", String(8), nullable=False, server_default="thin"),
)

webhook_secrets = Table(
    "webhook_secrets",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("endpoint_id", BigInteger, ForeignKey("webhook_endpoints.id"), nullable=False, index=True),
    Column("value_encrypted", LargeBinary, nullable=False),
    Column("created_at", UTC, nullable=False),
    Column("expires_at", UTC),  # NULL: the current secret
)

webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("id", String(40), primary_key=True),  # the webhook-id header, the same on every attempt
    Column("endpoint_id", BigInteger, ForeignKey("webhook_endpoints.id"), nullable=False),
    Column("account_id", BigInteger, nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("body", LargeBinary, nullable=False),  # exactly the bytes signed and sent
    Column("status", String(16), nullable=False),  # pending, sending, delivered, failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("trigger", String(16), nullable=False, server_default="scheduled"),  # "manual" after a resend/recover
    Column("next_attempt_at", UTC, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UTC),
    Column("created_at", UTC, nullable=False),
    Index("ix_webhook_messages_endpoint", "endpoint_id", "created_at"),
    Index("ix_webhook_messages_due", "status", "next_attempt_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", String(40), ForeignKey("webhook_messages.id"), nullable=False, index=True),
    Column("endpoint_id", BigInteger, nullable=False),
    Column("trigger", String(16), nullable=False),  # scheduled or manual
    Column("status_code", Integer),
    Column("outcome", String(16), nullable=False),  # success or failed
    Column("error", String(200)),  # why it failed when there was no response (timeout, refused address, ...)
    Column("latency_ms", Integer, nullable=False),
    Column("response_head", Text),  # the first bytes of the response body
    Column("created_at", UTC, nullable=False),
)


# Politeness per mail provider shared by every worker (docs/verification.md, "Scale-out"): one row per provider key
# (locked while a session is reserved), and one row per session in flight, leased so a dead worker's slot frees itself.
mail_providers = Table(
    "mail_providers",
    metadata,
    Column("key", String(253), primary_key=True),  # the MX's registrable domain: a provider, never a person
    Column("last_start", UTC),
    Column("blocked_until", UTC),
    Column("window_start", UTC),
    Column("window_count", Integer, nullable=False, server_default=text("0")),
)

mail_provider_slots = Table(
    "mail_provider_slots",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("key", String(253), nullable=False),
    Column("expires_at", UTC, nullable=False),
    Index("ix_mail_provider_slots_key", "key", "expires_at"),
)

# TTL caches shared by every worker: MX answers and catch-all verdicts per domain (ASCII form), probe local parts.
mail_cache = Table(
    "mail_cache",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("expires_at", UTC, nullable=False),
    Index("ix_mail_cache_expires", "expires_at"),
)


# When each worker loop last completed an iteration, written at most every few seconds (``admin status``).
worker_heartbeats = Table(
    "worker_heartbeats",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("started_at", UTC, nullable=False),
    Column("last_loop_at", UTC, nullable=False),
    Index("ix_worker_heartbeats_last_loop", "last_loop_at"),
)

# Register ``housekeeping_jobs``, ``key_canaries`` and ``operator_keys`` (each defined beside its queries) on
# ``metadata``, so the schema is whole here.
from contactvault.server.db import housekeeping as _housekeeping  # noqa: E402, F401
from contactvault.server.db import key_canary as _key_canary  # noqa: E402, F401
from contactvault.server.db import operator_keys as _operator_keys  # noqa: E402, F401
