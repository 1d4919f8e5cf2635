"""Runs on a cluster: the last stored event number of a remote worker, the resources a run
asks for, and what its last status said (why it waits, where it runs).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("event_cursor", sa.BigInteger(), nullable=False,
                                    server_default="0"))
    op.add_column("runs", sa.Column("resources", sa.JSON(), nullable=True))
    op.add_column("runs", sa.Column("status_message", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("status_message")
        batch.drop_column("resources")
        batch.drop_column("event_cursor")
