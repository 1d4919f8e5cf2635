"""The Ray backend's channel on its own (no Ray needed): the remote run's event buffer and the
server's copy of its run folder."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from gan_core.events import CheckpointSaved, Metrics, RunStarted, SampleGrid, StatusChanged
from server.jobs.mirror import RunFolderMirror
from server.jobs.ray_worker import EventBuffer, load_target


def metrics(step: int) -> Metrics:
    return Metrics(step, {"loss_d": 1.0})


def test_events_are_numbered_and_kept_until_acknowledged() -> None:
    buf = EventBuffer()
    for step in range(1, 6):
        buf(metrics(step))
    first = buf.poll(after=0, ack=0, timeout=0)
    assert [n for n, _, _ in first["events"]] == [1, 2, 3, 4, 5] and not first["done"]
    # the server got them but stored only up to 3: a new server asks again after 3
    again = buf.poll(after=3, ack=3, timeout=0)
    assert [n for n, _, _ in again["events"]] == [4, 5]
    assert buf.unacknowledged() == 2
    buf.finish()
    last = buf.poll(after=5, ack=5, timeout=0)
    assert last == {"events": [], "done": True} and buf.unacknowledged() == 0


def test_a_resumed_stream_numbers_on_from_the_stored_cursor() -> None:
    buf = EventBuffer(start=41)
    buf(metrics(1))
    assert buf.poll(after=41, ack=41, timeout=0)["events"][0][0] == 42


def test_a_poll_waits_for_the_next_event_not_for_a_timer() -> None:
    buf = EventBuffer()
    threading.Timer(0.05, buf, args=(metrics(1),)).start()
    start = time.monotonic()
    answer = buf.poll(after=0, ack=0, timeout=5)
    assert answer["events"] and time.monotonic() - start < 1


def test_done_only_once_everything_was_sent(monkeypatch) -> None:
    monkeypatch.setattr("server.jobs.ray_worker.POLL_BATCH", 2)
    buf = EventBuffer()
    for step in range(1, 6):
        buf(metrics(step))
    buf.finish()
    sent, after, done = [], 0, False
    while not done:
        answer = buf.poll(after=after, ack=after, timeout=0)
        sent += [n for n, _, _ in answer["events"]]
        after, done = sent[-1], answer["done"]
    assert sent == [1, 2, 3, 4, 5]


def test_checkpoints_travel_as_bytes_and_a_lost_server_means_interrupted(tmp_path: Path) -> None:
    ckpt = tmp_path / "node" / "checkpoints" / "ckpt_000000100.safetensors"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"weights")
    buf = EventBuffer()
    buf(CheckpointSaved(100, str(ckpt)))
    buf.lost_server = True
    buf(StatusChanged(100, "stopped"))
    (_, saved, blob), (_, status, _) = buf.poll(0, 0, 0)["events"]
    assert saved.path == ckpt.name and blob == b"weights"  # no path of the node's disk
    assert status.status == "interrupted" and "resume" in status.message


def test_the_mirror_writes_the_run_folder_before_the_event_goes_on(tmp_path: Path) -> None:
    run_dir = tmp_path / "runs" / "abc"
    mirror = RunFolderMirror(run_dir)
    mirror(RunStarted(0, {"name": "x"}, "cpu"), None)
    mirror(metrics(10), None)
    grid = mirror(SampleGrid(10, b"\x89PNG...", 4, 16), None)
    saved = mirror(CheckpointSaved(10, "ckpt_000000010.safetensors"), b"weights")
    mirror.close()
    assert (run_dir / "config.json").is_file()
    assert (run_dir / "samples" / "grid_000000010.png").read_bytes() == b"\x89PNG..."
    assert grid.png == b""  # the hub serves the file, not the bytes
    assert Path(saved.path) == run_dir / "checkpoints" / "ckpt_000000010.safetensors"
    assert Path(saved.path).read_bytes() == b"weights"
    assert not list((run_dir / "checkpoints").glob(".tmp-*"))


def test_a_reattached_mirror_drops_lines_that_will_be_sent_again(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    first = RunFolderMirror(run_dir)
    for step in (10, 20, 30):
        first(metrics(step), None)
    first.close()  # the server died after writing 30 but storing only up to 20
    again = RunFolderMirror(run_dir, resume_step=20)
    again(metrics(30), None)
    again.close()
    steps = [line.split(",")[0] for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    assert steps == ['{"step": 10', '{"step": 20', '{"step": 30']


def test_a_training_target_is_named_module_colon_function() -> None:
    assert load_target("server.jobs.ray_worker:load_target") is load_target
    for bad in ("server.jobs.ray_worker", ":x", "nope:"):
        try:
            load_target(bad)
        except ValueError as exc:
            assert "module:function" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
