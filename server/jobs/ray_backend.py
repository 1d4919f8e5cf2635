"""The Ray job backend: each run is a detached Ray actor that Ray places on any node with room.

No scheduler of ours: a run asks Ray for ``num_gpus=1`` when its config wants a GPU, else for
``num_cpus`` = its thread budget (plus any custom resources the run names), and waits in Ray's
queue, shown as ``queued`` with the reason, until Ray places it.

Per run, one pump thread long-polls the actor (:class:`server.jobs.ray_worker.RunActor`):
events come back in order with their own numbers, their files are written into the server's
run folder (:class:`RunFolderMirror`), then they go to the hub with the number of the last
one, which the hub commits with their rows. The next poll acknowledges what is committed, so
the actor forgets only what the database holds: after a server crash the new server finds the
actor by name, asks for what comes after the stored number, and nothing is lost or doubled.

Faults: a dead worker process -> ``failed`` with Ray's reason; a lost node -> ``interrupted``
(resumable from the last checkpoint, on any node). With an embedded Ray instance the cluster
ends with the server, so shutting down stops runs with a checkpoint, as the local backend
does; with a cluster address the runs go on, and the next server re-attaches.

Network discipline: the embedded instance runs on 127.0.0.1, without its dashboard and with
usage reporting off; for a real cluster ``GANSCOPE_RAY_ADDRESS`` (and ``_NODE_IP``) decide.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gan_core.status import TERMINAL, RunStatus
from server.jobs.base import ActiveRun, Publish, status_event
from server.jobs.mirror import RunFolderMirror
from server.jobs.worker import WorkerSpec

__all__ = ["RayJobManager", "actor_name"]

log = logging.getLogger(__name__)

POLL_WAIT_S = 0.5  # how long the actor holds a poll open when it has nothing to send
CONTROL_TIMEOUT_S = 10.0
COMMIT_WAIT_S = 30.0
UNAVAILABLE_RETRY_S = 0.5
_NOT_RESOURCES = ("memory", "object_store_memory")


def actor_name(run_id: str) -> str:
    return f"run-{run_id}"


@dataclass(eq=False)
class _Remote:
    spec: WorkerSpec
    actor: Any
    request: dict[str, float] = field(default_factory=dict)
    mirror: RunFolderMirror | None = None
    started: bool = False
    reattached: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    final_status: str | None = None
    interrupting: bool = False  # the server shuts down an embedded cluster: stop -> interrupted
    cancelled: bool = False  # killed by us (delete, stop while queued): nothing more to report
    detach: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    control_lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None


class RayJobManager:
    """Runs on a Ray cluster: the embedded local instance (``address`` empty) or an existing
    one (``"auto"``, ``"host:6379"``, ``"ray://host:10001"``)."""

    name = "ray"

    def __init__(
        self,
        publish: Publish,
        *,
        committed: Any,
        address: str = "",
        node_ip: str | None = None,
        namespace: str = "ganscope",
        threads_per_job: int = 1,
        detach_timeout_s: float = 120.0,
        linger_s: float = 3600.0,
        target: str | None = None,
        embedded_cpus: int | None = None,
        embedded_gpus: int | None = None,
    ) -> None:
        self.publish = publish
        self.committed = committed  # run id -> the last event cursor the hub committed
        self.address = address
        self.node_ip = node_ip
        self.namespace = namespace
        self.threads_per_job = threads_per_job
        self.detach_timeout_s = detach_timeout_s
        self.linger_s = linger_s
        self.target = target  # "module:function" instead of the real training (benchmarks)
        self.embedded_cpus, self.embedded_gpus = embedded_cpus, embedded_gpus
        self._runs: dict[str, _Remote] = {}
        self._lock = threading.RLock()
        self._closing = False
        self._ray: Any = None

    @property
    def embedded(self) -> bool:
        return not self.address

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> None:
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if self.embedded:
            # Ray turns 127.0.0.1 into the machine's network address unless it believes it is
            # alone (the variable that keeps Windows/macOS single-node): the embedded instance
            # is one node on loopback, never reachable from the network
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        try:
            import ray
        except ImportError:
            raise RuntimeError("GANSCOPE_JOBS_BACKEND=ray needs the ray package: "
                               "pip install 'ganscope[ray]'") from None
        self._ray = ray
        common = {"namespace": self.namespace, "log_to_driver": False,
                  "include_dashboard": False, "configure_logging": False}
        if self.embedded:
            # "local": a new instance of our own, even if `ray start` runs on this machine
            ray.init(address="local", _node_ip_address="127.0.0.1", num_cpus=self.embedded_cpus,
                     num_gpus=self.embedded_gpus, **common)
        else:
            kwargs = {"_node_ip_address": self.node_ip} if self.node_ip else {}
            if self.address.startswith("ray://"):
                common.pop("include_dashboard")
            ray.init(address=self.address, **kwargs, **common)
        log.info("Ray backend: %s, namespace %s, %s CPUs / %s GPUs in the cluster",
                 self.address or "embedded instance", self.namespace,
                 ray.cluster_resources().get("CPU", 0), ray.cluster_resources().get("GPU", 0))

    def shutdown(self, timeout: float = 20.0) -> None:
        from gan_core.train import Command

        with self._lock:
            self._closing = True
            runs = list(self._runs.values())
        if self.embedded:  # the cluster ends with us: stop each run with a checkpoint
            for r in runs:
                if r.started:
                    r.interrupting = True
                    self._control(r, Command("stop"))
                else:  # still waiting for room: it queues again after the restart
                    self._cancel(r)
            for r in runs:
                if not r.done.wait(timeout):
                    log.warning("run %s: did not stop in %.0f s", r.spec.run_id, timeout)
                    self._cancel(r)
        else:  # the runs go on in the cluster; the next server re-attaches
            for r in runs:
                r.detach.set()
            for r in runs:
                r.done.wait(5)
        if self._ray is not None and self._ray.is_initialized():
            self._ray.shutdown()

    # -- submitting ------------------------------------------------------------------------------

    def submit(self, spec: WorkerSpec) -> None:
        from gan_core.config import RunConfig

        ray = self._ray
        config = RunConfig.from_json(spec.config_json)
        threads = config.train.num_threads or self.threads_per_job
        spec = replace(spec, threads=threads, gpu=None)
        wants_gpu = config.train.device == "cuda" or (
            config.train.device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)
        request: dict[str, float] = {"GPU": 1.0, "CPU": 1.0} if wants_gpu else {"CPU": threads}
        request.update(spec.resources or {})
        with self._lock:
            if self._closing:
                raise RuntimeError("the server is shutting down")
            self._kill_named(spec.run_id)  # a finished actor of an earlier try still lingering
            checkpoint = Path(spec.resume_from).read_bytes() if spec.resume_from else None
            from server.jobs.ray_worker import RunActor

            actor = ray.remote(RunActor).options(
                name=actor_name(spec.run_id), namespace=self.namespace, lifetime="detached",
                max_restarts=0, max_task_retries=0, max_concurrency=4,
                num_cpus=request["CPU"], num_gpus=request.get("GPU", 0),
                resources=spec.resources or None,
            ).remote(spec, checkpoint, detach_timeout_s=self.detach_timeout_s,
                     linger_s=self.linger_s, target=self.target)
            actor.run.remote()
            r = _Remote(spec, actor, request=request,
                        mirror=RunFolderMirror(Path(spec.run_dir)))
            self._runs[spec.run_id] = r
        self.publish(spec.run_id, [status_event(RunStatus.QUEUED, -1, self._wait_reason(request),
                                                request=request)])
        self._start_pump(r)

    def _wait_reason(self, request: dict[str, float]) -> str:
        total, free = self._ray.cluster_resources(), self._ray.available_resources()
        if all(free.get(k, 0) >= v for k, v in request.items()):
            return "placing the run on the cluster"
        missing = [k for k, v in request.items() if total.get(k, 0) < v]
        if missing:
            names = ", ".join(f"{k}: {request[k]:g}" for k in missing)
            return f"no node of the cluster has {names}; the run waits until one joins"
        if "GPU" in request:
            return "waiting for a GPU in the cluster"
        cpus = request["CPU"]
        others = ", ".join(f"{k}: {v:g}" for k, v in request.items() if k != "CPU")
        extra = f" and {others}" if others else ""
        return f"waiting for {cpus:g} free CPU{'s' if cpus != 1 else ''}{extra} in the cluster"

    def recover(self, active: list[ActiveRun]) -> set[str]:
        """Re-attach to the actors of ``active`` runs that still live; end the others'."""
        ray = self._ray
        alive: set[str] = set()
        for run in active:
            try:
                actor = ray.get_actor(actor_name(run.run_id), namespace=self.namespace)
            except ValueError:
                continue
            spec = WorkerSpec(run.run_id, run.run_dir, "{}", cursor=run.cursor)
            r = _Remote(spec, actor, reattached=run.status != RunStatus.QUEUED,
                        mirror=RunFolderMirror(Path(run.run_dir), resume_step=run.step))
            with self._lock:
                self._runs[run.run_id] = r
            self._start_pump(r)
            alive.add(run.run_id)
            log.info("run %s: re-attached to its actor (after event %d)", run.run_id, run.cursor)
        self._end_orphans(keep=alive)
        return alive

    def _end_orphans(self, keep: set[str]) -> None:
        """Actors of this namespace whose runs are not active here (a run deleted while the
        server was down, or finished and collected) hold resources for nothing."""
        from ray.util import list_named_actors

        for entry in list_named_actors(all_namespaces=True):
            name = entry.get("name", "")
            if entry.get("namespace") != self.namespace or not name.startswith("run-"):
                continue
            if name[4:] not in keep and name[4:] not in self._runs:
                self._kill_named(name[4:])

    def _kill_named(self, run_id: str) -> None:
        try:
            old = self._ray.get_actor(actor_name(run_id), namespace=self.namespace)
        except ValueError:
            return
        self._ray.kill(old, no_restart=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the name is free once the actor is gone
            try:
                self._ray.get_actor(actor_name(run_id), namespace=self.namespace)
            except ValueError:
                return
            time.sleep(0.1)

    # -- the pump --------------------------------------------------------------------------------

    def _start_pump(self, r: _Remote) -> None:
        r.thread = threading.Thread(target=self._pump, args=(r,), daemon=True,
                                    name=f"ray-pump-{r.spec.run_id}")
        r.thread.start()

    def _pump(self, r: _Remote) -> None:
        try:
            self._pump_loop(r)
        except Exception:
            log.exception("run %s: the event pump failed", r.spec.run_id)
            if not r.cancelled and r.final_status is None and not r.detach.is_set():
                self.publish(r.spec.run_id, [status_event(
                    RunStatus.FAILED, -1, "the server lost the run's event stream; see the log")])
        finally:
            if r.mirror is not None:
                r.mirror.close()
            with self._lock:
                if self._runs.get(r.spec.run_id) is r:
                    del self._runs[r.spec.run_id]
            r.done.set()

    def _pump_loop(self, r: _Remote) -> None:
        ray = self._ray
        run_id = r.spec.run_id
        after = r.spec.cursor
        ref = None
        while not r.detach.is_set() and not r.cancelled:
            if ref is None:
                ack = self.committed(run_id)
                ref = r.actor.poll.remote(after, r.spec.cursor if ack is None else ack,
                                          POLL_WAIT_S)
            ready, _ = ray.wait([ref], timeout=1.0)
            if not ready:
                continue  # waiting for Ray to place the actor, or a slow answer
            try:
                answer = ray.get(ready[0])
            except ray.exceptions.ActorUnavailableError:
                # no answer for now (its node went quiet, or a network blip): the GCS says
                # soon whether the actor is dead; until then, ask again
                time.sleep(UNAVAILABLE_RETRY_S)
                continue
            except ray.exceptions.RayActorError as exc:
                self._died(r, exc)
                return
            finally:
                ref = None
            if not r.started:
                self._started(r)
            entries = answer["events"]
            if entries:
                events = [self._note(r, r.mirror(event, blob)) for _, event, blob in entries]
                after = entries[-1][0]
                self.publish(run_id, events, cursor=after)
            if answer["done"]:
                self._collected(r, after)
                return

    def _started(self, r: _Remote) -> None:
        try:
            r.info = self._ray.get(r.actor.info.remote(), timeout=30)
        except Exception:  # the run still trains; only the node's description is missing
            log.warning("run %s: no info from its actor", r.spec.run_id, exc_info=True)
        r.started = True
        if not r.reattached:
            node = r.info.get("node", "?")
            self.publish(r.spec.run_id, [status_event(RunStatus.STARTING, -1, f"on node {node}",
                                                      node=node, node_id=r.info.get("node_id"))])

    def _note(self, r: _Remote, event: Any) -> Any:
        status = getattr(event, "status", None)
        if status in TERMINAL:
            if r.interrupting and status == RunStatus.STOPPED:
                event = status_event(RunStatus.INTERRUPTED, event.step,
                                     "the server shut down; resume the run to continue")
            r.final_status = event.status
        return event

    def _collected(self, r: _Remote, last: int) -> None:
        """Every event is in; once the hub committed them, let the actor go."""
        deadline = time.monotonic() + COMMIT_WAIT_S
        while (self.committed(r.spec.run_id) or 0) < last and time.monotonic() < deadline:
            time.sleep(0.02)
        r.actor.poll.remote(last, last, 0.0)  # the final acknowledgement: the actor exits

    def _died(self, r: _Remote, exc: Exception) -> None:
        if r.cancelled or r.detach.is_set() or r.final_status is not None:
            return  # we ended it, or it exited after its last event
        text = str(exc)
        node = r.info.get("node")
        where = f" on node {node}" if node else ""
        if "because its node has died" in text or not self._node_alive(r.info.get("node_id")):
            status = RunStatus.INTERRUPTED
            message = (f"its node{' ' + node if node else ''} left the cluster; resume the run "
                       "to continue from its last checkpoint, on any node")
        else:
            status = RunStatus.FAILED
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            detail = next((line for line in lines if "died" in line or "dead" in line),
                          lines[0] if lines else type(exc).__name__)
            message = f"the Ray worker process{where} died: {detail[:400]}"
        log.warning("run %s: %s", r.spec.run_id, message)
        self.publish(r.spec.run_id, [status_event(status, -1, message)])

    def _node_alive(self, node_id: str | None) -> bool:
        if not node_id:
            return True  # never placed: not a node's loss
        try:
            return any(n.get("NodeID") == node_id and n.get("Alive") for n in self._ray.nodes())
        except Exception:  # the cluster itself is unreachable: say so as a lost node
            return False

    # -- the rest of the interface ---------------------------------------------------------------

    def queued(self) -> list[str]:
        with self._lock:
            return [run_id for run_id, r in self._runs.items() if not r.started]

    def is_running(self, run_id: str) -> bool:
        with self._lock:
            r = self._runs.get(run_id)
        return r is not None and r.started and r.final_status is None

    def running(self) -> list[str]:
        with self._lock:
            return [run_id for run_id, r in self._runs.items() if r.started]

    def workers(self) -> list[dict[str, Any]]:
        with self._lock:
            runs = [r for r in self._runs.values() if r.started]
        return [{"run_id": r.spec.run_id, "pid": r.info.get("pid"), "node": r.info.get("node"),
                 "node_id": r.info.get("node_id"), "gpu": (r.info.get("gpus") or [None])[0]}
                for r in runs]

    def cancel_queued(self, run_id: str) -> bool:
        with self._lock:
            r = self._runs.get(run_id)
            if r is None or r.started:
                return False
        self._cancel(r)
        return True

    def send(self, run_id: str, command: Any) -> bool:
        with self._lock:
            r = self._runs.get(run_id)
        if r is None or not r.started:
            return False
        return self._control(r, command)

    def _control(self, r: _Remote, command: Any) -> bool:
        # one call at a time, each answered before the next: a threaded actor would not keep
        # the order of calls in flight together (pause, then step)
        with r.control_lock:
            try:
                return bool(self._ray.get(r.actor.control.remote(command),
                                          timeout=CONTROL_TIMEOUT_S))
            except Exception as exc:
                log.warning("run %s: control %s not delivered: %s", r.spec.run_id,
                            getattr(command, "action", command), exc)
                return False

    def kill(self, run_id: str, timeout: float = 10.0) -> None:
        with self._lock:
            r = self._runs.get(run_id)
        if r is None:
            self._kill_named(run_id)
            return
        self._cancel(r)
        r.done.wait(timeout)

    def _cancel(self, r: _Remote) -> None:
        r.cancelled = True
        with contextlib.suppress(Exception):  # already gone
            self._ray.kill(r.actor, no_restart=True)

    def describe(self) -> dict[str, Any]:
        ray = self._ray
        with self._lock:
            on_node: dict[str, int] = {}
            for r in self._runs.values():
                if r.started and r.info.get("node_id"):
                    on_node[r.info["node_id"]] = on_node.get(r.info["node_id"], 0) + 1
        nodes = []
        for node in ray.nodes():
            res = node.get("Resources", {})
            nodes.append({
                "node_id": node.get("NodeID"), "address": node.get("NodeManagerAddress"),
                "alive": bool(node.get("Alive")), "cpus": res.get("CPU", 0),
                "gpus": res.get("GPU", 0), "runs": on_node.get(node.get("NodeID"), 0),
                "resources": {k: v for k, v in res.items() if k not in ("CPU", "GPU")
                              and k not in _NOT_RESOURCES and not k.startswith("node:")
                              and not k.startswith("accelerator_type")},
            })
        total, free = ray.cluster_resources(), ray.available_resources()
        return {
            "backend": self.name, "workers": self.workers(), "queued": self.queued(),
            "threads_per_job": self.threads_per_job,
            "cluster": {
                "address": self.address or "embedded", "namespace": self.namespace,
                "nodes": nodes,
                "cpus": {"total": total.get("CPU", 0), "free": free.get("CPU", 0)},
                "gpus": {"total": total.get("GPU", 0), "free": free.get("GPU", 0)},
            },
        }
