"""A sample grid's row is of kind "sample", the name its event and its message have (was "grid").

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE sample_grids SET kind = 'sample' WHERE kind = 'grid'")


def downgrade() -> None:
    op.execute("UPDATE sample_grids SET kind = 'grid' WHERE kind = 'sample'")
