"""unlock values can be removed (erasure, retention)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactvault.server.db.types import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: ``unlocks.value_encrypted`` may be NULL (value erased or purged); when it was removed."""
    with op.batch_alter_table("unlocks", schema=None) as batch_op:
        batch_op.alter_column("value_encrypted", existing_type=sa.LargeBinary(), nullable=True)
        batch_op.add_column(sa.Column("value_removed_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    """Revert (rows whose value was removed cannot be restored: they are deleted)."""
    op.execute("DELETE FROM unlocks WHERE value_encrypted IS NULL")
    with op.batch_alter_table("unlocks", schema=None) as batch_op:
        batch_op.drop_column("value_removed_at")
        batch_op.alter_column("value_encrypted", existing_type=sa.LargeBinary(), nullable=False)
