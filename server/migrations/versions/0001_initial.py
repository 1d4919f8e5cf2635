"""The first schema: runs, metric points, sample grids, checkpoints, run events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("preset", sa.String(100), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("device", sa.String(40), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "parent_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("parent_step", sa.Integer(), nullable=True),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=False),
        sa.Column("data_name", sa.String(40), nullable=False),
        sa.Column("loss_name", sa.String(40), nullable=False),
        sa.Column("last_metrics", sa.JSON(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("rewound_seq", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_runs_status", "runs", ["status"])
    op.create_index("ix_runs_parent_id", "runs", ["parent_id"])

    def child(name: str, *columns: sa.Column) -> None:
        op.create_table(
            name,
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column(
                "run_id", sa.String(32), sa.ForeignKey("runs.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("step", sa.Integer(), nullable=False),
            *columns,
        )

    child("metric_points", sa.Column("values", sa.JSON(), nullable=False))
    op.create_index("ix_metric_points_run_step", "metric_points", ["run_id", "step"])
    child(
        "sample_grids",
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("file", sa.String(200), nullable=False),
        sa.Column("nrow", sa.Integer(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
    )
    op.create_index("ix_sample_grids_run_step", "sample_grids", ["run_id", "step"])
    child(
        "checkpoints",
        sa.Column("file", sa.String(200), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_checkpoints_run_step", "checkpoints", ["run_id", "step"])
    child(
        "run_events",
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_run_events_run_seq", "run_events", ["run_id", "seq"])


def downgrade() -> None:
    for table in ("run_events", "checkpoints", "sample_grids", "metric_points", "runs"):
        op.drop_table(table)
