"""Sweeps: many runs from one config and a set of axes, ranked by one metric, pruned by the
median stopping rule.

A sweep's runs are ordinary runs (``runs.sweep_id``, ``runs.sweep_point``): they queue on the
configured backend and have their run pages, checkpoints and explorer like any other. What a
sweep adds is here: expanding axes into points (grid or random), validating every point as a
run config before anything is created, the table of final and best values, and the rule.

The median stopping rule (Golovin et al., "Google Vizier", 2017; Ray Tune's
MedianStoppingRule): each time a run reports the sweep's metric at step s, past a quarter of
its steps, its best value so far is compared with the median, over the sweep's other runs that
reached step s (at least two), of their running means up to s; a run worse than that median
is stopped, and its status says so.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import logging
import math
import random
import secrets
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from gan_core.status import ACTIVE, RunStatus
from server.db import Database
from server.errors import Conflict, Invalid, NotFound
from server.models import MetricPoint, Run, Sweep
from server.runs import Hub, RunService
from server.schemas import AxisRange, ControlRequest, RunCreate, SweepCreate
from server.settings import Settings

__all__ = ["MedianRule", "SweepService", "expand_points"]

log = logging.getLogger(__name__)

GRACE_FRACTION = 0.25  # the rule judges a run only after this fraction of its steps
MIN_OTHERS = 2  # ... and only against at least this many other runs at the same step


# -- points ------------------------------------------------------------------------------------

def expand_points(body: SweepCreate) -> list[dict[str, Any]]:
    """The sweep's points, each {axis: value} in the order of ``axes``."""
    names = list(body.axes)
    if body.search == "grid":
        if body.count is not None:
            raise Invalid([(("body", "count"), "count is for search 'random'; a grid runs "
                            "every combination")])
        for name, values in body.axes.items():
            if isinstance(values, AxisRange):
                raise Invalid([(("body", "axes", name), "a range needs search 'random'; a "
                                "grid takes a list of values")])
            if not values:
                raise Invalid([(("body", "axes", name), "give at least one value")])
        lists = [body.axes[name] for name in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*lists)]
    if body.count is None:
        raise Invalid([(("body", "count"), "a random search needs count: how many points")])
    rng = random.Random(body.seed)
    for name, values in body.axes.items():
        if isinstance(values, AxisRange):
            if not values.low < values.high:
                raise Invalid([(("body", "axes", name), "low must be below high")])
            if values.log and values.low <= 0:
                raise Invalid([(("body", "axes", name), "a log range needs low > 0")])
        elif not values:
            raise Invalid([(("body", "axes", name), "give at least one value")])
    if all(isinstance(v, list) for v in body.axes.values()):
        grid = list(itertools.product(*(body.axes[n] for n in names)))
        if body.count <= len(grid):  # distinct points: a subset of the grid
            return [dict(zip(names, combo, strict=True)) for combo in rng.sample(grid, body.count)]
    return [{name: _draw(rng, body.axes[name]) for name in names} for _ in range(body.count)]


def _draw(rng: random.Random, axis: list[Any] | AxisRange) -> Any:
    if isinstance(axis, list):
        return rng.choice(axis)
    if axis.log:
        value = math.exp(rng.uniform(math.log(axis.low), math.log(axis.high)))
    else:
        value = rng.uniform(axis.low, axis.high)
    return round(value) if axis.integer else float(f"{value:.6g}")


def default_metric(config: Any) -> str:
    return "w1_exact" if config.is_toy else "loss_g"


def default_goal(metric: str) -> str:
    """Maximize what the registry says is better higher (modes, precision, IS, in any feature
    space); minimize the rest (losses, W1, FID, KID, and metrics it does not know)."""
    from gan_core.evaluations import metric_of

    declared = metric_of(metric)
    return "max" if declared is not None and declared.direction == "higher" else "min"


def axis_labels(names: list[str]) -> dict[str, str]:
    """Each dotted axis by its shortest tail that no other axis shares: optim.g.lr and
    optim.d.lr -> g.lr and d.lr; seed -> seed."""
    labels = {}
    for name in names:
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            tail = ".".join(parts[-k:])
            if not any(o != name and (o == tail or o.endswith("." + tail)) for o in names):
                break
        labels[name] = tail
    return labels


