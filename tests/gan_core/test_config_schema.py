"""RunConfig's JSON schema refuses exactly the configs RunConfig refuses, the rules between
fields included (the web form and the server's OpenAPI document are built from it)."""

import copy
import random

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from gan_core.config import MAX_PACK, RunConfig, image_datasets, toy_datasets
from gan_core.presets import preset_dict

SCHEMA = Draft202012Validator(RunConfig.model_json_schema())


def accepted(config: dict) -> bool:
    try:
        RunConfig.model_validate(config)
    except ValidationError:
        return False
    return True


def preset(name: str, **sections: dict) -> dict:
    """A preset with some sections changed (a section given with a new tag replaces it)."""
    config = preset_dict(name)
    for section, fields in sections.items():
        tag = {"data": "name", "model": "arch"}.get(section)
        current = config.setdefault(section, {})
        if tag in fields and fields[tag] != current.get(tag):
            config[section] = dict(fields)
        else:
            current.update(fields)
    return config


GP_CRITIC = {"arch": "dcgan", "d_norm": "layer"}
# (what it shows, config, accepted): each rule broken once and kept once, most from presets
TABLE = [
    ("2D data with the DCGAN", preset("ring8-gan", model={"arch": "dcgan"}), False),
    ("2D data, model left to its default (mlp)", {"data": {"name": "grid"}}, True),
    ("images with the MLP", preset("mnist-dcgan", model={"arch": "mlp"}), False),
    ("images, model left to its default (mlp)", {"data": {"name": "mnist5k"}}, False),
    ("a DCGAN on the default data (the ring)", {"model": {"arch": "dcgan"}}, False),
    ("a gradient penalty with batch norm in D", preset("mnist-dcgan", model={"d_norm": "batch"},
                                                        regularization={"gradient_penalty": 10}),
     False),
    ("a gradient penalty, D's norm left to its default (batch)",
     {"data": {"name": "mnist5k"}, "model": {"arch": "dcgan"},
      "regularization": {"gradient_penalty": 1.0}}, False),
    ("a gradient penalty with layer norm in D", preset("mnist-wgan-gp", model=GP_CRITIC), True),
    ("a gradient penalty on 2D data (no batch norm there)", preset("ring8-wgan-gp"), True),
    ("conditional on CelebA", {"data": {"name": "celeba"},
                               "model": {"arch": "dcgan", "conditional": True}}, False),
    ("conditional on MNIST", preset("mnist-dcgan", model={"conditional": True}), True),
    ("evaluation of 2D data", preset("ring8-gan", eval={"every": 100}), False),
    ("MNIST features for CIFAR-10", preset("mnist-dcgan", data={"name": "cifar10"},
                                           eval={"every": 100}), False),
    ("Inception features for CIFAR-10", preset("mnist-dcgan", data={"name": "cifar10"},
                                               eval={"every": 100, "features": "inception"}),
     True),
    ("MNIST features unused (no evaluation)", preset("mnist-dcgan", data={"name": "cifar10"}),
     True),
    ("MNIST features for MNIST", preset("digits-dcgan", eval={"every": 100}), True),
    ("a batch of 256 in packs of 3", preset("ring8-pacgan4", model={"pack": 3}), False),
    ("a batch of 256 in packs of 8", preset("ring8-pacgan4", model={"pack": 8}), True),
    ("a batch of 250 in packs of 4", preset("ring8-pacgan4", train={"batch_size": 250}), False),
    ("packs of 2, batch left to its default (64)", {"model": {"arch": "mlp", "pack": 2}}, True),
    ("packs of 5, batch left to its default (64)", {"model": {"arch": "mlp", "pack": 5}}, False),
    ("packs with a conditional model", preset("mnist-dcgan", model={"pack": 2,
                                                                    "conditional": True}), False),
    ("packs with an unconditional DCGAN", preset("mnist-dcgan", model={"pack": 2}), True),
    ("channels-last on 2D data", preset("ring8-gan", train={"channels_last": True}), False),
    ("channels-last on images", preset("mnist-dcgan", train={"channels_last": True}), True),
    ("weight clipping and a gradient penalty", preset("ring8-wgan-gp",
                                                      regularization={"weight_clip": 0.01}), False),
    ("weight clipping alone", preset("ring8-wgan-clip"), True),
    ("a folder of images without its folder", preset("mnist-dcgan",
                                                     data={"name": "image_folder"}), False),
    ("a folder of images, root empty", preset("mnist-dcgan", data={"name": "image_folder",
                                                                   "root": ""}), False),
    ("a folder of images with its folder", preset("mnist-dcgan", data={"name": "image_folder",
                                                                       "root": "/x"}), True),
    ("a data section without its tag", {"data": {"sigma": 0.5}}, False),
    ("a model section without its tag", {"model": {"pack": 2}}, False),
]


@pytest.mark.parametrize("what, config, expected", TABLE, ids=[row[0] for row in TABLE])
def test_the_schema_refuses_what_the_config_refuses(what: str, config: dict,
                                                    expected: bool) -> None:
    assert accepted(config) is expected, what
    assert SCHEMA.is_valid(config) is expected, what


def random_config(rng: random.Random) -> dict:
    """A partial config that sets some of the fields the rules read, from small domains."""
    data_name = rng.choice(toy_datasets() + image_datasets())
    arch = rng.choice(["mlp", "dcgan"])
    config: dict = {}
    if rng.random() < 0.8:
        config["data"] = {"name": data_name}
        if data_name == "image_folder" and rng.random() < 0.7:
            config["data"]["root"] = rng.choice(["", "/images"])
    if rng.random() < 0.8:
        model = config["model"] = {"arch": arch}
        if rng.random() < 0.6:
            model["pack"] = rng.randint(1, MAX_PACK)
        if arch == "dcgan":
            for name, values in (("d_norm", ["batch", "layer", "none"]),
                                 ("conditional", [True, False])):
                if rng.random() < 0.5:
                    model[name] = rng.choice(values)
    for section, name, values in (
            ("regularization", "gradient_penalty", [None, 10.0]),
            ("regularization", "weight_clip", [None, 0.01]),
            ("eval", "every", [None, 100]),
            ("eval", "features", ["mnist", "inception", "neither"]),
            ("train", "batch_size", [1, 6, 12, 64, 105, 256, 840]),
            ("train", "channels_last", [True, False])):
        if rng.random() < 0.4:
            config.setdefault(section, {})[name] = rng.choice(values)
    return copy.deepcopy(config)


def test_the_schema_agrees_with_the_config_on_random_combinations() -> None:
    rng = random.Random(18)
    outcomes = set()
    for _ in range(1500):
        config = random_config(rng)
        expected = accepted(config)
        assert SCHEMA.is_valid(config) is expected, config
        outcomes.add(expected)
    assert outcomes == {True, False}
