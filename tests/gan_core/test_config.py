"""The run config: defaults, validation messages, round trips, overrides, presets."""

import json

import pytest

from gan_core.config import ConfigError, RunConfig, apply_overrides, load_config_file
from gan_core.presets import PRESETS, preset_config, preset_dict

REQUIRED_PRESETS = {
    "ring8-gan", "ring8-wgan-gp", "grid25-wgan-gp", "ring8-wgan-clip", "mnist-dcgan",
    "mnist-wgan-gp", "mnist-lsgan", "mnist-sngan-hinge", "digits-dcgan",
}


def test_defaults_are_the_pacgan_ring():
    cfg = RunConfig()
    ring = cfg.data
    assert (ring.name, ring.n_modes, ring.radius, ring.sigma) == ("ring", 8, 1, 0.01)
    grid = RunConfig.from_dict({"data": {"name": "grid"}}).data
    assert (grid.side, grid.spacing, grid.sigma) == (5, 2.0, 0.05)


def test_json_round_trip_is_lossless():
    for name in REQUIRED_PRESETS:
        cfg = preset_config(name)
        assert RunConfig.from_json(cfg.to_json()) == cfg


def test_unknown_keys_are_errors_naming_the_field():
    with pytest.raises(ConfigError, match=r"optim\.g\.lrr: unknown field"):
        RunConfig.from_dict({"optim": {"g": {"lrr": 0.1}}})
    with pytest.raises(ConfigError, match="unknown field"):
        RunConfig.from_dict({"colour": "red"})


def test_bad_choice_lists_allowed_values():
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"loss": {"name": "wgan"}})
    assert "loss.name" in str(err.value)
    assert "hinge" in str(err.value) and "wasserstein" in str(err.value)  # the choices
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict({"data": {"name": "imagenet"}})
    assert "data" in str(err.value) and "'mnist5k'" in str(err.value)


def test_bounds_are_enforced():
    with pytest.raises(ConfigError, match=r"train\.batch_size"):
        RunConfig.from_dict({"train": {"batch_size": 0}})
    with pytest.raises(ConfigError, match=r"optim\.d\.lr"):
        RunConfig.from_dict({"optim": {"d": {"lr": -1}}})


def test_cross_field_rules():
    with pytest.raises(ConfigError, match=r"model\.arch"):
        RunConfig.from_dict({"data": {"name": "ring"}, "model": {"arch": "dcgan"}})
    with pytest.raises(ConfigError, match=r"model\.d_norm"):
        RunConfig.from_dict({
            "data": {"name": "mnist5k"}, "model": {"arch": "dcgan", "d_norm": "batch"},
            "loss": {"name": "wasserstein"}, "regularization": {"gradient_penalty": 10},
        })
    with pytest.raises(ConfigError, match="weight_clip or gradient_penalty"):
        RunConfig.from_dict({"regularization": {"weight_clip": 0.01, "gradient_penalty": 1}})
    with pytest.raises(ConfigError, match="no class labels"):
        RunConfig.from_dict({"data": {"name": "celeba"}, "model": {"arch": "dcgan",
                                                                    "conditional": True}})


def test_every_field_has_a_description():
    schema = RunConfig.model_json_schema()

    def walk(node, path):
        for name, prop in node.get("properties", {}).items():
            if name in ("name", "arch") and "const" in prop:
                continue  # discriminator tags
            target = prop
            if "$ref" in prop and "description" not in prop:
                target = schema["$defs"][prop["$ref"].split("/")[-1]]
            assert prop.get("description") or target.get("description"), f"{path}.{name}"
    for definition in schema["$defs"].values():
        walk(definition, definition["title"])
    walk(schema, "RunConfig")


def test_presets_cover_the_required_set_and_validate():
    assert set(PRESETS.names()) >= REQUIRED_PRESETS
    for entry in PRESETS:
        assert entry.description
        preset_config(entry.name)
    assert preset_config("ring8-wgan-clip").optim.d.name == "rmsprop"
    assert preset_config("ring8-wgan-clip").regularization.weight_clip == 0.01
    with pytest.raises(ValueError, match="choose one of"):
        preset_dict("nope")


def test_overrides_parse_values_and_replace_sections():
    base = preset_dict("ring8-gan")
    out = apply_overrides(base, ["optim.g.lr=1e-4", "train.steps=10", "data.name=grid"])
    cfg = RunConfig.from_dict(out)
    assert cfg.optim.g.lr == 1e-4 and cfg.train.steps == 10
    assert cfg.data.name == "grid" and cfg.data.sigma == 0.05  # ring's sigma did not leak in
    assert base["train"]["steps"] == 12000  # the preset itself is untouched
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides(base, ["optim.g.lr"])


def test_config_files(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"train": {"steps": 5}}))
    (tmp_path / "b.yaml").write_text("train:\n  steps: 7\n")
    (tmp_path / "c.yaml").write_text("train: [unclosed\n")
    assert RunConfig.from_dict(load_config_file(tmp_path / "a.json")).train.steps == 5
    assert RunConfig.from_dict(load_config_file(tmp_path / "b.yaml")).train.steps == 7
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config_file(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "missing.yaml")
