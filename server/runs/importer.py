"""Import a run folder into the database: the folder alone is enough to rebuild a run.

The folder (as ``ganscope train`` or a server worker writes it) is copied under
``DATA_DIR/runs/<new id>/`` and indexed: stats.jsonl -> metric points, events.jsonl -> status
and hyper-parameter events, samples/ and views/ -> sample rows, checkpoints/ -> checkpoint
rows. A run whose log ends while it was running (the process was killed) is ``interrupted``
and can be resumed from its last checkpoint.
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path
from typing import Any

from gan_core.config import ConfigError, RunConfig
from gan_core.events import current_kind
from gan_core.run_dir import RunDir
from gan_core.sinks import read_stats
from gan_core.status import TERMINAL, RunStatus
from server.db import Database
from server.models import Run
from server.runs.hub import apply_message

__all__ = ["RunImportError", "import_run_dir", "run_dir_messages"]


class RunImportError(ValueError):
    """The folder is not a run folder; the message says what is missing."""


def run_dir_messages(folder: Path) -> tuple[list[dict[str, Any]], str | None, str]:
    """The folder's history as hub messages in order, its device, and its final status."""
    messages: list[tuple[tuple[int, int], dict[str, Any]]] = []
    device, status = None, None
    for row in read_stats(folder):
        step = int(row.pop("step"))
        messages.append(((step, 1), {"type": "metrics", "step": step, "values": row}))
    events_file = RunDir(folder).events
    lines = events_file.read_text().splitlines() if events_file.exists() else []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line
        kind, step = current_kind(event.get("kind", "")), int(event.get("step", 0))
        if kind == "started":
            device = event.get("device")
        elif kind == "status":
            status = event["status"]
            rank = 3 if status in TERMINAL else 0
            messages.append(((step, rank), {"type": "status", "step": step, "status": status,
                                            "message": event.get("message", "")}))
        elif kind == "hyperparams":
            messages.append(((step, 2), {"type": "hyperparams", "step": step,
                                         "changes": event.get("changes", {})}))
    run_dir = RunDir(folder)
    for step, _ in run_dir.files("sample"):
        messages.append(((step, 2), {"type": "sample", "step": step}))
    for step, _ in run_dir.files("view"):
        messages.append(((step, 2), {"type": "view", "step": step}))
    for step, path in run_dir.files("checkpoint"):
        messages.append(((step, 2), {"type": "checkpoint", "step": step,
                                     "file": RunDir.checkpoint_name(step),
                                     "size_bytes": path.stat().st_size}))
    messages.sort(key=lambda item: item[0])
    if status is None or status not in TERMINAL:
        # it never finished: killed while running (or paused)
        status = RunStatus.INTERRUPTED.value
        last = messages[-1][0][0] if messages else 0
        messages.append(((last, 3), {"type": "status", "step": last, "status": status,
                                     "message": "the run's log ends while it was training; "
                                                "resume it to continue"}))
    return [m for _, m in messages], device, status


def import_run_dir(db: Database, runs_dir: Path, folder: Path, *, name: str | None = None) -> str:
    """Copy ``folder`` into ``runs_dir`` and index it; return the new run's id."""
    folder = folder.resolve()
    if not folder.is_dir():
        raise RunImportError(f"{folder} is not a folder")
    config_file = RunDir(folder).config
    if not config_file.is_file():
        raise RunImportError(f"{folder} has no {config_file.name}: not a GANscope run folder")
    try:
        config = RunConfig.from_json(config_file.read_text())
    except ConfigError as exc:
        raise RunImportError(f"{config_file}: {exc}") from None
    messages, device, status = run_dir_messages(folder)

    run_id = secrets.token_hex(6)
    target = runs_dir / run_id
    shutil.copytree(folder, target, ignore=shutil.ignore_patterns(".lock", ".tmp-*"))
    try:
        with db.write() as session:
            last_step = max((m["step"] for m in messages), default=0)
            session.add(Run(
                id=run_id, name=name or config.name or folder.name,
                config=config.model_dump(mode="json"), preset=None, status=status,
                step=last_step, total_steps=config.train.steps, data_name=config.data.name,
                loss_name=config.loss.name, last_metrics={}, seq=0, rewound_seq=0,
                device=device,
            ))
            session.flush()
            for seq, message in enumerate(messages, start=1):
                message["seq"] = seq
                apply_message(session, run_id, message)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return run_id
