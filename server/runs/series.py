"""Metric series in memory: each run's stored metric rows, decoded once, as columns.

Every chart (a run page's history, the compare page, REST readers polling a live run) asks
for the same thing: a run's metrics as series, decimated. Reading and JSON-decoding every
row for every request made a storm of readers stall the server (about 100 ms of CPU per
request at 3,500 rows). :class:`SeriesCache` keeps, per recently read run, the rows up to a
``seq`` as numpy columns and reads only the rows committed since; a rewind (a resume from an
earlier checkpoint drops later rows) is seen through the run's ``rewound_seq`` and reloads.

Decimation keeps, per bucket of consecutive points, the minimum and the maximum (in step
order), plus the first and last point, so spikes and the current value always show.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select

from server.models import MetricPoint, Run

__all__ = ["RunSeries", "SeriesCache", "decimate"]


def decimate(steps: Any, values: Any, max_points: int) -> tuple[list[int], list[float]]:
    """At most ``max_points`` (>= 4) points of the series, keeping every bucket's extremes.

    Missing values (None or NaN: non-finite or not reported at that step) are left out.
    """
    s = np.asarray(steps, dtype=np.int64)
    v = np.asarray([np.nan if x is None else x for x in values] if isinstance(values, list)
                   else values, dtype=np.float64)
    keep = ~np.isnan(v)
    s, v = s[keep], v[keep]
    n = len(v)
    if n > max_points:
        buckets = max(1, (max_points - 2) // 2)
        # interior points 1..n-2 split into `buckets` runs of nearly equal length
        bounds = 1 + np.arange(buckets + 1) * (n - 2) // buckets  # exact: ends at n - 1
        starts, ends = bounds[:-1], bounds[1:]
        nonempty = ends > starts
        starts, ends = starts[nonempty], ends[nonempty]
        owner = np.repeat(np.arange(len(starts)), ends - starts)  # bucket of each interior point
        interior = v[1:n - 1]
        lows = np.minimum.reduceat(interior, starts - 1)
        highs = np.maximum.reduceat(interior, starts - 1)
        # the first point of each bucket that reaches the bucket's minimum / maximum
        lo_idx = _first_per_bucket(interior == lows[owner], owner)
        hi_idx = _first_per_bucket(interior == highs[owner], owner)
        chosen = np.unique(np.concatenate(([0], lo_idx + 1, hi_idx + 1, [n - 1])))
        s, v = s[chosen], v[chosen]
    return s.tolist(), v.tolist()


def _first_per_bucket(mask: np.ndarray, owner: np.ndarray) -> np.ndarray:
    positions = np.flatnonzero(mask)
    _, first = np.unique(owner[positions], return_index=True)
    return positions[first]


@dataclass
class RunSeries:
    """One run's metric rows up to ``seq``: a step and a seq per row, a column per name
    (NaN where the row has no finite value for it)."""

    rewound_seq: int = 0
    seq: int = 0
    size: int = 0
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    seqs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    columns: dict[str, np.ndarray] = field(default_factory=dict)

    def extend(self, rows: list[tuple[int, int, dict[str, Any]]]) -> None:
        """Append ``(seq, step, values)`` rows (in seq order)."""
        if not rows:
            return
        need = self.size + len(rows)
        if need > len(self.steps):
            capacity = max(need, 2 * len(self.steps), 256)
            self.steps = _grown(self.steps, capacity, 0)
            self.seqs = _grown(self.seqs, capacity, 0)
            self.columns = {k: _grown(c, capacity, np.nan) for k, c in self.columns.items()}
        at = self.size
        for i, (seq, step, values) in enumerate(rows, start=at):
            self.steps[i] = step
            self.seqs[i] = seq
            for name, value in values.items():
                column = self.columns.get(name)
                if column is None:
                    column = self.columns[name] = np.full(len(self.steps), np.nan)
                column[i] = np.nan if value is None else value
        self.size = need
        self.seq = max(self.seq, rows[-1][0])
        if (at and self.steps[at] < self.steps[at - 1]) or not _sorted(self.steps[at:need]):
            self._sort()

    def _sort(self) -> None:
        """Step order (seq order within a step); rows normally arrive in it already."""
        order = np.lexsort((self.seqs[:self.size], self.steps[:self.size]))
        self.steps[:self.size] = self.steps[order]
        self.seqs[:self.size] = self.seqs[order]
        for column in self.columns.values():
            column[:self.size] = column[order]

    def select(self, *, after_step: int | None = None, after_seq: int | None = None,
               upto_seq: int | None = None) -> np.ndarray:
        """Indices of the rows in range (step order)."""
        mask = np.ones(self.size, bool)
        if after_step is not None:
            mask &= self.steps[:self.size] > after_step
        if after_seq is not None:
            mask &= self.seqs[:self.size] > after_seq
        if upto_seq is not None:
            mask &= self.seqs[:self.size] <= upto_seq
        return np.flatnonzero(mask)

    def series(self, rows: np.ndarray, max_points: int | None,
               keys: set[str] | None = None) -> dict[str, dict[str, list]]:
        """``{name: {"step": [...], "value": [...]}}`` over ``rows``, each decimated."""
        out = {}
        steps = self.steps[rows]
        for name, column in self.columns.items():
            if keys is not None and name not in keys:
                continue
            values = column[rows]
            present = ~np.isnan(values)
            if not present.any():
                continue
            if max_points is None:
                out[name] = {"step": steps[present].tolist(), "value": values[present].tolist()}
            else:
                kept_steps, kept = decimate(steps[present], values[present], max_points)
                out[name] = {"step": kept_steps, "value": kept}
        return out

    def last_step(self, rows: np.ndarray) -> int | None:
        return int(self.steps[rows[-1]]) if len(rows) else None


def _grown(array: np.ndarray, capacity: int, fill: float) -> np.ndarray:
    out = np.full(capacity, fill, dtype=array.dtype)
    out[:len(array)] = array
    return out


def _sorted(steps: np.ndarray) -> bool:
    return bool(np.all(steps[1:] >= steps[:-1]))


class SeriesCache:
    """The metric series of the ``max_runs`` most recently read runs, kept up to date
    incrementally, and the answers to the latest questions about them (a storm of readers of
    one live run asks the same thing many times between two of its rows). Safe to use from
    the threads that serve requests."""

    def __init__(self, max_runs: int = 16, max_answers: int = 64) -> None:
        self.max_runs = max_runs
        self.max_answers = max_answers
        self._runs: OrderedDict[str, RunSeries] = OrderedDict()
        self._answers: OrderedDict[tuple, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def query(self, session: Any, run: Run, *, max_points: int | None,
              keys: set[str] | None = None, after_step: int | None = None,
              after_seq: int | None = None) -> dict[str, Any]:
        """``{"rows", "last_step", "series"}`` of ``run``'s metrics up to ``run.seq``, read
        in ``session`` (the transaction ``run`` was read in, so every row up to its seq is
        committed and visible), optionally only rows after a step or a seq."""
        key = (run.id, run.seq, run.rewound_seq, max_points,
               None if keys is None else frozenset(keys), after_step, after_seq)
        with self._lock:
            answer = self._answers.get(key)
            if answer is not None:
                self._answers.move_to_end(key)
                return answer
            series = self._load(session, run)
            rows = series.select(after_step=after_step, after_seq=after_seq, upto_seq=run.seq)
            answer = {"rows": len(rows), "last_step": series.last_step(rows),
                      "series": series.series(rows, max_points, keys)}
            self._answers[key] = answer
            while len(self._answers) > self.max_answers:
                self._answers.popitem(last=False)
            return answer

    def _load(self, session: Any, run: Run) -> RunSeries:
        cached = self._runs.get(run.id)
        if cached is None or cached.rewound_seq != run.rewound_seq:
            cached = RunSeries(rewound_seq=run.rewound_seq)
        if cached.seq < run.seq:
            rows = session.execute(
                select(MetricPoint.seq, MetricPoint.step, MetricPoint.values)
                .where(MetricPoint.run_id == run.id, MetricPoint.seq > cached.seq,
                       MetricPoint.seq <= run.seq)
                .order_by(MetricPoint.seq)
            ).all()
            cached.extend([tuple(r) for r in rows])
            cached.seq = run.seq  # rows of other kinds fill the seqs in between
        self._runs[run.id] = cached
        self._runs.move_to_end(run.id)
        while len(self._runs) > self.max_runs:
            self._runs.popitem(last=False)
        return cached

    def forget(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)
