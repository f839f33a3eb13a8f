"""key guardrails: agent calls allowed or not, per-call and per-day credit ceilings per API key

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 07:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactvault.server.db.types import UTCDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: one guardrails row per key that has any; the key an agent-sourced task was submitted with."""
    op.create_table(
        "key_guardrails",
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("agent_allowed", sa.Boolean(), nullable=False),
        sa.Column("agent_max_per_call", sa.BigInteger(), nullable=True),
        sa.Column("agent_max_per_day", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], name="fk_key_guardrails_key_id_api_keys"),
        sa.PrimaryKeyConstraint("key_id", name="pk_key_guardrails"),
    )
    op.add_column("tasks", sa.Column("key_id", sa.String(8), nullable=True))
    op.create_index("ix_tasks_key_created", "tasks", ["key_id", "created_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_tasks_key_created", table_name="tasks")
    op.drop_column("tasks", "key_id")
    op.drop_table("key_guardrails")
