"""The metric series cache: rows decoded once, new rows read incrementally, rewinds reload."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from server.db import Database, migrate
from server.models import MetricPoint, Run
from server.runs import SeriesCache, decimate

RUN = "bbbbbbbbbbbb"


@pytest.fixture()
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'series.db'}")
    migrate(database)
    with database.write() as session:
        session.add(Run(id=RUN, name="r", config={}, status="running", total_steps=100,
                        data_name="ring", loss_name="hinge", last_metrics={}, seq=0,
                        rewound_seq=0, step=0))
    yield database
    database.dispose()


def add_rows(db: Database, steps: range, first_seq: int, **extra: float) -> int:
    """Metric rows at ``steps``; the run's seq moves past them. Returns the last seq."""
    seq = first_seq
    with db.write() as session:
        for step in steps:
            values = {"loss_d": step / 10, "loss_g": None if step % 7 == 0 else -step, **extra}
            session.add(MetricPoint(run_id=RUN, seq=seq, step=step, values=values))
            seq += 1
        session.execute(update(Run).where(Run.id == RUN).values(seq=seq - 1))
    return seq - 1


def query(db: Database, cache: SeriesCache, **kwargs) -> dict:
    with db.read() as session:
        return cache.query(session, session.get(Run, RUN), **kwargs)


def test_series_grow_with_new_rows_and_skip_missing_values(db: Database) -> None:
    cache = SeriesCache()
    add_rows(db, range(1, 11), first_seq=1)
    first = query(db, cache, max_points=None)
    assert first["rows"] == 10 and first["last_step"] == 10
    assert first["series"]["loss_d"]["step"] == list(range(1, 11))
    assert 7 not in first["series"]["loss_g"]["step"]  # a None value is left out
    add_rows(db, range(11, 21), first_seq=11, sigma=2.0)
    second = query(db, cache, max_points=None)
    assert second["rows"] == 20 and second["series"]["loss_d"]["step"] == list(range(1, 21))
    assert second["series"]["sigma"]["step"] == list(range(11, 21))  # a series that starts late
    since = query(db, cache, max_points=None, after_step=15, keys={"loss_d"})
    assert set(since["series"]) == {"loss_d"} and since["series"]["loss_d"]["step"] == [
        16, 17, 18, 19, 20]
    after_seq = query(db, cache, max_points=None, after_seq=18)
    assert after_seq["rows"] == 2


def test_a_rewind_reloads_the_series(db: Database) -> None:
    cache = SeriesCache()
    add_rows(db, range(1, 21), first_seq=1)
    assert query(db, cache, max_points=None)["rows"] == 20
    # a resume from the checkpoint at step 10: later rows are dropped and replayed
    with db.write() as session:
        session.execute(delete(MetricPoint).where(MetricPoint.step > 10))
        session.execute(update(Run).where(Run.id == RUN).values(seq=21, rewound_seq=21))
    add_rows(db, range(11, 16), first_seq=22)
    again = query(db, cache, max_points=None)
    assert again["series"]["loss_d"]["step"] == list(range(1, 16)) and again["rows"] == 15


def test_an_older_snapshot_sees_only_its_own_rows(db: Database) -> None:
    cache = SeriesCache()
    add_rows(db, range(1, 11), first_seq=1)
    with db.read() as session:
        old = session.get(Run, RUN)
        session.expunge(old)
    add_rows(db, range(11, 21), first_seq=11)
    assert query(db, cache, max_points=None)["rows"] == 20
    with db.read() as session:
        assert cache.query(session, old, max_points=None)["rows"] == 10


def reference_decimate(steps, values, max_points):
    """The plain-Python definition: first, last, each bucket's min and max in step order."""
    pts = [(s, v) for s, v in zip(steps, values, strict=True) if v is not None]
    if len(pts) <= max_points:
        return [s for s, _ in pts], [v for _, v in pts]
    interior = pts[1:-1]
    buckets = max(1, (max_points - 2) // 2)
    keep = [pts[0]]
    for b in range(buckets):
        chunk = interior[b * len(interior) // buckets: (b + 1) * len(interior) // buckets]
        if chunk:
            lo = min(range(len(chunk)), key=lambda i: chunk[i][1])
            hi = max(range(len(chunk)), key=lambda i: chunk[i][1])
            keep.extend(chunk[i] for i in sorted({lo, hi}))
    keep.append(pts[-1])
    return [s for s, _ in keep], [v for _, v in keep]


@pytest.mark.parametrize("n,limit", [(10, 4), (1000, 50), (1001, 7), (12_345, 2000),
                                     (1007, 500)])  # 1005 / 249 * 249 < 1005 in floats
def test_decimate_matches_the_plain_definition(n: int, limit: int) -> None:
    rng = random.Random(n)
    steps = list(range(n))
    values = [None if rng.random() < 0.05 else math.floor(rng.gauss(0, 3)) for _ in steps]
    assert decimate(steps, values, limit) == reference_decimate(steps, values, limit)


def test_decimate_keeps_every_point_in_some_bucket_for_any_length() -> None:
    for n in range(5, 1500, 7):
        for limit in (4, 9, 100, 500):
            steps, values = decimate(list(range(n)), [float(i) for i in range(n)], limit)
            assert len(values) <= limit and steps[0] == 0 and steps[-1] == n - 1
