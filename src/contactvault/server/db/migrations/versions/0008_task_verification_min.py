"""tasks.verification_min: a task's floor for values the engine found (the request extension)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 07:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
# 0007 is another branch's migration: when both land, this one revises "0007".
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: a nullable column (null = the operator's default policy), so existing tasks keep their behaviour."""
    op.add_column("tasks", sa.Column("verification_min", sa.String(16), nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("verification_min")
