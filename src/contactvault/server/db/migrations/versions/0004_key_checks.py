"""key checks: the database remembers which keys wrote it

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 12:55:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactvault.server.db.types import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: a keyed fingerprint of the lookup-hash key (never the key) for each node to check at start."""
    op.create_table(
        "key_checks",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_key_checks"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("key_checks")
