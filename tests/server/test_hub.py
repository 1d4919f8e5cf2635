"""The hub's pieces on their own: slow-client queues, decimation, message conversion."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest

from gan_core.events import Metrics, SampleGrid, StatusChanged
from server.runs import Frame, Subscriber, decimate, event_to_message


def frame(kind: str, seq: int) -> Frame:
    return Frame(kind, seq, json.dumps({"type": kind, "seq": seq}))


def test_a_full_queue_drops_old_metrics_and_says_so() -> None:
    sub = Subscriber("r", limit=8)
    for seq in range(1, 101):
        sub.push(frame("metrics", seq))
    sent = sub.take()
    assert sent[0].type == "gap"
    gap = json.loads(sent[0].text)
    assert gap["frames"] == 92 and gap["from_seq"] == 1 and gap["to_seq"] == 92
    assert [f.seq for f in sent[1:]] == list(range(93, 101))  # the newest survive


def test_status_frames_are_never_dropped() -> None:
    sub = Subscriber("r", limit=4)
    for seq in range(1, 200):
        sub.push(frame("status" if seq % 10 == 0 else "metrics", seq))
    kept = [f.seq for f in sub.take() if f.type == "status"]
    assert kept == list(range(10, 200, 10))


def test_a_newer_grid_replaces_a_waiting_one() -> None:
    sub = Subscriber("r", limit=4)
    sub.push(frame("sample", 1))
    sub.push(frame("metrics", 2))
    sub.push(frame("sample", 3))
    assert [(f.type, f.seq) for f in sub.take()] == [("metrics", 2), ("sample", 3)]


def test_a_hopeless_client_is_flagged_for_disconnect() -> None:
    sub = Subscriber("r", limit=4)
    for seq in range(1, 17):
        sub.push(frame("status", seq))
    assert not sub.overflowed
    sub.push(frame("status", 17))
    assert sub.overflowed


def test_frames_already_in_the_history_are_not_sent_again() -> None:
    sub = Subscriber("r", limit=100)
    for seq in range(1, 11):
        sub.push(frame("metrics", seq))
    sub.drop_through(6)
    assert [f.seq for f in sub.take()] == [7, 8, 9, 10]


def test_decimate_keeps_ends_and_extremes() -> None:
    steps = list(range(1, 10_001))
    values = [math.sin(s / 50) for s in steps]
    values[4321] = 99.0  # a spike
    values[777] = -99.0
    kept_steps, kept = decimate(steps, values, 200)
    assert len(kept) <= 200
    assert kept_steps[0] == 1 and kept_steps[-1] == 10_000
    assert 99.0 in kept and -99.0 in kept
    assert kept_steps == sorted(kept_steps)


def test_decimate_leaves_short_series_alone_and_skips_missing_values() -> None:
    assert decimate([1, 2, 3], [1.0, None, 3.0], 100) == ([1, 3], [1.0, 3.0])


@pytest.mark.parametrize("n,limit", [(5, 4), (100, 4), (101, 10), (1000, 7)])
def test_decimate_never_exceeds_its_limit(n: int, limit: int) -> None:
    steps, values = decimate(list(range(n)), [float(i % 7) for i in range(n)], limit)
    assert len(values) <= limit and steps[0] == 0 and steps[-1] == n - 1


def test_messages_are_json_ready() -> None:
    m = event_to_message("abc", Metrics(step=5, values={"loss": float("nan"), "x": 1.0}))
    assert m == {"type": "metrics", "step": 5, "values": {"loss": None, "x": 1.0}, "steps": 1}
    grid = event_to_message("abc", SampleGrid(step=7, png=b"", nrow=8, count=64))
    assert grid["url"] == "/api/runs/abc/samples/7.png"
    status = event_to_message("abc", StatusChanged(step=3, status="failed", message="boom",
                                                   extra={"exit_code": -9}))
    assert status["extra"] == {"exit_code": -9}
    json.dumps([m, grid, status])


def test_view_messages_carry_rounded_plot_data() -> None:
    from gan_core.events import Toy2DView

    view = Toy2DView(step=1, real=[[0.123456789, 1.0]], fake=[[2.0000001, float("inf")]],
                     grad_field=[[1e-12, -3.14159265]], d_grid=[0.5] * 4, resolution=2,
                     extent=(-1.0, 1.0, -1.0, 1.0))
    data = event_to_message("abc", view)["data"]
    assert data["real"] == [[0.12346, 1.0]] and data["fake"] == [[2.0, None]]
    assert data["grad_field"] == [[1e-12, -3.1416]] and data["mode_centers"] is None


def test_a_frame_for_an_idle_client_goes_out_without_waiting_for_the_window() -> None:
    """A run that reports every few ms reaches its watchers at once, not a window later; two
    reports that a hiccup upstream bunched together do not change that."""
    import asyncio
    import time

    async def scenario() -> list[list[int]]:
        # a window far longer than the test's time-out: a frame that waited for it would fail
        sub = Subscriber("r", limit=100, burst=0.01, window=600.0)
        messages = []
        for seq in range(1, 6):
            assert sub.last_push is None or not sub.piling_up
            while sub.last_push is not None and time.monotonic() - sub.last_push < 3 * sub.burst:
                await asyncio.sleep(sub.burst)  # reports slower than one per `burst`
            sub.push(frame("metrics", seq))
            messages.append(await asyncio.wait_for(sub.next_frames(), 30))
        while time.monotonic() - sub.last_push < 3 * sub.burst:
            await asyncio.sleep(sub.burst)
        sub.push(frame("metrics", 6))
        sub.push(frame("metrics", 7))  # at once after 6: a hiccup upstream
        messages.append(await asyncio.wait_for(sub.next_frames(), 30))
        sub.push(frame("metrics", 8))
        messages.append(await asyncio.wait_for(sub.next_frames(), 30))
        return [[f.seq for f in message] for message in messages]

    assert asyncio.run(scenario()) == [[1], [2], [3], [4], [5], [6, 7], [8]]


def test_frames_faster_than_a_burst_wait_for_the_window_together() -> None:
    """A run that reports faster than a watcher needs: its frames pile up and wait for the
    window, none lost."""
    import asyncio

    async def scenario() -> tuple[list[int], list[int]]:
        sub = Subscriber("r", limit=100, burst=2.0, window=600.0)
        sub.push(frame("metrics", 1))
        first = await asyncio.wait_for(sub.next_frames(), 30)  # nothing before it: at once
        for seq in (2, 3, 4):
            sub.push(frame("metrics", seq))
        assert sub.piling_up
        with pytest.raises(TimeoutError):  # they wait for the window
            await asyncio.wait_for(sub.next_frames(), 1.0)
        return [f.seq for f in first], [f.seq for f in sub.take()]

    assert asyncio.run(scenario()) == ([1], [2, 3, 4])


def test_a_burst_goes_out_as_few_messages_in_order_and_complete() -> None:
    """Frames that pile up wait for each other: hundreds of frames, a handful of messages."""
    import asyncio

    frames = 300

    async def scenario() -> list[list[int]]:
        # frames far less than `burst` apart, however slowly this machine runs the producer
        sub = Subscriber("r", limit=1000, burst=0.5, window=1.0)

        async def produce() -> None:
            for seq in range(1, frames + 1):
                sub.push(frame("metrics", seq))
                await asyncio.sleep(0)  # one frame per turn of the loop: the sender runs between

        async def consume() -> list[list[int]]:
            messages: list[list[int]] = []
            while sum(map(len, messages)) < frames:
                messages.append([f.seq for f in await sub.next_frames()])
            return messages

        producer = asyncio.create_task(produce())
        messages = await asyncio.wait_for(consume(), 60)
        await producer
        return messages

    messages = asyncio.run(scenario())
    assert messages[0] == [1]  # the first found the client idle
    assert [seq for message in messages for seq in message] == list(range(1, frames + 1))
    assert len(messages) <= 10


def test_frames_waiting_together_go_out_as_one_message() -> None:
    """The run stream's sender: one frame as an object, several as one JSON array, in order."""
    import asyncio

    from server.routes.ws import _send_loop

    class FakeSocket:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send_text(self, text: str) -> None:
            self.sent.append(text)

        async def close(self, code: int, reason: str = "") -> None:
            self.sent.append(f"closed {code}")

    async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.005)

    async def scenario() -> list[str]:
        sock, sub = FakeSocket(), Subscriber("r", limit=100)
        sender = asyncio.create_task(_send_loop(sock, sub))
        sub.push(frame("metrics", 1))
        await until(lambda: len(sock.sent) == 1)
        for seq in range(2, 12):  # ten more while the sender waits: they pile up
            sub.push(frame("metrics", seq))
        await until(lambda: len(sock.sent) == 2)
        sub.push(frame("deleted", 12))
        await asyncio.wait_for(sender, 30)
        return sock.sent

    sent = asyncio.run(scenario())
    assert json.loads(sent[0])["seq"] == 1
    batch = json.loads(sent[1])
    assert isinstance(batch, list) and [f["seq"] for f in batch] == list(range(2, 12))
    assert sent[2:] == [json.dumps({"type": "deleted", "seq": 12}), "closed 1000"]


