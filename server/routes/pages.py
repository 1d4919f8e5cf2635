"""The browser pages: jinja2 templates from ``webui/templates``; they talk to the API only.

Every page is a thin shell: the data comes from the REST and WebSocket API through the ES
modules under ``/static/js``, so a page shows exactly what a script would get.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import plotly
from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

import webui
from gan_core.status import STATUSES
from server.deps import RunId

WEBUI_DIR = Path(webui.__file__).resolve().parent
STATIC_DIR = WEBUI_DIR / "static"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=WEBUI_DIR / "templates")


def _page(request: Request, template: str, title: str, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(request, template, {"title": title, **context})


@router.get("/")
def runs_page(request: Request) -> HTMLResponse:
    return _page(request, "runs.html", "Runs", nav="runs", statuses=STATUSES)


@router.get("/runs/new")
def new_run_page(request: Request) -> HTMLResponse:
    return _page(request, "new_run.html", "New run", nav="new")


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: RunId) -> HTMLResponse:
    return _page(request, "run.html", "Run", nav="runs", run_id=run_id)


SweepId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{12}$")]


@router.get("/sweeps/{sweep_id}")
def sweep_page(request: Request, sweep_id: SweepId) -> HTMLResponse:
    return _page(request, "sweep.html", "Sweep", nav="runs", sweep_id=sweep_id)


@router.get("/compare")
def compare_page(request: Request) -> HTMLResponse:
    return _page(request, "compare.html", "Compare runs", nav="compare")


@router.get("/explore")
def explore_page(request: Request) -> HTMLResponse:
    return _page(request, "explore.html", "Latent explorer", nav="explore")


@router.get("/support")
def support_page(request: Request) -> HTMLResponse:
    return _page(request, "support.html", "Support size", nav="explore")


@router.get("/lessons/divergences")
def divergences_lesson(request: Request) -> HTMLResponse:
    return _page(request, "lesson_divergences.html", "Why Wasserstein", nav="lessons")


StudyId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{12}$")]


@router.get("/studies")
def studies_page(request: Request) -> HTMLResponse:
    return _page(request, "study_list.html", "Studies", nav="studies")


@router.get("/studies/{study_id}")
def study_results_page(request: Request, study_id: StudyId) -> HTMLResponse:
    return _page(request, "study_results.html", "Study results", nav="studies",
                 study_id=study_id)


@router.get("/s/{study_id}")
def study_participant_page(request: Request, study_id: StudyId) -> HTMLResponse:
    """A participant's page: no navigation to the dashboard, nothing about the conditions."""
    return _page(request, "study_participant.html", "Image study", nav="participant",
                 study_id=study_id)


@router.get("/static/vendor/plotly.min.js")
def plotly_js() -> FileResponse:
    """plotly.js from the installed plotly package: pages never need the internet."""
    return FileResponse(PLOTLY_JS, media_type="text/javascript",
                        headers={"Cache-Control": "public, max-age=86400"})
