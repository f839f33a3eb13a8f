"""contact points: a keyed hash of the value's canonical form beside the legacy one

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 06:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: ``contact_points.canonical_hash`` (NULL until computed) and its index.

    Only the column: computing it needs the value, which is sealed, and a migration has no keys.
    ``contactvault admin backfill-hashes`` fills it (idempotent; see docs/security.md).
    """
    with op.batch_alter_table("contact_points") as batch_op:
        batch_op.add_column(sa.Column("canonical_hash", sa.LargeBinary(32), nullable=True))
        batch_op.create_index("ix_contact_points_canonical_hash", ["canonical_hash"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("contact_points") as batch_op:
        batch_op.drop_index("ix_contact_points_canonical_hash")
        batch_op.drop_column("canonical_hash")
