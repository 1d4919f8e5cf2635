"""The REST API keeps the contract its OpenAPI document states, under fuzzing.

schemathesis (a dev dependency, pinned) generates requests from the server's own
``/openapi.json`` and runs them against a real server holding a finished 2D run (checkpoints, 2D
views), an image run (grids, checkpoints), a study with a session and a support draw; with a
fixed seed and a bounded number of examples per operation. It fails on a 5xx, a response that
does not match its declared schema or status codes, a schema-valid request that is rejected,
and a wrong ``Allow`` header on a 405. Stateful links (a created run's id used by the routes
under it) come from the schema's response models.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.conftest import IMAGE_RUN, Server, create_run, tiny, wait_status

CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "positive_data_acceptance", "unsupported_method",
    "allow_header_conformance",
])
EXAMPLES = int(os.environ.get("GANSCOPE_FUZZ_EXAMPLES", "25"))
SEED = 20261207


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict]]:
    """The server, and the ids of what it holds (the fuzzer draws most path ids from them)."""
    folder = tmp_path_factory.mktemp("contract")
    # runs the fuzzer creates or resumes stay short: the document states this limit too
    server = Server(folder, GANSCOPE_MAX_JOBS="1", GANSCOPE_MAX_STEPS="400").start()
    try:
        with httpx.Client(base_url=server.url, timeout=120) as api:
            ring = create_run(api, tiny(**{"train.steps": 100}))
            image = create_run(api, IMAGE_RUN)
            for run_id in (ring, image):
                assert wait_status(api, run_id, "completed", "failed")["status"] == "completed"
            study = api.post("/api/studies", json={
                "name": "contract", "practice_trials": 1, "main_trials": 2, "pool_size": 4,
                "vigilance_rate": 0.0, "conditions": [{"run_id": image, "label": "G"}]})
            assert study.status_code == 201, study.text
            sid = study.json()["id"]
            session = api.post(f"/api/studies/{sid}/sessions", json={"participant": "F"})
            assert session.status_code == 200, session.text
            draw = api.post(f"/api/runs/{image}/support/draws", json={"s": 20, "top": 4})
            assert draw.status_code == 200, draw.text
            held = {
                "run_id": [ring, image], "study_id": [sid],
                "token": [session.json()["token"]], "draw_id": [draw.json()["id"]],
                "step": sorted({c["step"] for run_id in (ring, image) for c in
                                api.get(f"/api/runs/{run_id}/checkpoints").json()}),
                "image_id": [api.get(f"/api/studies/{sid}/sessions/"
                                     f"{session.json()['token']}").json()["trial"]["images"][0]
                             .rsplit("/", 1)[-1].removesuffix(".png")],
            }
        yield server, held
    finally:
        server.stop()


def config_file(held: dict, folder: Path) -> Path:
    """tests/server/schemathesis.toml, plus dictionaries of the ids the server holds: path
    parameters, steps and the run ids of bodies take one of them 9 times in 10 (a random one
    the rest), except for DELETE (which would take the data away from the other tests)."""
    lines = [Path(__file__).with_name("schemathesis.toml").read_text(), ""]
    for name, values in held.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines += ["[[operations]]", 'exclude-method = "DELETE"', "[operations.parameters]"]
    bindings = {f"path.{name}": name for name in held}
    bindings.update({"query.step": "step", "body.step": "step", "body.fork.run_id": "run_id",
                     "body.conditions[*].run_id": "run_id"})
    lines += [f'"{key}" = {{ dictionary = "{name}", probability = 0.9 }}'
              for key, name in bindings.items()]
    out = folder / "schemathesis.toml"
    out.write_text("\n".join(lines) + "\n")
    return out


BAD_FRAMES = [
    ("malformed JSON", "{not json", "not a JSON render request"),
    ("a JSON list", "[1, 2, 3]", "a render request is a JSON object"),
    ("an unknown message type", '{"type": "subscribe", "seed": 1}', "unknown message type"),
    ("a huge number", '{"id": 1, "seed": 1' + "0" * 400 + "}", "seed"),
    ("a huge id", '{"id": 1' + "0" * 400 + ', "seed": 1}', "id"),
    ("NaN", '{"id": 2, "z": [NaN, 0.0]}', "NaN is not a number"),
    ("Infinity", '{"id": 3, "seed": 1, "psi": Infinity}', "Infinity is not a number"),
    ("deep nesting", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("an extra field", '{"id": 4, "seed": 1, "colour": "red"}', "colour"),
]


def test_websockets_answer_bad_input_with_an_error_and_stay_up(
        populated: tuple[Server, dict]) -> None:
    """Before the fuzzing below (which may resume, stop or re-checkpoint the runs)."""
    from websockets.sync.client import connect

    server, held = populated
    image = held["run_id"][1]
    with connect(f"{server.ws_url}/ws/explore/{image}", open_timeout=10,
                 max_size=1 << 24) as ws:
        for what, frame, needle in BAD_FRAMES:
            ws.send(frame)
            answer = json.loads(ws.recv(60))
            assert answer["type"] == "error" and needle in answer["message"], (what, answer)
        ws.send(b"\x00\x01binary")
        answer = json.loads(ws.recv(60))
        assert answer["type"] == "error" and "binary" in answer["message"]
        ws.send(json.dumps({"id": 5, "seed": 1}))
        answer = json.loads(ws.recv(120))
        assert answer["type"] == "image", answer  # the socket still serves
    for path in (f"/ws/runs/{image}", "/ws/runs"):
        with connect(f"{server.ws_url}{path}", open_timeout=10, max_size=1 << 24) as ws:
            first = json.loads(ws.recv(30))  # the history, or the list of runs
            assert isinstance(first, (dict, list))
            for frame in ("{not json", b"\x00binary", '{"type": "nonsense"}', "[" * 10_000):
                ws.send(frame)
                answer = json.loads(ws.recv(30))
                assert answer["type"] == "error" and "takes no messages" in answer["message"]
    with httpx.Client(base_url=server.url, timeout=30) as api:
        assert api.get("/api/health").status_code == 200


def test_the_api_keeps_its_openapi_contract(populated: tuple[Server, dict],
                                            tmp_path: Path) -> None:
    server, held = populated
    st = shutil.which("st", path=str(Path(sys.executable).parent))
    assert st, "schemathesis is a dev dependency: pip install -e '.[dev]'"
    cmd = [st, "--config-file", str(config_file(held, tmp_path)), "run",
           f"{server.url}/openapi.json", "--checks", CHECKS,
           "--max-examples", str(EXAMPLES), "--seed", str(SEED), "--workers", "2",
           "--phases", "examples,coverage,fuzzing,stateful", "--no-color",
           "--request-timeout", "30", "--suppress-health-check", "all",
           "--report", "junit", "--report-dir", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stdout[-20000:] + proc.stderr[-3000:]
