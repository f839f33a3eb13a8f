"""housekeeping_jobs: the scheduled jobs' leases and last runs; an index for the audit purge

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactvault.server.db.types import UTCDateTime

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: one row per housekeeping job (created by its first runner); audit rows by time."""
    op.create_table(
        "housekeeping_jobs",
        sa.Column("job", sa.String(32), nullable=False),
        sa.Column("next_due_at", UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(80), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(), nullable=True),
        sa.Column("last_started_at", UTCDateTime(), nullable=True),
        sa.Column("last_finished_at", UTCDateTime(), nullable=True),
        sa.Column("last_ok_at", UTCDateTime(), nullable=True),
        sa.Column("last_duration_seconds", sa.Float(), nullable=True),
        sa.Column("last_rows", sa.BigInteger(), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("job", name="pk_housekeeping_jobs"),
    )
    op.create_index("ix_audit_created", "audit_log", ["created_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_audit_created", table_name="audit_log")
    op.drop_table("housekeeping_jobs")
