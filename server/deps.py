"""Shared dependencies: the app's state, and the admin-token check."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket, status
from fastapi import Path as PathParam

from server.db import Database
from server.images import ImageService
from server.jobs.base import JobBackend
from server.runs import Hub, RunService, SeriesCache
from server.schemas import MAX_INT, RUN_ID_PATTERN
from server.settings import Settings
from server.studies import JudgmentWriter
from server.sweeps import SweepService

TOKEN_HEADER = "x-ganscope-token"
TOKEN_COOKIE = "ganscope_token"


@dataclass
class AppState:
    settings: Settings
    db: Database
    hub: Hub
    jobs: JobBackend
    runs: RunService
    series: SeriesCache
    images: ImageService
    sweeps: SweepService
    judgments: JudgmentWriter


def get_state(request: Request) -> AppState:
    return request.app.state.ganscope


def presented_token(headers, cookies, query=None) -> str | None:
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return headers.get(TOKEN_HEADER) or cookies.get(TOKEN_COOKIE) or (
        query.get("token") if query is not None else None
    )


def token_ok(settings: Settings, presented: str | None) -> bool:
    expected = settings.token
    if expected is None:
        return True
    return presented is not None and secrets.compare_digest(presented.encode(), expected.encode())


def require_admin(request: Request) -> None:
    """Mutating routes: when the server has an admin token, the request must carry it."""
    settings = get_state(request).settings
    if not token_ok(settings, presented_token(request.headers, request.cookies)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this server needs its admin token: send 'Authorization: Bearer <token>'",
        )


def websocket_allowed(websocket: WebSocket) -> str | None:
    """Why a WebSocket is refused (None: allowed): token, and the page's origin."""
    state: AppState = websocket.app.state.ganscope
    settings = state.settings
    query = websocket.query_params
    if not token_ok(settings, presented_token(websocket.headers, websocket.cookies, query)):
        return "this server needs its admin token (?token=...)"
    origin = websocket.headers.get("origin")
    if origin and origin not in settings.cors_origins:
        # a page on another site must not drive a local server through the browser
        host = websocket.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            return f"origin {origin} is not allowed"
    return None


StateDep = Annotated[AppState, Depends(get_state)]
AdminDep = Depends(require_admin)
RunId = Annotated[str, PathParam(pattern=RUN_ID_PATTERN, description="A run id (12 hex digits).")]
StepPath = Annotated[int, PathParam(ge=0, le=MAX_INT, description="A training step.")]
