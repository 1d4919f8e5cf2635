"""Real-vs-fake studies: the admin's REST API and the participants' own, narrower one.

Admin routes (create, list, results, CSV) need the admin token when the server has one. A
server without a token trusts only requests made on this machine: a request that came through
a proxy or tunnel (it carries ``Forwarded``/``X-Forwarded-For``/``X-Real-IP``) or from another
address is refused, so participants reached through a tunnel never see results. Participant
routes need only the session token the server gave them; they serve opaque image URLs and
store the truth server-side.
"""

from __future__ import annotations

import math
import secrets
import shutil
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from gan_core.config import toy_datasets
from server.deps import AppState, RunId, StateDep, get_state, require_admin
from server.errors import Conflict, NotFound, answers, content
from server.models import Study, StudyCondition
from server.settings import is_loopback
from server.studies import (
    IMAGE_ID_PATTERN,
    STUDY_ID_PATTERN,
    JudgmentIn,
    SessionStart,
    StudyCreate,
    StudyStore,
)

router = APIRouter(tags=["studies"])

PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip", "x-forwarded-host")

StudyId = Annotated[str, PathParam(pattern=STUDY_ID_PATTERN, description="A study id.")]
Token = Annotated[str, PathParam(min_length=8, max_length=64,
                                 description="The session token from POST .../sessions.")]


def require_study_admin(request: Request) -> None:
    """The admin token when the server has one; without one, only a direct local request."""
    require_admin(request)
    if get_state(request).settings.token is not None:
        return
    client = request.client.host if request.client else ""
    if not is_loopback(client) or any(h in request.headers for h in PROXY_HEADERS):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "study administration is only open to this machine when the server has no admin "
            "token; set GANSCOPE_ADMIN_TOKEN to run studies through a proxy or tunnel")


StudyAdminDep = Depends(require_study_admin)


def store(state: AppState) -> StudyStore:
    return StudyStore(state.db, state.settings.data_dir / "studies")


# -- admin --------------------------------------------------------------------------------------


@router.post("/api/studies", status_code=status.HTTP_201_CREATED,
             dependencies=[StudyAdminDep], responses=answers(404, 409, 503))
async def create_study(body: StudyCreate, state: StateDep) -> dict[str, Any]:
    """Create a study: generate and freeze its image pools (each condition's fakes, the real
    images, the vigilance images), then open it to participants. A condition naming no run (or no
    checkpoint) is a 404, one whose run cannot be tested (2D points, other data than the first)
    a 409; both name the condition."""
    checkpoints = []
    data_config = None
    for i, c in enumerate(body.conditions):
        try:
            path, step = await run_in_threadpool(state.runs.checkpoint_file, c.run_id, c.step)
        except NotFound as exc:
            raise NotFound(f"conditions.{i}.run_id: {exc}") from None
        run = await run_in_threadpool(state.runs.get, c.run_id)
        data = run.config.get("data", {})
        if data.get("name") in (None, *toy_datasets()):
            raise Conflict(f"conditions.{i}.run_id: run {c.run_id} trains on 2D points; a study "
                           "needs an image generator")
        if data_config is not None and data != data_config:
            raise Conflict(f"conditions.{i}.run_id: run {c.run_id} trains on other data than the "
                           "first condition's; a study compares generators of one data set")
        data_config = data
        checkpoints.append((path, step))
    study_id = secrets.token_hex(6)
    folder = state.settings.data_dir / "studies" / study_id / "images"
    vigilance_n = (min(body.pool_size, max(1, math.ceil(body.main_trials * body.vigilance_rate)))
                   if body.vigilance_rate > 0 else 0)
    pools: dict[tuple[str, int | None], list[str]] = {}
    conditions = []
    try:
        for i, (c, (path, step)) in enumerate(zip(body.conditions, checkpoints, strict=True)):
            names = [secrets.token_hex(16) for _ in range(body.pool_size)]
            made = await state.images.pool(checkpoint=str(path), kind="fake",
                                           folder=str(folder), names=names, ema=c.ema,
                                           seed=body.seed * 1000 + i)
            pools[("fake", i)] = names
            conditions.append(StudyCondition(study_id=study_id, position=i, label=c.label,
                                             run_id=c.run_id, step=step, ema=made["ema"]))
        first = str(checkpoints[0][0])
        names = [secrets.token_hex(16) for _ in range(body.pool_size)]
        real = await state.images.pool(checkpoint=first, kind="real", folder=str(folder),
                                       names=names, seed=body.seed)
        pools[("real", None)] = names
        if vigilance_n:
            names = [secrets.token_hex(16) for _ in range(vigilance_n)]
            await state.images.pool(checkpoint=first, kind="vigilance", folder=str(folder),
                                    names=names, seed=body.seed + 7919)
            pools[("vigilance", None)] = names
        study = Study(id=study_id, name=body.name, protocol=body.protocol,
                      presentation=body.presentation, exposure_ms=body.exposure_ms,
                      gap_ms=body.gap_ms, practice_trials=body.practice_trials,
                      main_trials=body.main_trials,
                      vigilance_rate=body.vigilance_rate if vigilance_n else 0.0,
                      vigilance_pass=body.vigilance_pass, instructions=body.instructions,
                      completion_code=body.completion_code or secrets.token_hex(4).upper(),
                      real_source=real["source"], seed=body.seed, status="open")
        return await run_in_threadpool(store(state).insert, study, conditions, pools)
    except BaseException:
        shutil.rmtree(folder.parent, ignore_errors=True)
        raise


