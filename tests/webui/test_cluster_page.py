"""The runs page of a server on a Ray cluster: the nodes with their CPUs, GPUs and runs, and
why a queued run waits. A real two-node cluster on this machine (tests/server/ray_cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.server.conftest import Server, create_run, tiny, wait_status
from tests.server.ray_cluster import HEAD_IP, WORKER_IP, RayCluster
from tests.server.test_ray_backend import _need_ray
from tests.webui.conftest import shot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _need_ray()
    cluster = RayCluster().start()
    try:
        srv = Server(tmp_path_factory.mktemp("ganscope-ui-ray"), **cluster.server_env())
        srv.start(120)
        yield srv
        srv.stop()
    finally:
        cluster.stop()


def test_the_runs_page_shows_the_cluster_and_why_a_run_waits(page, live_server: Server) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as api:
        running = create_run(api, {**tiny(**{"train.steps": 200_000}), "resources": {"node2": 1},
                                   "name": "on-node2"})
        wait_status(api, running, "running", timeout=60)
        waiting = create_run(api, {**tiny(), "resources": {"node2": 1}, "name": "waits"})
        wait_status(api, waiting, "queued")
        page.goto("/")
        panel = page.locator('#cluster[data-loaded="true"]')
        expect(panel).to_contain_text("Ray cluster")
        expect(panel).to_contain_text("2 nodes · CPUs 1 of 2 used")
        nodes = panel.locator("table.cluster-nodes tbody tr")
        expect(nodes).to_have_count(2)
        worker = nodes.filter(has_text=WORKER_IP)
        expect(worker.locator("td").nth(4)).to_have_text("1", timeout=15_000)  # its one run
        expect(worker).to_contain_text("node2: 1")
        expect(nodes.filter(has_text=HEAD_IP).locator("td").nth(4)).to_have_text("0")
        reason = page.locator(f'tr[data-run-id="{waiting}"] .reason')
        expect(reason).to_contain_text("waiting for 1 free CPU")
        expect(reason).to_contain_text("waiting for 1 free CPU and node2: 1 in the cluster")
        shot(page, "runs_cluster")
        api.post(f"/api/runs/{running}/control", json={"action": "stop"})
        expect(page.locator(f'tr[data-run-id="{waiting}"] .status')).to_have_text(
            "completed", timeout=60_000)
