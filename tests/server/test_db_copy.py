"""`ganscope db status|migrate|copy`: a lab's data moves between SQLite and PostgreSQL whole,
both ways; a target with data is refused unless --merge; the errors a user meets say what to do."""

from __future__ import annotations

import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from server.cli import main
from server.db import Database, DatabaseError, migrate, open_database
from server.db_tools import tables
from server.models import (
    CheckpointRow,
    Judgment,
    MetricPoint,
    PoolImage,
    Run,
    RunEvent,
    SampleRow,
    Study,
    StudyCondition,
    StudySession,
    StudyTrial,
    Sweep,
)
from tests.server.databases import EXTERNAL_URL, database_url, require_postgresql

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def populate(db: Database, tag: str, runs: int = 2) -> None:
    """A row in every table: runs of a sweep (one resumed from the other) with their metrics,
    grids, checkpoints and events; a study with conditions, images, a session, trials and
    judgments. ``tag`` makes the ids of one call differ from another's."""
    migrate(db)
    with db.write() as session:
        session.add(Sweep(id=f"sw{tag}", name="lr sweep", created_at=T0, spec={"axes": {}},
                          metric="w1_exact", goal="min"))
        session.flush()
        for r in range(runs):
            run_id = f"run{tag}{r}"
            session.add(Run(
                id=run_id, name=f"run {r}", config={"seed": r, "loss": {"name": "hinge"}},
                preset="ring8-gan", status="completed", created_at=T0 + timedelta(minutes=r),
                updated_at=T0, step=100, total_steps=100, data_name="ring", loss_name="hinge",
                last_metrics={"loss_d": 0.5}, seq=4, sweep_id=f"sw{tag}",
                sweep_point={"seed": r}, sweep_index=r,
                parent_id=f"run{tag}0" if r else None, parent_step=50 if r else None))
            session.flush()
            for step in (50, 100):
                session.add(MetricPoint(run_id=run_id, seq=step // 50, step=step,
                                        values={"loss_d": 1 / step, "w1_exact": 0.1}))
            session.add(SampleRow(run_id=run_id, seq=3, step=100, kind="sample",
                                  file="samples/step_00000100.png", nrow=8, count=64))
            session.add(CheckpointRow(run_id=run_id, seq=3, step=100, created_at=T0,
                                      file="checkpoints/step_00000100.pt", size_bytes=1234))
            session.add(RunEvent(run_id=run_id, seq=4, step=100, kind="status", created_at=T0,
                                 data={"status": "completed"}))
        session.add(Study(
            id=f"st{tag}", name="study", protocol="2afc", presentation="sequential",
            exposure_ms=1000, gap_ms=500, practice_trials=1, main_trials=1, vigilance_rate=0.1,
            vigilance_pass=0.8, instructions="look", completion_code="C0DE", real_source="ring",
            seed=3, status="open", created_at=T0))
        session.flush()
        condition = StudyCondition(study_id=f"st{tag}", position=0, label="ema",
                                   run_id=f"run{tag}0", step=100, ema=True)
        session.add(condition)
        session.flush()
        for i, kind in enumerate(("real", "fake")):
            session.add(PoolImage(id=f"img{tag}{i}", study_id=f"st{tag}", kind=kind,
                                  condition_id=condition.id if kind == "fake" else None,
                                  position=i))
        sess = StudySession(study_id=f"st{tag}", participant="P1", token=f"token-{tag}",
                            condition_id=condition.id, seed=7, total_trials=2, started_at=T0,
                            user_agent="pytest")
        session.add(sess)
        session.flush()
        for position, phase in enumerate(("practice", "main")):
            session.add(StudyTrial(session_id=sess.id, position=position, phase=phase,
                                   vigilance=False, images=[f"img{tag}0", f"img{tag}1"],
                                   answer=1, fake_shown=True))
            session.add(Judgment(session_id=sess.id, position=position, response=1,
                                 correct=True, fooled=False, exposures_ms=[1000.0, 1001.5],
                                 response_ms=420.0, created_at=T0))


def _numeric_id(column) -> bool:
    return column.primary_key and column.type.python_type is int


def _text(row: tuple) -> list[str]:
    return [str(v) for v in row]


def dump(db: Database, *, ids: bool = True) -> dict[str, list[tuple]]:
    """Every table's rows in primary-key order; ``ids=False`` leaves out numeric ids and the
    references to them (a merge renumbers those)."""
    out = {}
    with db.read() as session:
        for table in tables():
            [pk] = table.primary_key.columns
            columns = [c for c in table.c if ids or not (
                _numeric_id(c) or any(_numeric_id(fk.column) for fk in c.foreign_keys))]
            rows = session.execute(select(*columns).order_by(pk)).all()
            out[table.name] = [tuple(row) for row in rows]
    return out


@pytest.fixture(params=[("sqlite", "postgresql"), ("postgresql", "sqlite")],
                ids=["sqlite-to-postgresql", "postgresql-to-sqlite"])
