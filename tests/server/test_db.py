"""Database: migrations keep data, the models match the migrations, concurrent writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from server.db import Database, alembic_config, migrate
from server.models import Base, MetricPoint, Run
from tests.server.databases import KINDS, database_url


@pytest.fixture(params=KINDS)
def db(request: pytest.FixtureRequest, tmp_path: Path):
    """An empty database: SQLite, and a fresh PostgreSQL one (see tests/server/databases.py)."""
    with database_url(request.param, tmp_path) as url:
        database = Database(url)
        yield database
        database.dispose()


def _add_run(db: Database, run_id: str = "aaaaaaaaaaaa") -> None:
    """A run with a metric row and an event, written with the columns of the first revision
    only (plain SQL: the ORM would also write the columns later revisions added)."""
    now = "2026-01-01 00:00:00"
    with db.write() as session:
        session.execute(text(
            "INSERT INTO runs (id, name, config, status, created_at, updated_at, step, "
            "total_steps, data_name, loss_name, last_metrics, seq, rewound_seq) VALUES "
            "(:id, 'r', '{\"seed\": 1}', 'completed', :now, :now, 10, 10, 'ring', 'hinge', "
            "'{}', 2, 0)"), {"id": run_id, "now": now})
        session.execute(text(
            "INSERT INTO metric_points (run_id, seq, step, \"values\") VALUES "
            "(:id, 1, 10, '{\"loss_d\": 0.5}')"), {"id": run_id})
        session.execute(text(
            "INSERT INTO run_events (run_id, seq, step, kind, data, created_at) VALUES "
            "(:id, 2, 10, 'status', '{\"status\": \"completed\"}', :now)"),
            {"id": run_id, "now": now})


def test_migrating_again_keeps_every_row(db: Database) -> None:
    migrate(db)
    _add_run(db)
    migrate(db)  # a restart, or an upgrade with nothing new: a no-op
    with db.read() as session:
        assert session.get(Run, "aaaaaaaaaaaa").name == "r"
        assert session.execute(select(MetricPoint.values)).scalar_one() == {"loss_d": 0.5}


def test_each_migration_keeps_the_rows_of_the_previous_one(db: Database) -> None:
    """Walk the revisions one at a time with data in the tables: nothing may be lost."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(db.url))
    revisions = list(reversed(list(script.walk_revisions())))
    migrate(db, revisions[0].revision)
    _add_run(db)
    for revision in revisions[1:]:
        migrate(db, revision.revision)
        with db.read() as session:  # plain SQL: the ORM knows the newest columns only
            names = session.execute(text("SELECT name FROM runs")).scalars().all()
            assert names == ["r"], revision.revision
            points = session.execute(text("SELECT count(*) FROM metric_points")).scalar_one()
            assert points == 1, revision.revision
    with db.read() as session:
        assert session.get(Run, "aaaaaaaaaaaa").event_cursor == 0  # 0003's default


def test_the_models_match_the_migrations(db: Database) -> None:
    """A table or column added to models.py without a migration fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate(db)
    with db.write_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_deleting_a_run_deletes_its_rows(db: Database) -> None:
    migrate(db)
    _add_run(db)
    with db.write() as session:
        session.delete(session.get(Run, "aaaaaaaaaaaa"))
    with db.read() as session:
        assert session.execute(select(MetricPoint)).scalars().all() == []


def test_concurrent_read_then_write_transactions_lose_nothing(db: Database) -> None:
    """Four threads increment one counter 100 times each with read-then-write transactions:
    with BEGIN IMMEDIATE (SQLite) / FOR UPDATE (PostgreSQL), no update is lost, no error."""
    migrate(db)
    _add_run(db)
    errors: list[BaseException] = []

    def bump() -> None:
        try:
            for _ in range(100):
                with db.write() as session:
                    run = session.execute(select(Run).where(Run.id == "aaaaaaaaaaaa")
                                          .with_for_update()).scalar_one()
                    session.execute(update(Run).where(Run.id == run.id)
                                    .values(step=run.step + 1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as session:
        assert session.get(Run, "aaaaaaaaaaaa").step == 10 + 400


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.read() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    db.dispose()
