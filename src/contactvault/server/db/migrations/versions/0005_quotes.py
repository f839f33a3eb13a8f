"""quotes: a precheck's price, kept server-side until it expires

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 05:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from contactvault.server.db.types import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: one row per quote (the chargeable ids and credits a precheck promised), purged once expired."""
    op.create_table(
        "quotes",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("personnel_ids", sa.Text(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quotes"),
    )
    op.create_index("ix_quotes_expires", "quotes", ["expires_at"])


def downgrade() -> None:
    """Revert."""
    op.drop_index("ix_quotes_expires", table_name="quotes")
    op.drop_table("quotes")