def point_label(point: dict[str, Any]) -> str:
    labels = axis_labels(list(point))
    return ", ".join(f"{labels[name]}={value:g}" if isinstance(value, float)
                     else f"{labels[name]}={value}" for name, value in point.items())


# -- the median stopping rule ------------------------------------------------------------------

@dataclass
class _Tracked:
    metric: str
    goal: str
    values: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # run -> (step, v)
    total: dict[str, int] = field(default_factory=dict)


class MedianRule:
    """Watches the hub's messages of sweeps with ``stop_rule: median`` and stops runs."""

    def __init__(self, stop: Callable[[str], None]) -> None:
        self.stop = stop  # asks for the run to stop; called on the event loop, must not block
        self._sweeps: dict[str, _Tracked] = {}
        self._run_sweep: dict[str, str] = {}
        self._reasons: dict[str, str] = {}  # run -> why it was stopped, until its status
        self._stopped: set[str] = set()
        self.decisions: list[tuple[str, int, float, float]] = []  # for tests and the log

    def track(self, sweep: Sweep, runs: list[Run],
              rows: dict[str, list[tuple[int, float]]] | None = None) -> None:
        tracked = self._sweeps.setdefault(sweep.id, _Tracked(sweep.metric, sweep.goal))
        for run in runs:
            self._run_sweep[run.id] = sweep.id
            tracked.total[run.id] = run.total_steps
            tracked.values.setdefault(run.id, list((rows or {}).get(run.id, [])))

    def observe(self, run_id: str, message: dict[str, Any]) -> None:
        sweep_id = self._run_sweep.get(run_id)
        if sweep_id is None:
            return
        tracked = self._sweeps[sweep_id]
        kind = message["type"]
        if kind == "status":
            if message["status"] == RunStatus.STOPPED and run_id in self._reasons:
                message["message"] = self._reasons.pop(run_id)
            elif message["status"] in (RunStatus.QUEUED, RunStatus.RUNNING):
                self._stopped.discard(run_id)  # resumed: judged afresh
            return
        if kind == "started" and message.get("resumed"):
            step = message["step"]
            tracked.values[run_id] = [(s, v) for s, v in tracked.values[run_id] if s <= step]
            return
        if kind != "metrics":
            return
        value = message["values"].get(tracked.metric)
        if not isinstance(value, int | float) or not math.isfinite(value):
            return
        step = message["step"]
        tracked.values.setdefault(run_id, []).append((step, float(value)))
        self._judge(tracked, run_id, step)

    def _judge(self, tracked: _Tracked, run_id: str, step: int) -> None:
        if run_id in self._stopped or step < GRACE_FRACTION * tracked.total.get(run_id, 0):
            return
        means = []
        for other, values in tracked.values.items():
            if other == run_id or not values or values[-1][0] < step:
                continue  # only runs that got as far
            upto = [v for s, v in values if s <= step]
            if upto:
                means.append(statistics.fmean(upto))
        if len(means) < MIN_OTHERS:
            return
        median = statistics.median(means)
        own = [v for _, v in tracked.values[run_id]]
        best = min(own) if tracked.goal == "min" else max(own)
        if (best > median) if tracked.goal == "min" else (best < median):
            self._stopped.add(run_id)
            self._reasons[run_id] = (f"stopped by the median rule at step {step:,} "
                                     f"({tracked.metric} {best:.4g}, median {median:.4g})")
            self.decisions.append((run_id, step, best, median))
            log.info("run %s: %s", run_id, self._reasons[run_id])
            self.stop(run_id)

    def not_stopped(self, run_id: str) -> None:
        """The stop did not happen (the run ended on its own meanwhile): no reason to give."""
        self._reasons.pop(run_id, None)


# -- the service --------------------------------------------------------------------------------

