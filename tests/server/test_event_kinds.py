"""An event has one name from the trainer to the browser: its kind is the WebSocket message's
type and the kind its row is stored under; older run folders' names still import."""

from __future__ import annotations

import json
from pathlib import Path

from gan_core.events import (
    CheckpointSaved,
    Event,
    HyperparamsChanged,
    Metrics,
    RunStarted,
    SampleGrid,
    StatusChanged,
    Toy2DView,
    current_kind,
)
from gan_core.run_dir import RunDir, write_atomic
from gan_core.status import RunStatus
from server.runs import event_to_message, run_dir_messages

EXAMPLES: list[Event] = [
    RunStarted(step=0, config={}, device="cpu"),
    Metrics(step=10, values={"loss_d": 1.0}),
    SampleGrid(step=10, png=b"\x89PNG", nrow=2, count=4),
    Toy2DView(step=10, real=[[0.0, 0.0]], fake=[[1.0, 1.0]], grad_field=[], d_grid=[],
              resolution=2, extent=(-1.0, 1.0, -1.0, 1.0)),
    CheckpointSaved(step=10, path="/runs/x/checkpoints/ckpt_000000010.safetensors"),
    HyperparamsChanged(step=10, changes={"lr_g": 1e-4}),
    StatusChanged(step=10, status=RunStatus.RUNNING),
]


def test_every_event_kind_is_its_messages_type() -> None:
    assert len({type(e) for e in EXAMPLES}) == len(Event.__subclasses__())  # every kind here
    for event in EXAMPLES:
        assert event_to_message("abc", event)["type"] == event.kind


def test_the_files_of_a_kind_are_named_by_it() -> None:
    for kind in ("sample", "view", "checkpoint"):
        assert kind in RunDir.PER_STEP


def test_a_folder_from_before_the_names_were_unified_still_imports(tmp_path: Path) -> None:
    run = RunDir(tmp_path).make()
    write_atomic(run.events, "\n".join(json.dumps(row) for row in [
        {"kind": "run_started", "step": 0, "device": "cuda:0", "resumed": False},
        {"kind": "status", "step": 4, "status": "completed", "message": ""},
    ]) + "\n")
    write_atomic(run.file("sample", 4), b"\x89PNG")
    messages, device, status = run_dir_messages(tmp_path)
    assert device == "cuda:0" and status == "completed"
    assert [m["type"] for m in messages] == ["sample", "status"]
    assert current_kind("sample_grid") == "sample" and current_kind("metrics") == "metrics"
