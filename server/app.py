"""``create_app(settings)``: the FastAPI app, its routers, and its life cycle.

Start-up: migrate the database, start the hub's writer, start the job manager, and mark runs
that were training when the server last stopped as ``interrupted``. Shut-down: stop every
worker with a checkpoint (their runs become ``interrupted``, resumable), then flush the hub.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from server import openapi
from server.db import Database, migrate
from server.deps import AppState, require_admin
from server.errors import Conflict, Invalid, NotFound, allowed_methods, document_errors
from server.images import ImageService, ImageServiceError
from server.jobs.base import JobBackend, Publish
from server.jobs.manager import JobManager, default_gpus
from server.routes import (
    animation,
    explore,
    lessons,
    pages,
    runs,
    studies,
    support,
    sweeps,
    system,
    ws,
)
from server.runs import Hub, RunService, SeriesCache
from server.settings import Settings
from server.studies import JudgmentWriter
from server.sweeps import SweepService

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None,
               *, worker_target: Callable[..., None] | None = None,
               remote_target: str | None = None,
               job_backend: Callable[[Publish], JobBackend] | None = None,
               image_service: Callable[[], ImageService] | None = None) -> FastAPI:
    """The app for ``settings``; ``worker_target`` replaces the local worker's entry point and
    ``remote_target`` ("module:function") the Ray actor's training body (tests and benchmarks
    that drive the real pipeline with synthetic workers). ``job_backend`` (given the hub's
    publish callback) and ``image_service`` replace the backend the settings choose and the
    image process: in-process tests use stand-ins that start no process."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.runs_dir.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        await asyncio.to_thread(migrate, db)
        hub = Hub(db, runs_dir=settings.runs_dir, client_queue=settings.client_queue)
        hub.start()
        gpus = default_gpus()
        slots = settings.resolved_max_jobs(gpus)
        jobs = (job_backend(hub.publish) if job_backend is not None else
                _job_backend(settings, hub, slots, gpus, worker_target, remote_target))
        service = RunService(settings, db, hub, jobs)
        images = (image_service() if image_service is not None else
                  ImageService(threads=settings.resolved_cpu_threads(slots)))
        sweeps_service = SweepService(settings, db, hub, service)
        judgments = JudgmentWriter(db)
        app.state.ganscope = AppState(settings, db, hub, jobs, service, SeriesCache(), images,
                                      sweeps_service, judgments)
        with _keep_signal_handlers():  # Ray's core library installs its own for SIGTERM
            await asyncio.to_thread(jobs.start)  # a cluster takes seconds to start or reach
        await asyncio.to_thread(service.recover)
        await asyncio.to_thread(sweeps_service.start)
        log.info("GANscope serving %s (%s backend, %d job slots, %d GPUs here)",
                 settings.data_dir, jobs.name, slots, gpus)
        try:
            yield
        finally:
            await asyncio.to_thread(jobs.shutdown)
            await asyncio.to_thread(judgments.stop)
            await asyncio.to_thread(images.close)
            await asyncio.sleep(0.1)  # let the pump's last events reach the hub
            await asyncio.to_thread(hub.stop)
            db.dispose()

    app = FastAPI(
        title="GANscope",
        description="Train, watch and explore GANs. REST under /api, live streams under /ws.",
        version=_version(),
        lifespan=lifespan,
        max_body_size=settings.max_request_bytes,  # a 413 beyond it
    )
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["*"], allow_headers=["*"])

    @app.exception_handler(Invalid)
    async def _invalid(request: Request, exc: Invalid) -> JSONResponse:
        detail = [{"loc": list(loc), "msg": msg, "type": "value_error"} for loc, msg in exc.issues]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 405:  # Allow: every method of the path, not just one route's
            exc.headers = {**(exc.headers or {}),
                           "Allow": ", ".join(allowed_methods(app.state.api_routes,
                                                              request.scope))}
        return await http_exception_handler(request, exc)

    @app.exception_handler(ImageServiceError)
    async def _images(request: Request, exc: ImageServiceError) -> JSONResponse:
        # the request does not fit the checkpoint (a z of the wrong size, a damaged file): 409;
        # or the service's fault: 503
        return JSONResponse({"detail": str(exc)}, status_code=409 if exc.invalid else 503)

    routers = [system.router, runs.router, animation.router, ws.router, explore.router,
               studies.router, support.router, lessons.router, sweeps.router,
               pages.router]  # pages before /static: plotly.js lives in the plotly package
    api_routes = document_errors(routers, guards={
        require_admin: (401,), studies.require_study_admin: (401, 403)})
    for router in routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    app.state.api_routes = api_routes
    openapi.install(app, settings)
    return app


@contextmanager
def _keep_signal_handlers() -> Iterator[None]:
    """Put back the server's SIGINT/SIGTERM handlers after the block: a native library (Ray's
    core worker) that installs its own would turn a graceful stop into a crash."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in handlers.items():
            if handler is not None:
                signal.signal(sig, handler)


def _job_backend(settings: Settings, hub: Hub, slots: int, gpus: int,
                 worker_target: Callable[..., None] | None,
                 remote_target: str | None) -> JobBackend:
    if settings.jobs_backend == "ray":
        from server.jobs.ray_backend import RayJobManager

        return RayJobManager(
            hub.publish, committed=hub.committed_cursor, address=settings.ray_address,
            node_ip=settings.ray_node_ip, namespace=settings.ray_namespace,
            # embedded: this machine's job slots, as the local backend has them
            threads_per_job=(settings.cpu_threads or 1) if settings.ray_address
            else settings.resolved_cpu_threads(slots),
            embedded_cpus=slots * settings.resolved_cpu_threads(slots), embedded_gpus=gpus,
            detach_timeout_s=settings.ray_detach_timeout_s, target=remote_target)
    extra = {"worker_target": worker_target} if worker_target else {}
    return JobManager(hub.publish, slots=slots, gpus=gpus,
                      threads_per_job=settings.resolved_cpu_threads(slots), **extra)


def _version() -> str:
    import gan_core

    return gan_core.__version__
