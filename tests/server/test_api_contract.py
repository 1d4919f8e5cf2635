"""The REST API keeps the contract its OpenAPI document states, under fuzzing.

schemathesis (a dev dependency, pinned) generates requests from the server's own
``/openapi.json`` and runs them against a real server holding a finished 2D run (checkpoints, 2D
views), an image run (grids, checkpoints), a study with a session and a support draw; with a
fixed seed and a bounded number of examples per operation. It fails on a 5xx, a response that
does not match its declared schema or status codes, a schema-valid request that is rejected,
and a wrong ``Allow`` header on a 405. Stateful links (a created run's id used by the routes
under it) come from the schema's response models.

Without a server, tables of run and sweep requests check that the document allows a request only
where the server builds its config, and what it leaves out of what the server accepts.
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
from jsonschema import Draft202012Validator

from server.app import create_app
from server.errors import Invalid
from server.runs import RunService
from server.schemas import RunCreate, SweepCreate
from server.settings import Settings
from server.sweeps import expand_points
from tests.server.conftest import IMAGE_RUN, TINY, Server, create_run, tiny, wait_status

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


# -- the document's run and sweep requests, against what the server builds (no server needed) ----

LIMITS = Settings(max_steps=400)  # below every preset's steps: a preset alone must set them


@pytest.fixture(scope="module")
def stated() -> tuple[dict[str, Draft202012Validator], RunService]:
    """Validators of the document's RunCreate and SweepCreate, and the service that builds a
    run's config (the document is built before the app starts: no GPUs known, as for Ray)."""
    doc = create_app(LIMITS).openapi()
    validators = {name: Draft202012Validator({"$ref": f"#/components/schemas/{name}",
                                              "components": doc["components"]})
                  for name in ("RunCreate", "SweepCreate")}
    return validators, RunService(LIMITS, None, None, None)  # type: ignore[arg-type]


def builds(service: RunService, body: dict) -> bool:
    try:
        service.build_config(RunCreate.model_validate(body))
    except (Invalid, ValueError):
        return False
    return True


def sweep_builds(service: RunService, body: dict) -> bool:
    """What SweepService.create checks before it makes the runs: the points, the config, each
    axis value alone, each point."""
    try:
        sweep = SweepCreate.model_validate(body)
        points = expand_points(sweep)
        base = RunCreate(preset=sweep.preset, config=sweep.config, overrides=sweep.overrides)
        alone = [{name: value} for name, values in sweep.axes.items()
                 if isinstance(values, list) for value in values]
        for point in [{}, *alone, *points]:
            service.build_config(base.model_copy(
                update={"overrides": {**base.overrides, **point}}))
    except (Invalid, ValueError):
        return False
    return len(points) <= LIMITS.max_sweep_runs


