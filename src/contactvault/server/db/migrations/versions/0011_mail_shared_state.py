"""mail_providers, mail_provider_slots, mail_cache: politeness and mail caches shared by every worker

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactvault.server.db.types import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: three new tables, nothing existing changes."""
    op.create_table(
        "mail_providers",
        sa.Column("key", sa.String(253), nullable=False),
        sa.Column("last_start", UTCDateTime()),
        sa.Column("blocked_until", UTCDateTime()),
        sa.Column("window_start", UTCDateTime()),
        sa.Column("window_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("key", name="pk_mail_providers"),
    )
    op.create_table(
        "mail_provider_slots",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key", sa.String(253), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mail_provider_slots"),
    )
    op.create_index("ix_mail_provider_slots_key", "mail_provider_slots", ["key", "expires_at"])
    op.create_table(
        "mail_cache",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name="pk_mail_cache"),
    )
    op.create_index("ix_mail_cache_expires", "mail_cache", ["expires_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_mail_cache_expires", table_name="mail_cache")
    op.drop_table("mail_cache")
    op.drop_index("ix_mail_provider_slots_key", table_name="mail_provider_slots")
    op.drop_table("mail_provider_slots")
    op.drop_table("mail_providers")
