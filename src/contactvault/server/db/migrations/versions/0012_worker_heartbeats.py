"""worker_heartbeats: when each worker loop last completed an iteration (for ``admin status``)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactvault.server.db.types import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: one row per worker id, its start and its last loop."""
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("last_loop_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name="pk_worker_heartbeats"),
    )
    op.create_index("ix_worker_heartbeats_last_loop", "worker_heartbeats", ["last_loop_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_worker_heartbeats_last_loop", table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")