STEPS = {"train.steps": 100}
# (what it shows, body, the document allows it, the server builds it)
RUNS = [
    ("the integration tests' 2D run", TINY, True, True),
    ("the integration tests' image run", IMAGE_RUN, True, True),
    ("a preset with more steps than the server allows", {"preset": "ring8-gan"}, False, False),
    ("... with steps set", {"preset": "ring8-gan", "steps": 100}, True, True),
    ("... in the config", {"preset": "ring8-gan", "config": {"train": {"steps": 100}}},
     True, True),
    ("a pack that does not divide the preset's batch",
     {"preset": "ring8-pacgan4", "overrides": {**STEPS, "model.pack": 3}}, False, False),
    ("a batch in the preset's packs",
     {"preset": "ring8-pacgan4", "overrides": {**STEPS, "train.batch_size": 128}}, True, True),
    ("a batch not in them",
     {"preset": "ring8-pacgan4", "overrides": {**STEPS, "train.batch_size": 130}}, False, False),
    ("another pack that divides the batch: the document keeps the preset's pack",
     {"preset": "ring8-pacgan4", "overrides": {**STEPS, "model.pack": 8}}, False, True),
    ("a gradient penalty with batch norm in D",
     {"preset": "mnist-dcgan", "overrides": {**STEPS, "regularization.gradient_penalty": 1}},
     False, False),
    ("batch norm with a gradient penalty",
     {"preset": "mnist-wgan-gp", "overrides": {**STEPS, "model.d_norm": "batch"}}, False, False),
    ("a gradient penalty with weight clipping",
     {"preset": "ring8-wgan-clip",
      "overrides": {**STEPS, "regularization.gradient_penalty": 1}}, False, False),
    ("evaluation of 2D data", {"preset": "ring8-gan", "overrides": {**STEPS, "eval.every": 50}},
     False, False),
    ("evaluation of MNIST", {"preset": "mnist-dcgan", "overrides": {**STEPS, "eval.every": 50}},
     True, True),
    ("channels-last on 2D data",
     {"preset": "ring8-gan", "overrides": {**STEPS, "train.channels_last": True}}, False, False),
    ("a field the preset's data set lacks",
     {"preset": "ring8-gan", "overrides": {**STEPS, "data.image_size": 28}}, False, False),
    ("a field of the preset's data set",
     {"preset": "ring8-gan", "overrides": {**STEPS, "data.sigma": 0.1}}, True, True),
    ("... beyond the bound it has there",
     {"preset": "grid25-wgan-gp", "overrides": {**STEPS, "data.sigma": 50}}, False, False),
    ("a new data set by override (which empties the section)",
     {"preset": "ring8-gan", "overrides": {**STEPS, "data.name": "grid"}}, False, True),
    ("a config alone for 2D data",
     {"config": {"data": {"name": "moons"}, "model": {"arch": "mlp"}, "train": {"steps": 100}}},
     True, True),
    ("... with the DCGAN", {"config": {"data": {"name": "moons"}, "model": {"arch": "dcgan"},
                                       "train": {"steps": 100}}}, False, False),
    ("a config alone for conditional digits", {"config": {
        "data": {"name": "digits"}, "model": {"arch": "dcgan", "conditional": True},
        "train": {"steps": 100}}}, True, True),
    ("... in packs of 2", {"config": {
        "data": {"name": "digits"}, "model": {"arch": "dcgan", "pack": 2, "conditional": True},
        "train": {"steps": 100}}}, False, False),
    ("unconditional digits in packs of 2: the document keeps a pack of 1", {"config": {
        "data": {"name": "digits"}, "model": {"arch": "dcgan", "pack": 2},
        "train": {"steps": 100}}}, False, True),
    ("a model section without its tag",
     {"preset": "ring8-gan", "config": {"model": {"width": 64}}, "steps": 100}, False, True),
]
SWEEPS = [
    ("learning rates on a grid",
     {"preset": "ring8-gan", "overrides": STEPS, "axes": {"optim.g.lr": [1e-4, 1e-3],
                                                          "optim.d.lr": [1e-4, 1e-3]}},
     True, True),
    ("a grid with a count", {"preset": "ring8-gan", "overrides": STEPS, "count": 2,
                             "axes": {"seed": [0, 1]}}, False, False),
    ("a random search without one", {"preset": "ring8-gan", "overrides": STEPS,
                                     "search": "random", "axes": {"seed": [0, 1]}}, False, False),
    ("a log range", {"preset": "ring8-gan", "overrides": STEPS, "search": "random", "count": 3,
                     "axes": {"optim.g.lr": {"low": 1e-5, "high": 1e-3, "log": True}}},
     True, True),
    ("a range upside down", {"preset": "ring8-gan", "overrides": STEPS, "search": "random",
                             "count": 3, "axes": {"optim.g.lr": {"low": 1e-3, "high": 1e-5}}},
     False, False),
    ("a range on a grid", {"preset": "ring8-gan", "overrides": STEPS,
                           "axes": {"optim.g.lr": {"low": 1e-5, "high": 1e-3}}}, False, False),
    ("more grid points than the server runs", {"preset": "ring8-gan", "overrides": STEPS,
                                               "axes": {"seed": list(range(11)),
                                                        "optim.g.lr": [1e-4] * 10}},
     False, False),
    ("a preset's steps left as they are", {"preset": "ring8-gan", "axes": {"seed": [0, 1]}},
     False, False),
    ("the pack, a field a rule reads: not an axis",
     {"preset": "ring8-pacgan4", "overrides": STEPS, "axes": {"model.pack": [1, 2, 3]}},
     False, False),
]


@pytest.mark.parametrize("what, body, allowed, built", RUNS, ids=[row[0] for row in RUNS])
def test_the_document_allows_only_runs_the_server_builds(
        stated: tuple[dict[str, Draft202012Validator], RunService], what: str, body: dict,
        allowed: bool, built: bool) -> None:
    validators, service = stated
    assert validators["RunCreate"].is_valid(body) is allowed, what
    assert builds(service, body) is built, what


@pytest.mark.parametrize("what, body, allowed, built", SWEEPS, ids=[row[0] for row in SWEEPS])
def test_the_document_allows_only_sweeps_the_server_runs(
        stated: tuple[dict[str, Draft202012Validator], RunService], what: str, body: dict,
        allowed: bool, built: bool) -> None:
    validators, service = stated
    assert validators["SweepCreate"].is_valid(body) is allowed, what
    assert sweep_builds(service, body) is built, what
