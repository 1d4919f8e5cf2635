"""Real-vs-fake studies: studies, conditions, pool images, sessions, trials, judgments.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("protocol", sa.String(20), nullable=False),
        sa.Column("presentation", sa.String(20), nullable=False),
        sa.Column("exposure_ms", sa.Integer(), nullable=False),
        sa.Column("gap_ms", sa.Integer(), nullable=False),
        sa.Column("practice_trials", sa.Integer(), nullable=False),
        sa.Column("main_trials", sa.Integer(), nullable=False),
        sa.Column("vigilance_rate", sa.Float(), nullable=False),
        sa.Column("vigilance_pass", sa.Float(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("completion_code", sa.String(100), nullable=False),
        sa.Column("real_source", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "study_conditions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(32), sa.ForeignKey("studies.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(100), nullable=False),
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("ema", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_study_conditions_study_id", "study_conditions", ["study_id"])
    op.create_index("ix_study_conditions_run_id", "study_conditions", ["run_id"])
    op.create_table(
        "study_images",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("study_id", sa.String(32), sa.ForeignKey("studies.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("condition_id", sa.Integer(),
                  sa.ForeignKey("study_conditions.id", ondelete="CASCADE"), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index("ix_study_images_study_id", "study_images", ["study_id"])
    op.create_table(
        "study_sessions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(32), sa.ForeignKey("studies.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("participant", sa.String(100), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("condition_id", sa.Integer(),
                  sa.ForeignKey("study_conditions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("total_trials", sa.Integer(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.UniqueConstraint("study_id", "participant", name="uq_study_sessions_participant"),
        sa.UniqueConstraint("token"),
    )
    op.create_index("ix_study_sessions_study_id", "study_sessions", ["study_id"])
    op.create_index("ix_study_sessions_condition_id", "study_sessions", ["condition_id"])
    op.create_table(
        "study_trials",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Integer(),
                  sa.ForeignKey("study_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(10), nullable=False),
        sa.Column("vigilance", sa.Boolean(), nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("answer", sa.Integer(), nullable=False),
        sa.Column("fake_shown", sa.Boolean(), nullable=False),
        sa.UniqueConstraint("session_id", "position", name="uq_study_trials_position"),
    )
    op.create_table(
        "study_judgments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Integer(),
                  sa.ForeignKey("study_sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("response", sa.Integer(), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        sa.Column("fooled", sa.Boolean(), nullable=False),
        sa.Column("exposures_ms", sa.JSON(), nullable=False),
        sa.Column("response_ms", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("session_id", "position", name="uq_study_judgments_position"),
    )


def downgrade() -> None:
    for table in ("study_judgments", "study_trials", "study_sessions", "study_images",
                  "study_conditions", "studies"):
        op.drop_table(table)
