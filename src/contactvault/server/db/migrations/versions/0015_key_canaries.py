"""key canaries: a value sealed under the encryption key, which every node must open at start

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 09:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactvault.server.db.types import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: the table only; the canary itself is sealed by the first process that has the keys (migrations
    never see them)."""
    op.create_table(
        "key_canaries",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("value_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sealed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_key_canaries"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("key_canaries")
