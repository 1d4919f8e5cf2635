"""Database tables (SQLAlchemy 2). Schema changes go through a migration in migrations/versions.

Every row that the live stream produces carries the run's ``seq``: a per-run counter the hub
assigns as events arrive, which is how a reconnecting client asks for exactly what it missed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = ["Base", "CheckpointRow", "MetricPoint", "Run", "RunEvent", "SampleRow"]

ACTIVE = ("queued", "starting", "running", "paused")
TERMINAL = ("stopped", "completed", "diverged", "failed", "interrupted")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp that always reads back as UTC: SQLite keeps no offset, and a naive time in
    the API would be read as the browser's local time."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, datetime: UTCDateTime()}


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]]
    preset: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    device: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("runs.id", ondelete="SET NULL"), index=True
    )
    parent_step: Mapped[int | None]
    step: Mapped[int] = mapped_column(default=0)
    total_steps: Mapped[int]
    data_name: Mapped[str] = mapped_column(String(40))
    loss_name: Mapped[str] = mapped_column(String(40))
    last_metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # seq of the last rewind (a resume from a checkpoint drops rows after its step)
    rewound_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class RunChild:
    """The columns every per-run row has; rows go with their run (ON DELETE CASCADE)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[int]


class MetricPoint(RunChild, Base):
    """One report window of a run: the window's mean of every scalar, at its last step."""

    __tablename__ = "metric_points"
    __table_args__ = (Index("ix_metric_points_run_step", "run_id", "step"),)

    values: Mapped[dict[str, Any]]


class SampleRow(RunChild, Base):
    """A sample grid (PNG) or a 2D view (JSON) in the run's folder."""

    __tablename__ = "sample_grids"
    __table_args__ = (Index("ix_sample_grids_run_step", "run_id", "step"),)

    kind: Mapped[str] = mapped_column(String(10))  # grid | view
    file: Mapped[str] = mapped_column(String(200))  # relative to the run folder
    nrow: Mapped[int | None]
    count: Mapped[int | None]


class CheckpointRow(RunChild, Base):
    __tablename__ = "checkpoints"
    __table_args__ = (Index("ix_checkpoints_run_step", "run_id", "step"),)

    file: Mapped[str] = mapped_column(String(200))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunEvent(RunChild, Base):
    """Status changes and live hyper-parameter changes (markers on the charts)."""

    __tablename__ = "run_events"
    __table_args__ = (Index("ix_run_events_run_seq", "run_id", "seq"),)

    kind: Mapped[str] = mapped_column(String(20))  # status | hyperparams
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