def pair(request: pytest.FixtureRequest, tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with database_url(request.param[0], tmp_path / "a") as a, \
            database_url(request.param[1], tmp_path / "b") as b:
        source, target = Database(a), Database(b)
        yield source, target
        source.dispose()
        target.dispose()


def test_every_table_is_filled_by_the_fixture(tmp_path: Path) -> None:
    """A new table must be added to populate(), so that the copy tests cover it."""
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    populate(db, "a")
    empty = [name for name, rows in dump(db).items() if not rows]
    db.dispose()
    assert empty == []


def test_copy_moves_every_row_both_ways(pair, capsys: pytest.CaptureFixture) -> None:
    source, target = pair
    populate(source, "a")
    assert main(["db", "copy", "--from", source.url, "--to", target.url]) == 0
    out = capsys.readouterr().out
    assert "runs" in out and "study_judgments" in out and "***" in out  # password hidden
    assert dump(target) == dump(source)
    with source.read() as a, target.read() as b:  # an empty target keeps the ids themselves
        ids = a.execute(select(Judgment.id, Judgment.session_id)).all()
        assert b.execute(select(Judgment.id, Judgment.session_id)).all() == ids
    # the target's generated ids go on after the copied ones
    with target.write() as session:
        session.add(MetricPoint(run_id="runa0", seq=9, step=200, values={}))
    with target.read() as session:
        assert session.execute(select(MetricPoint)).scalars().all()[-1].step == 200


def test_a_target_with_data_is_refused_unless_merge(pair, capsys: pytest.CaptureFixture) -> None:
    source, target = pair
    populate(source, "a")
    populate(target, "b", runs=1)
    before = dump(target, ids=False)
    assert main(["db", "copy", "--from", source.url, "--to", target.url]) == 2
    err = capsys.readouterr().err
    assert "already holds data" in err and "--merge" in err and "Traceback" not in err
    assert dump(target, ids=False) == before

    assert main(["db", "copy", "--from", source.url, "--to", target.url, "--merge"]) == 0
    merged = dump(target, ids=False)
    for name, rows in dump(source, ids=False).items():
        assert sorted(merged[name], key=_text) == sorted(before[name] + rows, key=_text), name
    # the copied judgments hang on the copied session, not on the target's own one
    with target.read() as session:
        pairs = session.execute(select(StudySession.token, Judgment.position).join(
            Judgment, Judgment.session_id == StudySession.id)).all()
    assert sorted(pairs) == [("token-a", 0), ("token-a", 1), ("token-b", 0), ("token-b", 1)]

    # again: everything is there already, nothing is copied twice
    populate_more = Database(source.url)
    with populate_more.write() as session:
        session.add(Run(id="runnew", name="new", config={}, status="completed", created_at=T0,
                        updated_at=T0, total_steps=1, data_name="ring", loss_name="hinge"))
        session.flush()
        session.add(MetricPoint(run_id="runnew", seq=1, step=1, values={"loss_d": 1.0}))
    populate_more.dispose()
    assert main(["db", "copy", "--from", source.url, "--to", target.url, "--merge"]) == 0
    again = dump(target, ids=False)
    assert len(again["runs"]) == len(merged["runs"]) + 1
    assert len(again["metric_points"]) == len(merged["metric_points"]) + 1
    assert again["study_judgments"] == merged["study_judgments"]


def test_status_and_migrate(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    assert main(["db", "status", "--url", url]) == 0
    assert "none (empty)" in capsys.readouterr().out
    assert main(["db", "migrate", "--url", url]) == 0
    db = Database(url)
    populate(db, "a")
    db.dispose()
    assert main(["db", "status", "--url", url]) == 0
    out = capsys.readouterr().out
    assert "revision  0005" in out and "metric_points" in out
    assert any(line.split() == ["metric_points", "4"] for line in out.splitlines())


def test_status_on_postgresql_hides_the_password(tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    with database_url("postgresql", tmp_path) as url:
        assert main(["db", "migrate", "--url", url]) == 0
        out = capsys.readouterr().out
        assert "***" in out and ":ganscope@" not in out and "revision  0005" in out


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_errors_say_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(argv: list[str], *needles: str) -> None:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err
        for needle in needles:
            assert needle in err, err

    unreachable = f"postgresql+psycopg://u:secret@127.0.0.1:{_closed_port()}/db"
    fails(["db", "status", "--url", unreachable], "is PostgreSQL running", "127.0.0.1:", "***")
    fails(["db", "copy", "--to", unreachable, "--data-dir", str(tmp_path)], "cannot connect")
    fails(["db", "status", "--url", "nonsense://"], "not one SQLAlchemy reads")

    # a database that a newer GANscope migrated
    url = f"sqlite:///{tmp_path / 'new.db'}"
    db = Database(url)
    migrate(db)
    with db.write() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0099_future'"))
    db.dispose()
    fails(["db", "status", "--url", url], "0099_future", "upgrade ganscope")
    monkeypatch.setenv("GANSCOPE_DATABASE_URL", url)
    fails(["serve", "--data-dir", str(tmp_path), "--port", str(_closed_port())],
          "0099_future", "upgrade ganscope")
    monkeypatch.delenv("GANSCOPE_DATABASE_URL")

    # no driver: psycopg made unimportable
    monkeypatch.setitem(sys.modules, "psycopg", None)
    fails(["db", "status", "--url", "postgresql://u:p@127.0.0.1/db"],
          "pip install 'ganscope[postgres]'", "'psycopg'")


def test_a_wrong_password_is_named(capsys: pytest.CaptureFixture) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(require_postgresql()).set(password="not-the-password")
    with pytest.raises(DatabaseError, match=r"check the user .* and password"):
        open_database(url.render_as_string(hide_password=False))
    missing = make_url(EXTERNAL_URL).set(database="no_such_database")
    with pytest.raises(DatabaseError, match="create the database first"):
        open_database(missing.render_as_string(hide_password=False))