class SweepService:
    def __init__(self, settings: Settings, db: Database, hub: Hub, runs: RunService) -> None:
        self.settings = settings
        self.db = db
        self.runs = runs
        self.rule = MedianRule(self._schedule_stop)
        self._stopping: set[asyncio.Task[None]] = set()  # referenced until done
        hub.observers.append(self.rule.observe)

    def _schedule_stop(self, run_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._stop_run(run_id))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _stop_run(self, run_id: str) -> None:
        try:
            await self.runs.control(run_id, ControlRequest(action="stop"))
        except (Conflict, NotFound) as exc:  # it ended on its own meanwhile
            self.rule.not_stopped(run_id)
            log.info("run %s: the median rule's stop was not needed: %s", run_id, exc)

    def start(self) -> None:
        """After a restart: the rule picks up the sweeps that still have active runs."""
        with self.db.read() as session:
            sweeps = session.execute(select(Sweep).where(Sweep.stop_rule.is_not(None))).scalars()
            for sweep in sweeps.all():
                runs = self._runs(session, sweep.id)
                if any(r.status in ACTIVE for r in runs):
                    self.rule.track(sweep, runs, self._values(session, sweep.metric, runs))

    # -- create -------------------------------------------------------------------------------

    async def create(self, body: SweepCreate) -> tuple[Sweep, list[str]]:
        points = expand_points(body)
        limit = self.settings.max_sweep_runs
        if len(points) > limit:
            sizes = " x ".join(str(len(v)) for v in body.axes.values() if isinstance(v, list))
            raise Invalid([(("body", "axes"), f"{len(points)} points ({sizes}); at most {limit} "
                            "on this server (GANSCOPE_MAX_SWEEP_RUNS): fewer values, or search "
                            "'random' with a count")])
        base = RunCreate(name=body.name, preset=body.preset, config=body.config,
                         overrides=body.overrides, resources=body.resources)
        base_config = self.runs.build_config(base)
        for name, values in body.axes.items():  # each value alone: the error names it
            for value in values if isinstance(values, list) else []:
                self._point_config(base, {name: value}, ("body", "axes", name),
                                   f"value {value!r}")
        configs = [self._point_config(base, point, ("body", "axes"),
                                      f"point {point_label(point)}") for point in points]
        name = body.name or base_config.name or "sweep"
        metric = body.metric or default_metric(base_config)
        goal = body.goal or default_goal(metric)
        sweep = Sweep(id=secrets.token_hex(6), name=name, metric=metric, goal=goal,
                      stop_rule=body.stop_rule,
                      spec=body.model_dump(mode="json", exclude_none=True))
        for config, point in zip(configs, points, strict=True):
            config.name = f"{name} · {point_label(point)}"[:200]
        runs = await self.runs.create_many(
            [(config, point) for config, point in zip(configs, points, strict=True)],
            preset=body.preset, resources=body.resources or None, sweep=sweep)
        if sweep.stop_rule == "median":
            self.rule.track(sweep, runs)
        return sweep, [r.id for r in runs]

    def _point_config(self, base: RunCreate, point: dict[str, Any], loc: tuple[str, ...],
                      what: str) -> Any:
        body = base.model_copy(update={"overrides": {**base.overrides, **point}})
        try:
            return self.runs.build_config(body)
        except Invalid as exc:
            message = "; ".join(f"{'.'.join(map(str, where[2:]))}: {m}" if len(where) > 2
                                else m for where, m in exc.issues)
            raise Invalid([(loc, f"{what}: {message}")]) from None

    # -- read ---------------------------------------------------------------------------------

    def _runs(self, session: Any, sweep_id: str) -> list[Run]:
        return list(session.execute(select(Run).where(Run.sweep_id == sweep_id)
                                    .order_by(Run.sweep_index, Run.id)).scalars())

    def _values(self, session: Any, metric: str,
                runs: list[Run]) -> dict[str, list[tuple[int, float]]]:
        """Each run's (step, value) of ``metric``: the database extracts the one value from
        each row's JSON (a row holds every metric; decoding them all cost 90 ms a read)."""
        out: dict[str, list[tuple[int, float]]] = {r.id: [] for r in runs}
        if not runs:
            return out
        value = MetricPoint.values[metric].as_float()
        rows = session.execute(select(MetricPoint.run_id, MetricPoint.step, value)
                               .where(MetricPoint.run_id.in_(list(out)), value.is_not(None))
                               .order_by(MetricPoint.run_id, MetricPoint.step))
        for run_id, step, number in rows:
            if number is not None and math.isfinite(number):
                out[run_id].append((step, float(number)))
        return out

    def summary(self, sweep_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            sweep = session.get(Sweep, sweep_id)
            if sweep is None:
                raise NotFound(f"no sweep {sweep_id}")
            runs = self._runs(session, sweep_id)
            values = self._values(session, sweep.metric, runs)
        pick = min if sweep.goal == "min" else max
        rows = []
        for run in runs:
            series = values[run.id]
            best = pick(series, key=lambda sv: sv[1]) if series else None
            rows.append({
                "id": run.id, "name": run.name, "status": run.status,
                "status_message": run.status_message, "error": run.error, "step": run.step,
                "total_steps": run.total_steps, "point": run.sweep_point or {},
                "final": series[-1][1] if series else None,
                "final_step": series[-1][0] if series else None,
                "best": best[1] if best else None, "best_step": best[0] if best else None,
            })
        ranked = [r for r in rows if r["best"] is not None]
        best_run = pick(ranked, key=lambda r: r["best"])["id"] if ranked else None
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return {
            "id": sweep.id, "name": sweep.name, "created_at": sweep.created_at,
            "metric": sweep.metric, "goal": sweep.goal, "stop_rule": sweep.stop_rule,
            "search": sweep.spec.get("search", "grid"), "axes": list(sweep.spec["axes"]),
            "spec": sweep.spec, "status": "active" if any(r.status in ACTIVE for r in runs)
            else "finished", "counts": counts, "best_run": best_run, "runs": rows,
        }

    def list(self, limit: int, offset: int) -> dict[str, Any]:
        with self.db.read() as session:
            sweeps = list(session.execute(select(Sweep).order_by(Sweep.created_at.desc(),
                                                                 Sweep.id)
                                          .limit(limit).offset(offset)).scalars())
            count = session.query(Sweep).count()
            statuses: dict[str, list[str]] = {s.id: [] for s in sweeps}
            if sweeps:
                for sweep_id, status in session.execute(
                        select(Run.sweep_id, Run.status).where(Run.sweep_id.in_(list(statuses)))):
                    statuses[sweep_id].append(status)
        return {"count": count, "data": [{
            "id": s.id, "name": s.name, "created_at": s.created_at, "metric": s.metric,
            "goal": s.goal, "stop_rule": s.stop_rule, "axes": list(s.spec["axes"]),
            "runs": len(statuses[s.id]),
            "active": sum(st in ACTIVE for st in statuses[s.id]),
        } for s in sweeps]}

    def csv(self, sweep_id: str) -> str:
        summary = self.summary(sweep_id)
        metric, axes = summary["metric"], summary["axes"]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["run_id", "name", "status", *axes, "step", f"final_{metric}",
                         "final_step", f"best_{metric}", "best_step", "status_message"])
        for r in summary["runs"]:
            writer.writerow([r["id"], r["name"], r["status"],
                             *(r["point"].get(a, "") for a in axes), r["step"],
                             _cell(r["final"]), _cell(r["final_step"]), _cell(r["best"]),
                             _cell(r["best_step"]), r["status_message"] or r["error"] or ""])
        return out.getvalue()

    # -- control ------------------------------------------------------------------------------

    async def control(self, sweep_id: str, action: str) -> dict[str, list[str]]:
        """Stop every live run, or resume every interrupted or failed one; returns which runs
        were acted on and which were left (with why)."""
        with self.db.read() as session:
            if session.get(Sweep, sweep_id) is None:
                raise NotFound(f"no sweep {sweep_id}")
            runs = self._runs(session, sweep_id)
        done, left = [], []
        wanted = ACTIVE if action == "stop" else (RunStatus.INTERRUPTED, RunStatus.FAILED)
        for run in runs:
            if run.status not in wanted:
                continue
            try:
                await self.runs.control(run.id, ControlRequest(action=action))
                done.append(run.id)
            except (Conflict, Invalid, NotFound) as exc:
                left.append(f"{run.id}: {exc}")
        return {"runs": done, "skipped": left}


def _cell(value: Any) -> str:
    return "" if value is None else str(value)
