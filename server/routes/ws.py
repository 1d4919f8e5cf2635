"""WebSockets: one run's history then its live events; status changes of all runs."""

from __future__ import annotations

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from server.deps import AppState, websocket_allowed
from server.runs import Subscriber
from server.schemas import RunPublic
from server.sockets import CLOSE_NOT_FOUND, CLOSE_POLICY, accept_run_socket, until_first_done

router = APIRouter(tags=["streams"])
log = logging.getLogger(__name__)

CLOSE_TOO_SLOW = 1013  # "try again later": reconnect with ?after_seq=


async def _send_loop(websocket: WebSocket, sub: Subscriber) -> None:
    """Send what waits, as one message: one frame as an object, several as a JSON array.

    An idle client's frame goes out at once; frames that pile up go out together, at most one
    message per ``COALESCE_S`` (:meth:`Subscriber.next_frames`), so a run that reports every
    step costs each watcher tens of messages a second instead of hundreds.
    """
    while True:
        frames = await sub.next_frames()
        if not frames:
            await websocket.close(CLOSE_TOO_SLOW, "too far behind; reconnect with ?after_seq=")
            return
        text = frames[0].text if len(frames) == 1 else "[" + ",".join(f.text for f in frames) + "]"
        await websocket.send_text(text)
        if sub.run_id is not None and frames[-1].type == "deleted":  # this run's, not a list's
            await websocket.close(1000, "run deleted")
            return


async def _serve(websocket: WebSocket, sub: Subscriber) -> None:
    """Send until the client goes away; a concurrent receive notices the disconnect."""
    await until_first_done(_send_loop(websocket, sub), _receive_until_closed(websocket))


async def _receive_until_closed(websocket: WebSocket) -> None:
    """These sockets only stream; whatever a client sends gets an error frame, and the stream
    goes on."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        await websocket.send_text(json.dumps({
            "type": "error", "message": "this socket only streams the server's frames and takes "
            "no messages; control runs with POST /api/runs/{id}/control"}))


@router.websocket("/ws/runs/{run_id}")
async def run_stream(
    websocket: WebSocket,
    run_id: str,
    after_seq: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    max_points: Annotated[int | None, Query(ge=10, le=100_000)] = None,
) -> None:
    """First ``{"type": "history", ...}`` (decimated), then live events, each with ``seq``.

    Reconnect with ``?after_seq=<the last seq you saw>`` to get exactly what you missed.
    """
    state: AppState = websocket.app.state.ganscope
    if not await accept_run_socket(websocket, run_id):
        return
    hub = state.hub
    sub = hub.subscribe(run_id)  # first subscribe, then read: nothing falls in between
    try:
        await hub.wait_flushed(run_id, sub.cut)
        points = max_points or state.settings.history_points
        history = await run_in_threadpool(state.runs.history, run_id, state.series,
                                          after_seq=after_seq, max_points=points)
        if history is None:
            await websocket.close(CLOSE_NOT_FOUND, "no such run")
            return
        sub.drop_through(history["seq"])
        await websocket.send_text(json.dumps(history))
        await _serve(websocket, sub)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)


@router.websocket("/ws/runs")
async def runs_stream(websocket: WebSocket) -> None:
    """``{"type": "runs", ...}`` (the newest 100), then created/deleted/status/progress."""
    state: AppState = websocket.app.state.ganscope
    refused = websocket_allowed(websocket)
    if refused:
        await websocket.close(CLOSE_POLICY, refused)
        return
    await websocket.accept()
    sub = state.hub.subscribe(None)
    try:
        def read() -> list[dict]:
            return [RunPublic.from_row(r, with_config=False).model_dump(mode="json")
                    for r in state.runs.newest(100)]

        runs = await run_in_threadpool(read)
        await websocket.send_text(json.dumps({"type": "runs", "runs": runs}))
        await _serve(websocket, sub)
    except WebSocketDisconnect:
        pass
    finally:
        state.hub.unsubscribe(sub)
