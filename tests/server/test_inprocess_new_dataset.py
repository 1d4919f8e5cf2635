"""Adding a data set touches the module that draws it: one declared in a test
(tests/gan_core/own_dataset.py: its section of the config, its builder, its registration) is in
the config's schema, the registry's answer with its kind and shape, the rules that depend on the
kind, the API's validation, and trains through the API; taken out, it is gone again.
tests/webui/test_new_dataset.py sees it on the run page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gan_core.config import RunConfig, toy_datasets
from gan_core.data import dataset
from tests.gan_core.own_dataset import NAME, LineData, build_line, own_dataset
from tests.server.conftest import tiny
from tests.server.inprocess import InProcessApp, in_process_app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[InProcessApp]:
    with own_dataset(), in_process_app(tmp_path) as app:
        yield app


def test_a_data_set_registered_in_one_place_is_everywhere(app: InProcessApp) -> None:
    schema = app.client.get("/api/config/schema").json()
    mapping = schema["properties"]["data"]["discriminator"]["mapping"]
    assert mapping[NAME] == "#/$defs/LineData"
    assert schema["$defs"]["LineData"]["properties"]["length"]["maximum"] == 10
    sets = {d["name"]: d for d in app.client.get("/api/registry").json()["datasets"]}
    assert sets[NAME] | {"kind": "toy", "shape": [2], "labels": None, "features": []} \
        == sets[NAME]
    assert sets["cifar10"]["shape"] == [3, 32, 32] and sets["cifar10"]["labels"] == 10
    assert sets["mnist5k"]["features"] == ["mnist", "inception"]

    run_id = app.create_run(tiny(**{"data": {"name": NAME, "length": 3.0}, "train.steps": 20}))
    app.train(run_id)
    run = app.client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "completed" and run["data"] == NAME

    bad = app.client.post("/api/runs", json=tiny(**{"data": {"name": NAME, "length": 11}}))
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-2:] == ["data", "length"]
    # the rules that depend on the kind know it: 2D data needs the MLP and has no FID
    with pytest.raises(ValueError, match=rf"model\.arch: 2D data '{NAME}' needs the 'mlp'"):
        RunConfig.model_validate({"data": {"name": NAME}, "model": {"arch": "dcgan"}})
    with pytest.raises(ValueError, match=r"eval\.every: FID and the other image metrics"):
        RunConfig.model_validate({"data": {"name": NAME}, "eval": {"every": 10}})


def test_a_data_set_taken_out_is_gone() -> None:
    with own_dataset():
        assert NAME in toy_datasets()
        RunConfig.model_validate({"data": {"name": NAME}})
    assert NAME not in toy_datasets()
    with pytest.raises(ValueError, match=f"tag '{NAME}' .* expected tags: 'ring'"):
        RunConfig.model_validate({"data": {"name": NAME}})
    assert "LineData" not in RunConfig.model_json_schema()["$defs"]


def test_a_data_set_states_a_shape_that_fits_its_kind() -> None:
    with pytest.raises(ValueError, match=r"2D data has shape \(2,\)"):
        dataset("test_bad", "Bad.", config=LineData, build=build_line, kind="toy",
                shape=(1, 28, 28))
    with pytest.raises(ValueError, match=r"\(channels, height, width\)"):
        dataset("test_bad", "Bad.", config=LineData, build=build_line, kind="image", shape=(2,))
    with pytest.raises(ValueError, match=r"no feature space \['clip'\]; choose from inception"):
        dataset("test_bad", "Bad.", config=LineData, build=build_line, kind="toy", shape=(2,),
                features=("clip",))
    assert "test_bad" not in toy_datasets()


def test_a_data_set_whose_section_is_not_tagged_with_its_name_is_refused_whole() -> None:
    with pytest.raises(ValueError, match=r"must be tagged name: Literal\['test_other'\]"):
        dataset("test_other", "Tagged test_line.", config=LineData, build=build_line,
                kind="toy", shape=(2,))
    assert "test_other" not in toy_datasets()
    assert RunConfig.model_validate({"data": {"name": "ring"}}).data.name == "ring"

