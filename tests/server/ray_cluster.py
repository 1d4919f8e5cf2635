"""A real two-node Ray cluster on this machine, for tests and benchmarks.

Two ``ray start`` processes, each a node with its own temp folder and its own loopback
address (head 127.0.0.2, worker 127.0.0.3: Ray would turn 127.0.0.1 into the machine's
network address), one CPU each by default, no dashboard, no usage reports. The worker node
carries the custom resource ``node2`` so that a run can be sent there. Nothing is shared
between the nodes but what Ray moves.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.polling import WaitTimeout, wait_until

HEAD_IP, WORKER_IP = "127.0.0.2", "127.0.0.3"
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class RayCluster:
    def __init__(self, *, head_cpus: int = 1, worker_cpus: int = 1,
                 pythonpath: list[str] | None = None) -> None:
        self.head_cpus, self.worker_cpus = head_cpus, worker_cpus
        self.port = _free_port(HEAD_IP)
        self.root = Path(tempfile.mkdtemp(prefix="gsray", dir="/tmp"))  # short: socket paths
        self.ray = str(Path(sys.executable).parent / "ray")
        self.env = {**os.environ, **RAY_ENV}
        if pythonpath:
            self.env["PYTHONPATH"] = os.pathsep.join(
                [*pythonpath, *filter(None, [os.environ.get("PYTHONPATH")])])
        self.env.pop("CUDA_VISIBLE_DEVICES", None)

    @property
    def address(self) -> str:
        return f"{HEAD_IP}:{self.port}"

    def server_env(self) -> dict[str, str]:
        """What a GANscope server needs to use this cluster."""
        return {**RAY_ENV, "GANSCOPE_JOBS_BACKEND": "ray", "GANSCOPE_RAY_ADDRESS": self.address,
                "GANSCOPE_RAY_NODE_IP": HEAD_IP}

    def _start(self, name: str, *args: str) -> None:
        log = self.root / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.run(
                [self.ray, "start", *args, "--temp-dir", str(self.root / name),
                 "--disable-usage-stats"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"ray start ({name}) failed: {log.read_text()[-3000:]}")

    def start(self) -> RayCluster:
        self._start("head", "--head", "--node-ip-address", HEAD_IP, "--port", str(self.port),
                    "--num-cpus", str(self.head_cpus), "--num-gpus", "0",
                    "--include-dashboard=false")
        self.start_worker()
        return self

    def start_worker(self) -> None:
        self._start("worker", "--address", self.address, "--node-ip-address", WORKER_IP,
                    "--num-cpus", str(self.worker_cpus), "--num-gpus", "0",
                    "--resources", '{"node2": 1}')

    def node_pids(self, name: str | None = None) -> list[int]:
        """The pids of one node's processes ("head", "worker"), or of both, with every process
        they started (Ray's workers rename themselves, so they are found by parentage)."""
        parents: dict[int, int] = {}
        roots: list[int] = []
        marks = [str(self.root / n) for n in ((name,) if name else ("head", "worker"))]
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] == "Z":
                continue
            parents[int(entry.name)] = int(fields[1])
            if any(mark in cmd for mark in marks):
                roots.append(int(entry.name))
        found = set(roots)
        grew = True
        while grew:
            grew = False
            for pid, parent in parents.items():
                if parent in found and pid not in found:
                    found.add(pid)
                    grew = True
        return sorted(found)

    def kill_node(self, name: str) -> None:
        """SIGKILL every process of one node, as if its machine had gone."""
        self._kill(self.node_pids(name), signal.SIGKILL)

    def _kill(self, pids: list[int], sig: int) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def stop(self) -> None:
        """End this cluster's processes only (``ray stop`` would end every Ray on the machine);
        at once, as ``ray stop --force`` does: a test cluster has nothing to save."""
        def gone() -> bool:
            pids = self.node_pids()
            self._kill(pids, signal.SIGKILL)
            return not pids

        # best effort: after 20 s the folder goes anyway
        with contextlib.suppress(WaitTimeout):
            wait_until(gone, timeout=20, interval=0.2, what="this cluster's processes to end")
        shutil.rmtree(self.root, ignore_errors=True)