@router.get("/api/studies", dependencies=[StudyAdminDep])
def list_studies(state: StateDep) -> dict[str, Any]:
    """Every study, newest first, with sessions per condition."""
    data = store(state).list()
    return {"data": data, "count": len(data)}


@router.get("/api/studies/{study_id}", dependencies=[StudyAdminDep])
def get_study(study_id: StudyId, state: StateDep) -> dict[str, Any]:
    """A study's settings, conditions and where its real images come from."""
    return store(state).get(study_id)


@router.post("/api/studies/{study_id}/close", dependencies=[StudyAdminDep])
def close_study(study_id: StudyId, state: StateDep) -> dict[str, Any]:
    """Take no new participants (sessions already started can finish)."""
    return store(state).set_status(study_id, "closed")


@router.post("/api/studies/{study_id}/open", dependencies=[StudyAdminDep])
def open_study(study_id: StudyId, state: StateDep) -> dict[str, Any]:
    """Take new participants again."""
    return store(state).set_status(study_id, "open")


@router.delete("/api/studies/{study_id}", dependencies=[StudyAdminDep],
               status_code=status.HTTP_204_NO_CONTENT)
def delete_study(study_id: StudyId, state: StateDep) -> Response:
    """Delete a study, its judgments and its images."""
    store(state).delete(study_id)
    shutil.rmtree(state.settings.data_dir / "studies" / study_id, ignore_errors=True)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/studies/{study_id}/results", dependencies=[StudyAdminDep])
def study_results(
    study_id: StudyId, state: StateDep,
    exclude_flagged: Annotated[bool, Query(description="Leave out participants who failed "
                                           "the vigilance trials.")] = True,
    include_incomplete: Annotated[bool, Query(description="Also count sessions not "
                                              "finished.")] = False,
) -> dict[str, Any]:
    """Per condition: fooling rate with a 95% bootstrap interval over participants, counts,
    exclusions and exposure timing; pairwise P(A fools more than B); every participant."""
    return store(state).results(study_id, exclude_flagged, include_incomplete)


@router.get("/api/studies/{study_id}/judgments.csv", dependencies=[StudyAdminDep],
            response_class=Response, responses=content("text/csv"))
def study_csv(study_id: StudyId, state: StateDep) -> Response:
    """Every raw judgment with its trial, the truth and the measured timings."""
    text = store(state).csv(study_id)
    return Response(text, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="study-{study_id}-judgments.csv"'})


@router.get("/api/runs/{run_id}/studies", dependencies=[StudyAdminDep])
def run_studies(run_id: RunId, state: StateDep) -> dict[str, Any]:
    """The fooling rate of this run's checkpoints in every study that tested them."""
    state.runs.get(run_id)
    data = store(state).run_studies(run_id)
    return {"run_id": run_id, "data": data, "count": len(data)}


# -- participants -------------------------------------------------------------------------------


@router.get("/api/studies/{study_id}/public")
def study_procedure(study_id: StudyId, state: StateDep) -> dict[str, Any]:
    """What a participant's page needs: the procedure; nothing about conditions or results."""
    return store(state).public(study_id)


@router.post("/api/studies/{study_id}/sessions", responses=answers(409))
def start_session(study_id: StudyId, body: SessionStart, request: Request,
                  state: StateDep) -> dict[str, Any]:
    """Start taking part (a condition is assigned), or resume with the session's token. A
    participant id that already took part gets a 409."""
    return store(state).start(study_id, body, request.headers.get("user-agent"))


@router.get("/api/studies/{study_id}/sessions/{token}")
def session_state(study_id: StudyId, token: Token, state: StateDep) -> dict[str, Any]:
    """The next trial to show (opaque image URLs), or the completion code when done."""
    return store(state).state(study_id, token)


@router.post("/api/studies/{study_id}/sessions/{token}/judgments", responses=answers(409))
async def submit_judgment(study_id: StudyId, token: Token, body: JudgmentIn,
                          request: Request) -> dict[str, Any]:
    """Store the answer to the next trial (committed before this answers); sending the same
    trial again changes nothing. Practice trials get feedback; main trials only a receipt.
    Judgments that arrive together share one commit (server/studies/judgments.py)."""
    # get_state called, not StateDep: FastAPI runs a plain-def dependency in the thread pool,
    # a round trip through a worker thread for every judgment (issue 16)
    return await get_state(request).judgments.submit(study_id, token, body.position,
                                                     body.response, body.exposures_ms,
                                                     body.response_ms)


@router.get("/api/studies/{study_id}/images/{image_id}.png", response_class=FileResponse,
            responses=content("image/png"))
def pool_image(study_id: StudyId, image_id: Annotated[str, PathParam(pattern=IMAGE_ID_PATTERN)],
               state: StateDep) -> FileResponse:
    """A pool image by its opaque id."""
    path = store(state).image_path(study_id, image_id)
    if not path.is_file():
        raise NotFound("no such image")
    return FileResponse(path, media_type="image/png",
                        headers={"Cache-Control": "private, max-age=86400, immutable"})

