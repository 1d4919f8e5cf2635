"""Database tables (SQLAlchemy 2). Schema changes go through a migration in migrations/versions.

Every row that the live stream produces carries the run's ``seq``: a per-run counter the hub
assigns as events arrive, which is how a reconnecting client asks for exactly what it missed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = ["Base", "CheckpointRow", "Judgment", "MetricPoint", "PoolImage", "Run", "RunEvent",
           "SampleRow", "Study", "StudyCondition", "StudySession", "StudyTrial"]


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
    status: Mapped[str] = mapped_column(String(20), index=True)  # a gan_core RunStatus
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    device: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    # what the last status said ("waiting for a GPU in the cluster", "on node 10.0.0.7")
    status_message: Mapped[str | None] = mapped_column(Text)
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
    # a cluster worker numbers the events it sends; the last one stored (see Hub.publish)
    event_cursor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # Ray custom resources the run asks for ({"node2": 1}); None: none
    resources: Mapped[dict[str, Any] | None]
    # the sweep the run is a point of, and its values on the sweep's axes
    sweep_id: Mapped[str | None] = mapped_column(
        ForeignKey("sweeps.id", ondelete="SET NULL"), index=True
    )
    sweep_point: Mapped[dict[str, Any] | None]
    sweep_index: Mapped[int | None]  # the point's place in the sweep (its table's order)


class Sweep(Base):
    """Runs made from one config and a set of axes; the runs are ordinary runs."""

    __tablename__ = "sweeps"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the request as given: preset/config/overrides, axes, search, count, seed
    spec: Mapped[dict[str, Any]]
    metric: Mapped[str] = mapped_column(String(100))
    goal: Mapped[str] = mapped_column(String(3))
    stop_rule: Mapped[str | None] = mapped_column(String(20))


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

    kind: Mapped[str] = mapped_column(String(10))  # sample | view (gan_core.events kinds)
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


# -- real-vs-fake studies with people ------------------------------------------------------------


class Study(Base):
    """A real-vs-fake study: its protocol, and image pools frozen at creation."""

    __tablename__ = "studies"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    protocol: Mapped[str] = mapped_column(String(20))  # 2afc | single
    presentation: Mapped[str] = mapped_column(String(20))  # sequential | side_by_side
    exposure_ms: Mapped[int]
    gap_ms: Mapped[int]
    practice_trials: Mapped[int]
    main_trials: Mapped[int]
    vigilance_rate: Mapped[float] = mapped_column(Float)
    # the share of vigilance trials a participant must get right not to be flagged
    vigilance_pass: Mapped[float] = mapped_column(Float)
    instructions: Mapped[str] = mapped_column(Text)
    completion_code: Mapped[str] = mapped_column(String(100))
    real_source: Mapped[str] = mapped_column(Text)  # what the real images are, in words
    seed: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))  # open | closed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StudyCondition(Base):
    """One generator under test: a run's checkpoint (G or its EMA), with a label."""

    __tablename__ = "study_conditions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"),
                                          index=True)
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(100))
    # no foreign key: deleting a run must not delete the judgments made of its images
    run_id: Mapped[str] = mapped_column(String(32), index=True)
    step: Mapped[int]
    ema: Mapped[bool]


class PoolImage(Base):
    """An image of a study's pool; ``id`` is random and is all a participant ever sees."""

    __tablename__ = "study_images"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"),
                                          index=True)
    kind: Mapped[str] = mapped_column(String(10))  # real | fake | vigilance
    condition_id: Mapped[int | None] = mapped_column(
        ForeignKey("study_conditions.id", ondelete="CASCADE"))
    position: Mapped[int]


class StudySession(Base):
    """One participant's one attempt at a study; trials are fixed when it starts."""

    __tablename__ = "study_sessions"
    __table_args__ = (UniqueConstraint("study_id", "participant",
                                       name="uq_study_sessions_participant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"),
                                          index=True)
    participant: Mapped[str] = mapped_column(String(100))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    condition_id: Mapped[int] = mapped_column(
        ForeignKey("study_conditions.id", ondelete="CASCADE"), index=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    total_trials: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(300))


class StudyTrial(Base):
    """A trial as fixed at assignment: the images in presentation order and the answer."""

    __tablename__ = "study_trials"
    __table_args__ = (UniqueConstraint("session_id", "position", name="uq_study_trials_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("study_sessions.id", ondelete="CASCADE"))
    position: Mapped[int]
    phase: Mapped[str] = mapped_column(String(10))  # practice | main
    vigilance: Mapped[bool]
    images: Mapped[list[str]] = mapped_column(JSON)  # pool image ids, as shown
    # 2afc: the index of the fake among ``images``; single: 1 if the image is fake, else 0
    answer: Mapped[int]
    fake_shown: Mapped[bool]  # single: whether the image is fake (2afc: always)


class Judgment(Base):
    """A participant's answer to a trial; at most one per trial, committed before the next."""

    __tablename__ = "study_judgments"
    __table_args__ = (UniqueConstraint("session_id", "position",
                                       name="uq_study_judgments_position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("study_sessions.id", ondelete="CASCADE"))
    position: Mapped[int]
    response: Mapped[int]  # 2afc: the index chosen as fake; single: 1 fake, 0 real
    correct: Mapped[bool]
    fooled: Mapped[bool]  # a fake judged real
    exposures_ms: Mapped[list[float]] = mapped_column(JSON)  # measured, one per image shown
    response_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
