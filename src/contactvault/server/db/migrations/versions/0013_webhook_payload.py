"""webhook_endpoints.payload: thin (the default) or full (delivered items rendered at each attempt)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: every existing endpoint stays thin."""
    op.add_column("webhook_endpoints", sa.Column("payload", sa.String(8), server_default="thin", nullable=False))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_column("payload")
