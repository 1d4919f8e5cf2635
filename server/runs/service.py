"""Run operations behind the routes: create, control, resume, delete, recover after a restart.

Status changes made here go through the hub like the workers' own, so they are numbered,
stored and streamed the same way; each call waits until its change is committed, so a
client that reads the run right after gets what it just did.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update

from gan_core.checkpoint import CheckpointError, load_checkpoint
from gan_core.config import ConfigError, RunConfig, merge_config, set_dotted, validation_issues
from gan_core.presets import PRESETS, preset_dict
from gan_core.run_dir import RunDir
from gan_core.status import ACTIVE, LIVE, RESUMABLE, RunStatus
from server.db import Database
from server.errors import Conflict, Invalid, NotFound
from server.jobs.base import ActiveRun, JobBackend, status_event
from server.jobs.worker import WorkerSpec
from server.models import CheckpointRow, MetricPoint, Run
from server.runs.history import build_history
from server.runs.hub import Hub
from server.runs.series import SeriesCache
from server.schemas import ControlRequest, RunCreate
from server.settings import Settings

__all__ = ["RunService"]

log = logging.getLogger(__name__)

_FIELD_PREFIX = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)*): (.*)$", re.S)


def config_issues(exc: ValidationError, prefix: tuple[str, ...]) -> list[tuple[tuple, str]]:
    out = []
    for loc, msg in validation_issues(exc):
        match = _FIELD_PREFIX.match(msg) if not loc else None
        if match:  # a cross-field rule names its field at the start of its message
            loc, msg = tuple(match.group(1).split(".")), match.group(2)
        out.append(((*prefix, *loc), msg))
    return out


class RunService:
    def __init__(self, settings: Settings, db: Database, hub: Hub, jobs: JobBackend) -> None:
        self.settings = settings
        self.db = db
        self.hub = hub
        self.jobs = jobs
        self._lock = asyncio.Lock()  # create/control/delete one at a time: no lost updates

    def run_dir(self, run_id: str) -> Path:
        return self.settings.runs_dir / run_id

    # -- validation ------------------------------------------------------------------------------

    def build_config(self, body: RunCreate) -> RunConfig:
        data: dict[str, Any] = {}
        if body.preset is not None:
            if body.preset not in PRESETS:
                raise Invalid([(("body", "preset"), f"unknown preset {body.preset!r}; allowed: "
                                f"{', '.join(PRESETS.names())}")])
            data = preset_dict(body.preset)
            data["name"] = body.preset
        elif body.config is None:
            raise Invalid([(("body",), "give a preset, a config, or a run to fork")])
        if body.config is not None:
            data = merge_config(data, body.config)
        for key, value in body.overrides.items():
            try:
                set_dotted(data, key, value)
            except ConfigError as exc:
                raise Invalid([(("body", "overrides", key), str(exc))]) from None
        if body.name is not None:
            data["name"] = body.name
        if body.steps is not None:
            set_dotted(data, "train.steps", body.steps)
        try:
            config = RunConfig.model_validate(data)
        except ValidationError as exc:
            raise Invalid(config_issues(exc, ("body", "config"))) from None
        self.check_limits(config)
        return config

    def check_limits(self, config: RunConfig) -> None:
        s, issues = self.settings, []
        if config.train.batch_size > s.max_batch_size:
            issues.append((("body", "config", "train", "batch_size"),
                           f"at most {s.max_batch_size} on this server"))
        if config.train.steps > s.max_steps:
            issues.append((("body", "config", "train", "steps"),
                           f"at most {s.max_steps} on this server"))
        local_gpus = getattr(self.jobs, "gpus", None)  # the local backend's; Ray's are elsewhere
        if config.train.amp == "fp16" and (config.train.device == "cpu" or local_gpus == 0):
            issues.append((("body", "config", "train", "amp"),
                           "fp16 needs a CUDA GPU and this run would train on the CPU; use bf16 "
                           "on the CPU, or off"))
        size = getattr(config.data, "resolved_size", None)
        if size is not None and size > s.max_image_size:
            issues.append((("body", "config", "data", "image_size"),
                           f"at most {s.max_image_size} on this server"))
        if issues:
            raise Invalid(issues)

    # -- operations ------------------------------------------------------------------------------

    async def create(self, body: RunCreate) -> Run:
        async with self._lock:
            if len(self.jobs.queued()) >= self.settings.max_queued_runs:
                raise Conflict(f"{self.settings.max_queued_runs} runs are waiting already; "
                               "wait for them or stop some")
            parent_id = parent_step = resume_from = None
            if body.fork is not None:
                if body.preset or body.config or body.overrides:
                    raise Invalid([(("body", "fork"), "a fork continues a checkpoint as it is: "
                                    "give only name and steps with it")])
                config, resume_from, parent_step = self._fork_source(body)
                parent_id = body.fork.run_id
            else:
                config = self.build_config(body)
            if body.resources and self.jobs.name != "ray":
                raise Invalid([(("body", "resources"), "custom resources are for runs on a Ray "
                                "cluster: start the server with GANSCOPE_JOBS_BACKEND=ray, or "
                                "leave resources out")])
            run = self._new_run(config, preset=body.preset, resources=body.resources or None,
                                parent_id=parent_id, parent_step=parent_step)
            run_id = run.id
            self.run_dir(run_id).mkdir(parents=True)
            with self.db.write() as session:
                session.add(run)
            self.hub.notify_list({"type": "created", "id": run_id})
            if resume_from is not None:
                # the fork starts from a copy: the parent's files stay the parent's
                target = RunDir(self.run_dir(run_id)).checkpoints / Path(resume_from).name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(resume_from, target)
                resume_from = str(target)
            # a cluster's submit is network calls (and a checkpoint read): not on the loop
            await asyncio.to_thread(self.jobs.submit, self._spec(run, config, resume_from))
            return run

    def _new_run(self, config: RunConfig, *, preset: str | None,
                 resources: dict[str, float] | None, parent_id: str | None = None,
                 parent_step: int | None = None, **extra: Any) -> Run:
        run_id = secrets.token_hex(6)
        return Run(
            id=run_id, name=config.name or run_id, config=config.model_dump(mode="json"),
            preset=preset, status=RunStatus.QUEUED.value, step=parent_step or 0,
            total_steps=config.train.steps, data_name=config.data.name,
            loss_name=config.loss.name, last_metrics={}, seq=0, rewound_seq=0,
            parent_id=parent_id, parent_step=parent_step, resources=resources,
            event_cursor=0, **extra,
        )

    async def create_many(self, points: list[tuple[RunConfig, dict[str, Any]]], *,
                          preset: str | None, resources: dict[str, float] | None,
                          sweep: Any) -> list[Run]:
        """A sweep and its runs, validated configs each with its point, in one transaction:
        all of them or none; then each is submitted."""
        async with self._lock:
            waiting = len(self.jobs.queued())
            if waiting + len(points) > self.settings.max_queued_runs:
                raise Conflict(f"{waiting} runs are waiting already and the sweep adds "
                               f"{len(points)}; at most {self.settings.max_queued_runs} may "
                               "wait (GANSCOPE_MAX_QUEUED_RUNS)")
            if resources and self.jobs.name != "ray":
                raise Invalid([(("body", "resources"), "custom resources are for runs on a Ray "
                                "cluster: start the server with GANSCOPE_JOBS_BACKEND=ray, or "
                                "leave resources out")])
            runs = [self._new_run(config, preset=preset, resources=resources,
                                  sweep_id=sweep.id, sweep_point=point, sweep_index=index)
                    for index, (config, point) in enumerate(points)]
            with self.db.write() as session:
                session.add(sweep)
                session.flush()
                session.add_all(runs)
            for run in runs:
                self.run_dir(run.id).mkdir(parents=True)
                self.hub.notify_list({"type": "created", "id": run.id})
            for run, (config, _) in zip(runs, points, strict=True):
                await asyncio.to_thread(self.jobs.submit, self._spec(run, config, None))
            return runs

    def _fork_source(self, body: RunCreate) -> tuple[RunConfig, str, int]:
        assert body.fork is not None
        with self.db.read() as session:
            parent = session.get(Run, body.fork.run_id)
            if parent is None:
                raise NotFound(f"fork.run_id: no run {body.fork.run_id}")
            query = select(CheckpointRow).where(CheckpointRow.run_id == parent.id)
            if body.fork.step is not None:
                query = query.where(CheckpointRow.step == body.fork.step)
            row = session.execute(query.order_by(CheckpointRow.step.desc())).scalars().first()
        if row is None:
            raise NotFound(f"fork: run {parent.id} has no checkpoint"
                           + (f" at step {body.fork.step}" if body.fork.step is not None else "")
                           + f"; GET /api/runs/{parent.id}/checkpoints lists them")
        path = self.run_dir(parent.id) / row.file
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError as exc:
            raise Conflict(f"fork: {exc}") from None
        steps = body.steps if body.steps is not None else ckpt.config.train.steps
        if steps <= ckpt.step:
            raise Conflict(f"steps: the checkpoint is at step {ckpt.step}; give steps > "
                           f"{ckpt.step}")
        data = ckpt.config.model_dump(mode="json")
        data["train"]["steps"] = steps
        if body.name:
            data["name"] = body.name
        config = RunConfig.model_validate(data)
        self.check_limits(config)
        return config, str(path), ckpt.step

    async def control(self, run_id: str, req: ControlRequest) -> None:
        from gan_core.train import Command

        async with self._lock:
            run = self.get(run_id)
            if req.action == "resume" and run.status in RESUMABLE:
                await self._resume(run, req.steps)
                return
            if (req.action == "stop" and run.status == RunStatus.QUEUED
                    and self.jobs.cancel_queued(run_id)):
                await self._set_status(run_id, RunStatus.STOPPED, "stopped before it started")
                return
            live = run.status in LIVE
            if not live or not self.jobs.is_running(run_id):
                raise Conflict(f"the run is {run.status}; {req.action!r} needs a running run"
                               + (" (use 'resume' to continue it)" if run.status in RESUMABLE
                                  else ""))
            try:
                command = Command(req.action, dict(req.values))
            except ValueError as exc:
                raise Invalid([(("body", "values"), str(exc))]) from None
            if req.action == "step" and run.status != RunStatus.PAUSED:
                raise Conflict("'step' runs one step of a paused run; pause it first")
            # a remote worker's control is a network call: not on the event loop
            await asyncio.to_thread(self.jobs.send, run_id, command)

    async def _resume(self, run: Run, steps: int | None) -> None:
        from gan_core.checkpoint import latest_checkpoint

        path = latest_checkpoint(self.run_dir(run.id))
        if path is None:
            raise Conflict("the run has no checkpoint to resume from; start a new run")
        ckpt = load_checkpoint(path)
        total = steps if steps is not None else max(run.total_steps, ckpt.config.train.steps)
        if total <= ckpt.step:
            raise Conflict(f"steps: the run's checkpoint is at step {ckpt.step}; give steps > "
                           f"{ckpt.step} to train further")
        data = ckpt.config.model_dump(mode="json")
        data["train"]["steps"] = total
        config = RunConfig.model_validate(data)
        self.check_limits(config)
        with self.db.write() as session:
            session.execute(update(Run).where(Run.id == run.id).values(total_steps=total))
        await self._set_status(run.id, RunStatus.QUEUED, f"resuming from step {ckpt.step}")
        await asyncio.to_thread(self.jobs.submit, self._spec(self.get(run.id), config, str(path)))

    async def delete(self, run_id: str) -> None:
        async with self._lock:
            self.get(run_id)
            await asyncio.to_thread(self.jobs.kill, run_id)
            self.hub.forget(run_id)
            with self.db.write() as session:
                run = session.get(Run, run_id)
                if run is not None:
                    session.execute(update(Run).where(Run.parent_id == run_id)
                                    .values(parent_id=None))
                    session.delete(run)
            await asyncio.to_thread(shutil.rmtree, self.run_dir(run_id), True)

    def get(self, run_id: str) -> Run:
        with self.db.read() as session:
            run = session.get(Run, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}")
        return run

    def rows(self, run_id: str, table: Any, order: Any) -> list[Any]:
        """All of a run's rows in ``table`` (a model with a ``run_id``), ordered by ``order``
        (NotFound for an unknown run)."""
        self.get(run_id)
        with self.db.read() as session:
            return list(session.execute(select(table).where(table.run_id == run_id)
                                        .order_by(order)).scalars())

    def find(self, *, statuses: list[str] | None, name: str | None, limit: int,
             offset: int) -> tuple[list[Run], int]:
        """A page of runs, newest first, with the count of all that match: by status, and by
        a part of the name."""
        query = select(Run)
        if statuses:
            query = query.where(Run.status.in_(statuses))
        if name:
            query = query.where(Run.name.contains(name, autoescape=True))
        with self.db.read() as session:
            count = session.execute(
                select(func.count()).select_from(query.subquery())).scalar_one()
            rows = session.execute(
                query.order_by(Run.created_at.desc(), Run.id).limit(limit).offset(offset)
            ).scalars().all()
        return list(rows), count

    def newest(self, limit: int) -> list[Run]:
        """The ``limit`` newest runs: what the runs stream starts with."""
        with self.db.read() as session:
            return list(session.execute(
                select(Run).order_by(Run.created_at.desc()).limit(limit)).scalars())

    def metric_rows(self, run_id: str) -> list[tuple[int, dict]]:
        """Every stored (step, metrics) row of a run, by step: the export's, undecimated."""
        self.get(run_id)
        query = (select(MetricPoint.step, MetricPoint.values)
                 .where(MetricPoint.run_id == run_id).order_by(MetricPoint.step))
        with self.db.read() as session:
            return [tuple(r) for r in session.execute(query)]

    def series(self, run_id: str, cache: SeriesCache, *, max_points: int | None,
               keys: set[str] | None, after_step: int | None) -> dict[str, Any]:
        """A run's metric series through ``cache`` (read with the run row in one transaction)."""
        with self.db.read() as session:
            run = session.get(Run, run_id)
            if run is None:
                raise NotFound(f"no run {run_id}")
            return cache.query(session, run, max_points=max_points, keys=keys,
                               after_step=after_step)

    def history(self, run_id: str, cache: SeriesCache, *, after_seq: int | None,
                max_points: int) -> dict[str, Any] | None:
        """The run stream's ``history`` message (server/runs/history.py); None for no such run."""
        with self.db.read() as session:
            run = session.get(Run, run_id)
            if run is None:
                return None
            return build_history(session, run, self.run_dir(run_id), cache,
                                 after_seq=after_seq, max_points=max_points)

    def row_file(self, run_id: str, table: Any, step: int, kind: str | None = None,
                 what: str = "checkpoint") -> Path:
        """The file of a run's row in ``table`` at ``step`` (the newest such row; of ``kind``
        when given), as a path from our own row, never from the request. ``what`` names it in
        the 404."""
        self.get(run_id)
        query = select(table).where(table.run_id == run_id, table.step == step)
        if kind is not None:
            query = query.where(table.kind == kind)
        with self.db.read() as session:
            row = session.execute(query.order_by(table.seq.desc())).scalars().first()
        if row is None:
            raise NotFound(f"run {run_id} has no {what} at step {step}")
        path = self.run_dir(run_id) / row.file
        if not path.is_file():
            raise NotFound(f"the file for step {step} is missing from the run's folder")
        return path

    def checkpoint_steps(self, run_id: str) -> list[int]:
        """The steps a run has checkpoints at, each once, ascending."""
        with self.db.read() as session:
            steps = session.execute(select(CheckpointRow.step).where(
                CheckpointRow.run_id == run_id)).scalars().all()
        return sorted(set(steps))

    def checkpoint_file(self, run_id: str, step: int | None) -> tuple[Path, int]:
        """The run's checkpoint at ``step`` (None: the newest), as a path from our own rows."""
        self.get(run_id)
        query = select(CheckpointRow).where(CheckpointRow.run_id == run_id)
        if step is not None:
            query = query.where(CheckpointRow.step == step)
        with self.db.read() as session:
            row = session.execute(query.order_by(CheckpointRow.step.desc(),
                                                 CheckpointRow.seq.desc())).scalars().first()
        if row is None:
            if step is not None:
                raise NotFound(f"run {run_id} has no checkpoint at step {step}; GET "
                               f"/api/runs/{run_id}/checkpoints lists them")
            raise NotFound(f"run {run_id} has no checkpoint yet: one is written every "
                           "train.checkpoint_every steps and when a run stops")
        path = self.run_dir(run_id) / row.file
        if not path.is_file():
            raise NotFound(f"the checkpoint file for step {row.step} is missing from the run's "
                           "folder")
        return path, row.step

    async def _set_status(self, run_id: str, status: RunStatus, message: str) -> None:
        seq = self.hub.dispatch_message(run_id, {"type": "status", "step": -1,
                                                 "status": status.value, "message": message})
        await self.hub.wait_flushed(run_id, seq)

    # -- start-up --------------------------------------------------------------------------------

    def _spec(self, run: Run, config: RunConfig, resume_from: str | None) -> WorkerSpec:
        return WorkerSpec(run.id, str(self.run_dir(run.id)), config.to_json(),
                          resume_from=resume_from, resources=run.resources,
                          cursor=run.event_cursor or 0)

    def recover(self) -> None:
        """After a restart: runs still alive in the backend (a cluster's) are re-attached;
        of the others, queued ones queue again and training ones become ``interrupted``."""
        with self.db.read() as session:
            runs = session.execute(
                select(Run).where(Run.status.in_([s.value for s in ACTIVE]))
                .order_by(Run.created_at)
            ).scalars().all()
        from gan_core.checkpoint import latest_checkpoint

        alive = self.jobs.recover([
            ActiveRun(run.id, str(self.run_dir(run.id)), run.status, run.step,
                      run.event_cursor or 0) for run in runs])
        for run in runs:
            if run.id in alive:
                continue
            if run.status == RunStatus.QUEUED:
                path = latest_checkpoint(self.run_dir(run.id))
                self.jobs.submit(self._spec(run, RunConfig.model_validate(run.config),
                                            str(path) if path else None))
            else:
                self.hub.publish(run.id, [status_event(  # from a thread: through the loop
                    RunStatus.INTERRUPTED, -1,
                    f"the server stopped while this run was {run.status}; resume it to continue")])
