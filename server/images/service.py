"""The server's side of the image process: start it, send it requests, hand each answer to the
request waiting for it, and start a fresh process after a crash.

One typed method per operation of :class:`~server.images.engine.ImageEngine`, with its
parameters and defaults: a caller names what it sends, and a misspelt operation or parameter
fails where it is written, not in the image process."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import threading
from multiprocessing.connection import Connection
from typing import Any

from server.errors import ImageServiceError
from server.images.engine import serve_images

log = logging.getLogger(__name__)


class ImageService:
    """The server's handle on the image process: ``await images.render(checkpoint=...)``."""

    def __init__(self, threads: int = 1, timeout_s: float = 120.0) -> None:
        self.threads = threads
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        # request id -> (loop, future, the process it was sent to)
        self._pending: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future, Any]] = {}
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self._process.is_alive() \
            else None

    def _ensure_started(self) -> Connection:
        with self._lock:
            if self._process is not None and self._process.is_alive() and self._conn:
                return self._conn
            context = multiprocessing.get_context("spawn")
            ours, theirs = context.Pipe(duplex=True)
            process = context.Process(target=serve_images, args=(theirs, self.threads),
                                      name="ganscope-images", daemon=True)
            process.start()
            theirs.close()
            self._process, self._conn = process, ours
            threading.Thread(target=self._read_loop, args=(process, ours),
                             name="image-service-reader", daemon=True).start()
            log.info("image service started (pid %d)", process.pid)
            return ours

    async def _call(self, op: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run ``op`` in the image process; raises :class:`ImageServiceError` with its
        message when it fails."""
        process, conn = self._process, self._conn
        if process is None or conn is None or not process.is_alive():
            conn = await asyncio.to_thread(self._ensure_started)  # spawning takes seconds
            process = self._process
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        request_id = next(self._ids)
        self._pending[request_id] = (loop, future, process)
        try:
            conn.send((request_id, op, params))  # only ever from the event loop's thread
        except (BrokenPipeError, OSError):
            self._pending.pop(request_id, None)
            raise ImageServiceError("the image service stopped; try again") from None
        try:
            ok, payload = await asyncio.wait_for(future, self.timeout_s)
        except TimeoutError:
            raise ImageServiceError(f"the image service took over {self.timeout_s:.0f} s for "
                                    f"{op}") from None
        finally:
            self._pending.pop(request_id, None)
        if not ok:
            kind, message = payload
            raise ImageServiceError(message, invalid=kind == "invalid")
        return payload

    # -- the operations (ImageEngine.op_*) ------------------------------------------------------

    async def info(self, *, checkpoint: str, ema: bool = True) -> dict[str, Any]:
        return await self._call("info", {"checkpoint": checkpoint, "ema": ema})

    async def render(self, *, checkpoint: str, ema: bool = True, z: list[float] | None = None,
                     seed: int | None = None, psi: float = 1.0, label: int | None = None,
                     variations: int = 0, spread: float = 0.5,
                     variation_seed: int = 0) -> dict[str, Any]:
        return await self._call("render", {
            "checkpoint": checkpoint, "ema": ema, "z": z, "seed": seed, "psi": psi,
            "label": label, "variations": variations, "spread": spread,
            "variation_seed": variation_seed})

    async def directions(self, *, checkpoint: str, ema: bool = True, layer: str | None = None,
                         k: int = 10, samples: int = 2000, seed: int = 0) -> dict[str, Any]:
        return await self._call("directions", {
            "checkpoint": checkpoint, "ema": ema, "layer": layer, "k": k, "samples": samples,
            "seed": seed})

    async def interpolate(self, *, checkpoint: str, keyframes: list[dict[str, Any]],
                          ema: bool = True, steps: int = 8, method: str = "slerp",
                          psi: float = 1.0, label: int | None = None, strip: bool = True,
                          gif_ms: int | None = None) -> dict[str, Any]:
        return await self._call("interpolate", {
            "checkpoint": checkpoint, "keyframes": keyframes, "ema": ema, "steps": steps,
            "method": method, "psi": psi, "label": label, "strip": strip, "gif_ms": gif_ms})

    async def neighbours(self, *, checkpoint: str, ema: bool = True,
                         z: list[float] | None = None, seed: int | None = None,
                         psi: float = 1.0, label: int | None = None, k: int = 5,
                         space: str = "pixel") -> dict[str, Any]:
        return await self._call("neighbours", {
            "checkpoint": checkpoint, "ema": ema, "z": z, "seed": seed, "psi": psi,
            "label": label, "k": k, "space": space})

    async def pool(self, *, checkpoint: str, kind: str, folder: str, names: list[str],
                   ema: bool = True, seed: int = 0) -> dict[str, Any]:
        return await self._call("pool", {
            "checkpoint": checkpoint, "kind": kind, "folder": folder, "names": names,
            "ema": ema, "seed": seed})

    async def support_draw(self, *, checkpoint: str, ema: bool = True, s: int = 100,
                           seed: int = 0, top: int = 20,
                           features: str = "auto") -> dict[str, Any]:
        return await self._call("support_draw", {
            "checkpoint": checkpoint, "ema": ema, "s": s, "seed": seed, "top": top,
            "features": features})

    async def lesson_gradients(self, *, theta: float, sigma: float,
                               d_steps: int) -> dict[str, Any]:
        return await self._call("lesson_gradients", {"theta": theta, "sigma": sigma,
                                                     "d_steps": d_steps})

    def _read_loop(self, process: Any, conn: Connection) -> None:
        while True:
            try:
                request_id, ok, payload = conn.recv()
            except (EOFError, OSError):
                break
            waiting = self._pending.get(request_id)
            if waiting is not None:
                loop, future, _ = waiting
                loop.call_soon_threadsafe(_resolve, future, (ok, payload))
        process.join(1.0)
        code = process.exitcode
        reason = f"the image service stopped (exit code {code}); the next request restarts it"
        for request_id in list(self._pending):
            waiting = self._pending.get(request_id)
            if waiting is not None and waiting[2] is process:
                loop, future, _ = waiting
                loop.call_soon_threadsafe(_resolve, future, (False, ("stopped", reason)))

    def close(self) -> None:
        with self._lock:
            process, conn = self._process, self._conn
            self._process = self._conn = None
        if process is None or conn is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            conn.send(None)
        process.join(5.0)
        if process.is_alive():
            process.kill()
            process.join(5.0)
        conn.close()


def _resolve(future: asyncio.Future, result: tuple[bool, Any]) -> None:
    if not future.done():
        future.set_result(result)
