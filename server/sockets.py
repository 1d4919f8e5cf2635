"""What the WebSocket routes share: accepting a run's socket, and running its jobs."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Coroutine
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from server.deps import websocket_allowed
from server.schemas import RUN_ID_PATTERN

CLOSE_POLICY = 1008  # refused: token or origin
CLOSE_NOT_FOUND = 4404


async def until_first_done(*jobs: Coroutine[Any, Any, None]) -> None:
    """Run a socket's jobs until the first one ends (the client left, or the sender is done),
    then cancel the others. A closed socket's errors end a job quietly; others propagate."""
    tasks = [asyncio.create_task(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            exc = task.exception()
            if exc is not None and not isinstance(exc, WebSocketDisconnect | RuntimeError):
                raise exc
    finally:
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def accept_run_socket(websocket: WebSocket, run_id: str) -> bool:
    """Refuse a run's WebSocket (token, origin, a malformed run id) or accept it."""
    refused = websocket_allowed(websocket)
    if refused:
        await websocket.close(CLOSE_POLICY, refused)
        return False
    if not re.fullmatch(RUN_ID_PATTERN, run_id):
        await websocket.close(CLOSE_NOT_FOUND, "no such run")
        return False
    await websocket.accept()
    return True
