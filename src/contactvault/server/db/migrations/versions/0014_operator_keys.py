"""operator_keys: the keys of the operator API (/admin/v1), with their scopes

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactvault.server.db.types import UTCDateTime

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: one row per operator key (its secret only as a SHA-256 hash)."""
    op.create_table(
        "operator_keys",
        sa.Column("id", sa.String(8), nullable=False),
        sa.Column("secret_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("scopes", sa.String(64), nullable=False),
        sa.Column("label", sa.String(200), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_operator_keys"),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("operator_keys")