def test_a_frame_goes_out_only_after_its_row_is_committed(tmp_path) -> None:
    """A client that hears of a checkpoint (or of the end of a run) can fetch it at once."""
    import asyncio

    from sqlalchemy import select

    from server.db import Database, migrate
    from server.models import Run, RunEvent
    from server.runs import Hub

    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(db)
    with db.write() as session:
        session.add(Run(id="cccccccccccc", name="r", config={}, status="running",
                        total_steps=10, data_name="ring", loss_name="hinge", last_metrics={},
                        seq=0, rewound_seq=0, step=0))

    async def scenario() -> tuple[int, list[int], int]:
        hub = Hub(db)
        hub.start()
        sub = hub.subscribe("cccccccccccc")
        seq = hub.dispatch_message("cccccccccccc", {"type": "status", "step": 3,
                                                    "status": "completed", "message": ""})
        waiting_before = len(sub.pending)  # nothing sent before the writer has committed
        await hub.wait_flushed("cccccccccccc", seq)
        await asyncio.sleep(0)
        with db.read() as session:
            stored = len(session.execute(select(RunEvent)).scalars().all())
        hub.stop()
        return waiting_before, [f.seq for f in sub.take()], stored

    waiting_before, sent, stored = asyncio.run(scenario())
    db.dispose()
    assert waiting_before == 0 and sent == [1] and stored == 1


def test_a_senders_cursor_is_committed_with_its_rows(tmp_path) -> None:
    """A remote stream re-attaches after what the database holds, never after what was sent."""
    import asyncio

    from gan_core.events import Metrics
    from server.db import Database, migrate
    from server.models import Run
    from server.runs import Hub

    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate(db)
    with db.write() as session:
        session.add(Run(id="dddddddddddd", name="r", config={}, status="running",
                        total_steps=10, data_name="ring", loss_name="hinge", last_metrics={},
                        seq=0, rewound_seq=0, step=0))

    async def scenario() -> tuple[int | None, int | None]:
        hub = Hub(db)
        hub.start()
        last = hub.dispatch("dddddddddddd", [Metrics(s, {"loss_d": 1.0}) for s in (1, 2, 3)],
                            cursor=17)
        before = hub.committed_cursor("dddddddddddd")  # queued for the writer, not stored
        await hub.wait_flushed("dddddddddddd", last)
        after = hub.committed_cursor("dddddddddddd")
        hub.stop()
        return before, after

    before, after = asyncio.run(scenario())
    with db.read() as session:
        stored = session.get(Run, "dddddddddddd").event_cursor
    db.dispose()
    assert before is None and after == 17 and stored == 17
