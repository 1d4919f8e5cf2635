"""The whole run as one pydantic model.

Unknown keys are errors everywhere (``extra="forbid"``), every field carries a description and
bounds, and the JSON schema of :class:`RunConfig` drives the web form. A config is saved inside
every checkpoint, so a run can be rebuilt from its files alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

__all__ = [
    "IMAGE_DATASETS",
    "MISSING",
    "RULES",
    "TOY_DATASETS",
    "Condition",
    "ConfigError",
    "DCGANModel",
    "DataConfig",
    "EvalConfig",
    "ImageData",
    "LossConfig",
    "MLPModel",
    "ModelConfig",
    "OptimConfig",
    "OptimizerConfig",
    "RegularizationConfig",
    "Rule",
    "RunConfig",
    "ScheduleConfig",
    "above",
    "apply_overrides",
    "field_value",
    "format_validation_error",
    "is_set",
    "load_config_file",
    "one_of",
    "present",
    "variant_defaults",
]


class ConfigError(ValueError):
    """A config that cannot be used; the message names the field and what to change."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _tag_required(tag: str) -> ConfigDict:
    """A variant of a tagged section (data, model): pydantic picks the variant by its tag, so a
    section that is given must name it (the tag's default serves only where the whole section
    is left out), and the JSON schema says so."""

    def extra(schema: dict[str, Any]) -> None:
        schema["required"] = [tag, *(name for name in schema.get("required", []) if name != tag)]

    return ConfigDict(json_schema_extra=extra)


# ---------------------------------------------------------------------------------------------
# Rules between fields: declared once, checked by the models and stated by their JSON schema
# ---------------------------------------------------------------------------------------------

# the value of a field the config's variant lacks (an MLP's d_norm): it meets no condition
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


@dataclass(frozen=True)
class Condition:
    """A test of one field's value, written once for Python and once as JSON Schema."""

    test: Callable[[Any], bool]
    schema: dict[str, Any]
    # the values that fail the test, stated positively where JSON Schema can (a generator
    # handles {"maximum": 8} far better than {"not": {"exclusiveMinimum": 8}})
    fails: dict[str, Any] | None = None


def one_of(*values: Any) -> Condition:
    # equal as JSON Schema's enum compares: true is not 1
    return Condition(lambda v: any(v == x and isinstance(v, bool) == isinstance(x, bool)
                                   for x in values), {"enum": list(values)},
                     {"not": {"enum": list(values)}})


def not_one_of(*values: Any) -> Condition:
    return Condition(lambda v: v is not MISSING and v not in values,
                     {"not": {"enum": list(values)}})


def is_set() -> Condition:
    """Given (not empty): a number, where the field is optional."""
    return Condition(lambda v: v is not None and v is not MISSING, {"not": {"type": "null"}},
                     {"type": "null"})


def above(limit: int | float) -> Condition:
    return Condition(lambda v: isinstance(v, int | float) and v > limit,
                     {"type": "number", "exclusiveMinimum": limit}, {"maximum": limit})


def not_multiple_of(k: int) -> Condition:
    return Condition(lambda v: isinstance(v, int) and v % k != 0,
                     {"type": "integer", "not": {"multipleOf": k}}, {"multipleOf": k})


@dataclass(frozen=True)
class Rule:
    """Values that may not come together: a config where every condition of ``when`` holds
    (each for its dotted field; a field the chosen variant lacks meets none) is refused with
    ``message(config)``."""

    when: dict[str, Condition]
    message: Callable[[Any], str]

    def broken_by(self, config: BaseModel) -> bool:
        return all(cond.test(field_value(config, path)) for path, cond in self.when.items())

    def under(self, section: str) -> Rule:
        """The rule of a section's model, with paths from the config's top."""
        return Rule({f"{section}.{path}": cond for path, cond in self.when.items()}, self.message)


def field_value(config: BaseModel, path: str) -> Any:
    """The value at a dotted field path, MISSING where the config has no such field."""
    node: Any = config
    for part in path.split("."):
        node = getattr(node, part, MISSING) if isinstance(node, BaseModel) else MISSING
    return node


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


class RingData(StrictModel):
    """Gaussians evenly spaced on a circle (PacGAN: 8 modes, radius 1, sigma 0.01)."""

    model_config = _tag_required("name")
    name: Literal["ring"] = "ring"
    n_modes: int = Field(8, ge=2, le=64, description="Number of Gaussians on the circle.")
    radius: float = Field(1.0, gt=0, le=100, description="Radius of the circle.")
    sigma: float = Field(0.01, gt=0, le=10, description="Standard deviation of each Gaussian.")


class GridData(StrictModel):
    """A square grid of Gaussians (PacGAN: 5x5 at {-4,-2,0,2,4}^2, sigma 0.05)."""

    model_config = _tag_required("name")
    name: Literal["grid"] = "grid"
    side: int = Field(5, ge=2, le=10, description="Gaussians per side of the grid.")
    spacing: float = Field(2.0, gt=0, le=100, description="Distance between neighbouring modes.")
    sigma: float = Field(0.05, gt=0, le=10, description="Standard deviation of each Gaussian.")


class SpiralData(StrictModel):
    """Points along an Archimedean spiral with Gaussian noise."""

    model_config = _tag_required("name")
    name: Literal["spiral"] = "spiral"
    turns: float = Field(1.5, gt=0, le=10, description="Number of turns of the spiral.")
    radius: float = Field(2.0, gt=0, le=100, description="Radius at the end of the spiral.")
    noise: float = Field(0.05, ge=0, le=10, description="Standard deviation of added noise.")


class MoonsData(StrictModel):
    """Two interleaving half circles (as scikit-learn's make_moons)."""

    model_config = _tag_required("name")
    name: Literal["moons"] = "moons"
    noise: float = Field(0.05, ge=0, le=10, description="Standard deviation of added noise.")


class GaussianData(StrictModel):
    """A single isotropic Gaussian."""

    model_config = _tag_required("name")
    name: Literal["gaussian"] = "gaussian"
    mean: tuple[float, float] = Field((0.0, 0.0), description="Centre (x, y).")
    sigma: float = Field(1.0, gt=0, le=100, description="Standard deviation.")


TOY_DATASETS = ("ring", "grid", "spiral", "moons", "gaussian")
IMAGE_DATASETS = (
    "mnist5k",
    "digits",
    "mnist",
    "fashion_mnist",
    "cifar10",
    "celeba",
    "image_folder",
)
# Native (channels, size) of each image set; image_folder is whatever the user asks for.
NATIVE_IMAGE_SHAPE: dict[str, tuple[int, int]] = {
    "mnist5k": (1, 28),
    "digits": (1, 8),
    "mnist": (1, 28),
    "fashion_mnist": (1, 28),
    "cifar10": (3, 32),
    "celeba": (3, 64),
    "image_folder": (3, 64),
}


class ImageData(StrictModel):
    """An image data set, resized/cropped to ``image_size`` and normalized to [-1, 1]."""

    model_config = _tag_required("name")
    name: Literal[
        "mnist5k", "digits", "mnist", "fashion_mnist", "cifar10", "celeba", "image_folder"
    ] = Field(
        description=(
            "mnist5k and digits ship with installed packages and work offline; the others read "
            "files under `root` (or download them when `download` is true and there is internet)."
        )
    )
    root: str | None = Field(
        None,
        description=(
            "Folder holding the data set's files (required for image_folder). Default: "
            "$GANSCOPE_DATA_DIR/datasets, else ~/.cache/ganscope/datasets."
        ),
    )
    image_size: Literal[28, 32, 64] | None = Field(
        None,
        description="Side of the square images the model sees. Default: the set's own size "
        "(28 for MNIST-like sets, 32 for CIFAR-10 and digits, 64 for CelebA and folders).",
    )
    channels: Literal[1, 3] | None = Field(
        None, description="1 (gray) or 3 (RGB). Default: the set's own channels."
    )
    download: bool = Field(
        False, description="Download the files when they are missing (needs internet)."
    )
    limit: int | None = Field(
        None, ge=1, le=10_000_000, description="Use only the first N images (quick runs)."
    )

    @property
    def resolved_channels(self) -> int:
        return self.channels or NATIVE_IMAGE_SHAPE[self.name][0]

    @property
    def resolved_size(self) -> int:
        if self.image_size is not None:
            return self.image_size
        native = NATIVE_IMAGE_SHAPE[self.name][1]
        return native if native in (28, 32, 64) else 32

    @model_validator(mode="after")
    def _folder_needs_root(self) -> ImageData:
        if FOLDER_NEEDS_ROOT.broken_by(self):
            raise ValueError(FOLDER_NEEDS_ROOT.message(self))
        return self


FOLDER_NEEDS_ROOT = Rule(
    {"name": one_of("image_folder"), "root": one_of(None, "")},
    lambda data: "data.root: image_folder needs the folder of images in `root`")


DataConfig = Annotated[
    RingData | GridData | SpiralData | MoonsData | GaussianData | ImageData,
    Field(discriminator="name"),
]

# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

Activation = Literal["relu", "leaky_relu", "tanh", "elu", "silu"]
ZDistribution = Literal["gaussian", "uniform"]
MAX_PACK = 8  # PacGAN's largest pack (the rules enumerate the pack sizes)


class MLPModel(StrictModel):
    """Fully connected G and D for 2D toy data."""

    model_config = _tag_required("arch")
    arch: Literal["mlp"] = "mlp"
    z_dim: int = Field(2, ge=1, le=1024, description="Size of the latent vector z.")
    z_distribution: ZDistribution = Field(
        "gaussian", description="gaussian: N(0, I); uniform: U(-1, 1)."
    )
    depth: int = Field(3, ge=1, le=16, description="Hidden layers in G and in D.")
    width: int = Field(128, ge=4, le=4096, description="Units per hidden layer.")
    activation: Activation = Field("relu", description="Hidden-layer activation of G and D.")
    spectral_norm_d: bool = Field(False, description="Spectral normalization on D's layers.")
    spectral_norm_g: bool = Field(False, description="Spectral normalization on G's layers.")
    pack: int = Field(
        1, ge=1, le=MAX_PACK,
        description="PacGAN packing: D judges m samples at once (real with real, fake with "
        "fake), which penalizes mode collapse; train.batch_size must be a multiple of m.",
    )


class DCGANModel(StrictModel):
    """DCGAN G and D (Radford et al. 2015) for 28, 32 or 64 px images."""

    model_config = _tag_required("arch")
    arch: Literal["dcgan"] = "dcgan"
    z_dim: int = Field(100, ge=1, le=1024, description="Size of the latent vector z.")
    z_distribution: ZDistribution = Field(
        "gaussian", description="gaussian: N(0, I); uniform: U(-1, 1)."
    )
    g_channels: int = Field(64, ge=4, le=1024, description="G's base feature maps (ngf).")
    d_channels: int = Field(64, ge=4, le=1024, description="D's base feature maps (ndf).")
    g_norm: Literal["batch", "none"] = Field("batch", description="Normalization in G.")
    d_norm: Literal["batch", "layer", "instance", "none"] = Field(
        "batch",
        description="Normalization in D. WGAN-GP needs layer, instance or none (the penalty is "
        "per sample; batch norm couples samples).",
    )
    spectral_norm_d: bool = Field(False, description="Spectral normalization on D's layers.")
    spectral_norm_g: bool = Field(False, description="Spectral normalization on G's layers.")
    conditional: bool = Field(
        False,
        description="Class-conditional G (label embedding) and D (projection); needs labels.",
    )
    pack: int = Field(
        1, ge=1, le=MAX_PACK,
        description="PacGAN packing: D judges m samples at once (real with real, fake with "
        "fake), which penalizes mode collapse; train.batch_size must be a multiple of m.",
    )


ModelConfig = Annotated[MLPModel | DCGANModel, Field(discriminator="arch")]

# ---------------------------------------------------------------------------------------------
# Loss, regularization, optimizers, schedule
# ---------------------------------------------------------------------------------------------


class RegisteredChoices:
    """A string field's enum, read from a registry whenever a schema is made (so that an entry
    registered after this module was imported is in it)."""

    def __init__(self, names: Callable[[], list[str]]) -> None:
        self.names = names

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema = handler(core_schema)
        schema["enum"] = self.names()
        return schema


def _evaluation_names() -> list[str]:
    from gan_core.evaluations import EVALUATIONS  # late: it imports torch's metric stages

    return EVALUATIONS.names()


def _evaluation_descriptions(schema: dict[str, Any]) -> None:
    from gan_core.evaluations import EVALUATIONS

    schema["description"] = "; ".join(f"{e['name']}: {e['description'].rstrip('.')}"
                                      for e in EVALUATIONS.describe())


def _registered_evaluation(name: str) -> str:
    """A metric registered in gan_core.evaluations, refused as a fixed choice would be."""
    names = _evaluation_names()
    if name not in names:
        raise ValueError(f"got {name!r}; allowed: {', '.join(map(repr, names))}")
    return name


def _registered_loss(name: str) -> str:
    """A loss registered in gan_core.losses (imported here, late: losses.py reads this module).
    An unknown one is refused with the message a choice among fixed values gets."""
    from gan_core.losses import LOSSES

    if name not in LOSSES:
        raise ValueError(f"got {name!r}; allowed: {', '.join(map(repr, LOSSES.names()))}")
    return name


def _loss_choices(schema: dict[str, Any]) -> None:
    """The registered losses as the field's enum and description, whenever a schema is made."""
    from gan_core.losses import LOSSES

    schema["enum"] = LOSSES.names()
    schema["description"] = "; ".join(f"{e['name']}: {e['description'].rstrip('.')}"
                                      for e in LOSSES.describe())


class LossConfig(StrictModel):
    # the choices are gan_core.losses.LOSSES: a new loss registers itself there and nowhere else
    name: Annotated[str, AfterValidator(_registered_loss)] = Field(
        "nonsaturating", json_schema_extra=_loss_choices)
    lsgan_a: float = Field(0.0, ge=-10, le=10, description="LSGAN target for fake in D.")
    lsgan_b: float = Field(1.0, ge=-10, le=10, description="LSGAN target for real in D.")
    lsgan_c: float = Field(1.0, ge=-10, le=10, description="LSGAN target G wants D to give.")


class RegularizationConfig(StrictModel):
    weight_clip: float | None = Field(
        None, gt=0, le=10, description="Clip D's weights to [-c, c] after each D step (WGAN)."
    )
    gradient_penalty: float | None = Field(
        None,
        gt=0,
        le=1000,
        description="WGAN-GP lambda: lambda * E[(||grad D(x_hat)|| - 1)^2] on random interpolates.",
    )
    r1_gamma: float | None = Field(
        None, gt=0, le=1000, description="R1 gamma: gamma/2 * E[||grad D(x_real)||^2]."
    )


class OptimizerConfig(StrictModel):
    name: Literal["adam", "rmsprop", "sgd"] = Field("adam", description="Optimizer.")
    lr: float = Field(2e-4, gt=0, le=1.0, description="Learning rate.")
    beta1: float = Field(0.5, ge=0, lt=1, description="Adam beta1.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Adam beta2.")
    momentum: float = Field(0.0, ge=0, lt=1, description="SGD/RMSprop momentum.")


class OptimConfig(StrictModel):
    g: OptimizerConfig = Field(default_factory=OptimizerConfig, description="G's optimizer.")
    d: OptimizerConfig = Field(default_factory=OptimizerConfig, description="D's optimizer.")
    n_critic: int = Field(1, ge=1, le=100, description="D steps per G step.")
    lr_decay: Literal["constant", "linear"] = Field(
        "constant",
        description="constant: the learning rates as set; linear: both fall linearly from "
        "their set values to 0 at train.steps (the noise of the last steps dies out, so "
        "samples settle on the modes). A live lr change sets the value that decays.",
    )
    ema_decay: float | None = Field(
        None,
        gt=0,
        lt=1,
        description="Keep an EMA of G's weights with this decay (e.g. 0.999), warmed up as "
        "min(decay, (1 + step) / (10 + step)). Grids and 2D views show the EMA G.",
    )


class ScheduleConfig(StrictModel):
    steps: int = Field(2000, ge=1, le=10_000_000, description="G steps to train.")
    batch_size: int = Field(64, ge=1, le=4096, description="Images or points per batch.")
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: CUDA when available, else CPU."
    )
    num_threads: int | None = Field(
        None, ge=1, le=256, description="CPU threads for torch (default: torch's choice)."
    )
    report_every: int = Field(
        10, ge=1, le=10_000, description="Aggregate per-step metrics over this many steps."
    )
    sample_every: int = Field(
        200, ge=1, le=1_000_000, description="Steps between sample grids / 2D views."
    )
    spectral_every: int = Field(
        100, ge=1, le=1_000_000, description="Steps between D spectral-norm measurements."
    )
    checkpoint_every: int = Field(
        1000, ge=1, le=10_000_000, description="Steps between checkpoints (and one at the end)."
    )
    grid_size: int = Field(64, ge=1, le=256, description="Samples in a grid (fixed noise).")
    amp: Literal["off", "bf16", "fp16"] = Field(
        "off", description="Mixed precision: bf16 autocast (CPU and recent GPUs), or fp16 "
        "autocast with a gradient scaler (CUDA only).")
    channels_last: bool = Field(
        False, description="NHWC memory layout for the image models' convolutions (faster "
        "with tensor cores); image data only.")
    compile: bool = Field(
        False, description="torch.compile G and D; the first step compiles, its time is "
        "reported once as compile_s and left out of step_time.")
    fused_optimizer: bool = Field(
        False, description="Adam/RMSprop/SGD with torch's fused kernels where it has them for "
        "the device (else its foreach ones).")


# data sets the MNIST domain features were trained for (gray digits)
MNIST_FEATURE_SETS = ("mnist5k", "mnist", "digits")


class EvalConfig(StrictModel):
    """Periodic evaluation of G during training (off unless ``every`` is set)."""

    every: int | None = Field(
        None,
        ge=1,
        le=10_000_000,
        description="Steps between evaluations (and one at the end); empty: off. Runs between "
        "steps; its time is reported as eval_time and not counted in step_time.",
    )
    # the choices are gan_core.evaluations.EVALUATIONS: a new metric registers itself there
    metrics: list[Annotated[str, AfterValidator(_registered_evaluation),
                            RegisteredChoices(_evaluation_names)]] = Field(
        ["fid"],  # a plain default (pydantic copies it per instance): the web form shows it
        min_length=1, json_schema_extra=lambda schema: _evaluation_descriptions(schema))
    features: Literal["mnist", "inception"] = Field(
        "mnist",
        description="mnist: a small digit classifier, fast on a CPU, for the MNIST sets only "
        "(values named fid_mnist etc., not comparable to Inception FID); inception: the "
        "network papers report FID with (slow on a CPU).",
    )
    n: int = Field(
        2000, ge=100, le=50_000,
        description="Generated samples per evaluation (and real samples, up to the set's size)."
    )
    checkpoint_best: bool = Field(
        True, description="Save a checkpoint whenever FID reaches a new best, so the best "
        "G is kept (needs fid in metrics)."
    )


# What RunConfig refuses, in the order it checks; each rule's message names the field to change.
CONSISTENCY_RULES: tuple[Rule, ...] = (
    Rule({"data.name": one_of(*TOY_DATASETS), "model.arch": not_one_of("mlp")},
         lambda c: f"model.arch: 2D data {c.data.name!r} needs the 'mlp' model, not "
                   f"{c.model.arch!r}"),
    Rule({"data.name": one_of(*IMAGE_DATASETS), "model.arch": one_of("mlp")},
         lambda c: f"model.arch: image data {c.data.name!r} needs the 'dcgan' model, not 'mlp'"),
    Rule({"regularization.gradient_penalty": is_set(), "model.d_norm": one_of("batch")},
         lambda c: "model.d_norm: the gradient penalty must not be used with batch norm in the "
                   "critic; set model.d_norm to 'layer', 'instance' or 'none'"),
    Rule({"model.conditional": one_of(True), "data.name": one_of("celeba", "image_folder")},
         lambda c: f"model.conditional: data set {c.data.name!r} has no class labels; set "
                   "model.conditional to false"),
    Rule({"eval.every": is_set(), "data.name": one_of(*TOY_DATASETS)},
         lambda c: "eval.every: FID and the other image metrics need image data; 2D runs report "
                   "modes_captured and w1_exact already (leave eval.every empty)"),
    Rule({"eval.every": is_set(), "eval.features": one_of("mnist"),
          "data.name": not_one_of(*MNIST_FEATURE_SETS)},
         lambda c: f"eval.features: the MNIST features fit only {MNIST_FEATURE_SETS}, not "
                   f"{c.data.name!r}; use 'inception'"),
    # one rule per pack size: JSON Schema's multipleOf takes a number, not another field
    *(Rule({"model.pack": one_of(k), "train.batch_size": not_multiple_of(k)},
           lambda c: f"train.batch_size: {c.train.batch_size} is not a multiple of model.pack "
                     f"({c.model.pack}): D judges packs of {c.model.pack} samples; use e.g. "
                     f"{c.model.pack * max(1, c.train.batch_size // c.model.pack)}")
      for k in range(2, MAX_PACK + 1)),
    Rule({"model.pack": above(1), "model.conditional": one_of(True)},
         lambda c: "model.pack: packing is for unconditional models (a pack would mix classes); "
                   "set model.pack to 1 or model.conditional to false"),
    Rule({"train.channels_last": one_of(True), "data.name": one_of(*TOY_DATASETS)},
         lambda c: "train.channels_last: the NHWC layout is for image models (DCGAN); a 2D run "
                   "has no channels, leave it false"),
    Rule({"regularization.weight_clip": is_set(), "regularization.gradient_penalty": is_set()},
         lambda c: "regularization: use either weight_clip or gradient_penalty, not both"),
)
# every rule between a config's fields, with paths from the config's top (the schema states them)
RULES: tuple[Rule, ...] = (FOLDER_NEEDS_ROOT.under("data"), *CONSISTENCY_RULES)


def _state_the_rules(schema: dict[str, Any]) -> None:
    """RunConfig's JSON schema refuses what its validators refuse."""
    defaults = RunConfig()
    schema["allOf"] = [rule_schema(rule, defaults) for rule in RULES]


class RunConfig(StrictModel):
    """Everything that defines a training run."""

    model_config = ConfigDict(json_schema_extra=_state_the_rules)

    name: str | None = Field(None, max_length=200, description="A label for the run.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed for weights, data and noise.")
    data: DataConfig = Field(default_factory=RingData, description="Training data.")
    model: ModelConfig = Field(default_factory=MLPModel, description="G and D architecture.")
    loss: LossConfig = Field(default_factory=LossConfig, description="Adversarial loss.")
    regularization: RegularizationConfig = Field(
        default_factory=RegularizationConfig, description="Lipschitz constraints/regularizers."
    )
    optim: OptimConfig = Field(default_factory=OptimConfig, description="Optimizers.")
    train: ScheduleConfig = Field(default_factory=ScheduleConfig, description="Schedule.")
    eval: EvalConfig = Field(
        default_factory=EvalConfig, description="Metrics measured during training."
    )

    @property
    def is_toy(self) -> bool:
        return self.data.name in TOY_DATASETS

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        for rule in CONSISTENCY_RULES:
            if rule.broken_by(self):
                raise ValueError(rule.message(self))
        return self

    # -- serialization ---------------------------------------------------------------------

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc)) from None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc)) from None


# -- the rules as JSON Schema ---------------------------------------------------------------
#
# A rule names fields by their dotted paths, but a config may leave a field out, and then its
# value is its default, or (in a data or model section given with another tag) that variant's.


def present(keys: tuple[str, ...], schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document has ``keys`` (nested objects down to a value that matches ``schema``)."""
    node = {} if schema is None else schema
    for key in reversed(keys):
        node = {"type": "object", "required": [key], "properties": {key: node}}
    return node


def absent(keys: tuple[str, ...]) -> dict[str, Any]:
    return {"not": present(keys)}


def variant_defaults(path: str) -> tuple[str, dict[Any, Any]] | None:
    """For a field of a tagged section (data, model): the tag's path, and the field's default
    under each tag value (MISSING where that variant has no such field); None elsewhere."""
    section, _, rest = path.partition(".")
    info = RunConfig.model_fields.get(section)
    if not rest or info is None or info.discriminator is None:
        return None
    tag = str(info.discriminator)
    defaults = {}
    for variant in get_args(info.annotation):
        for value in get_args(variant.model_fields[tag].annotation):
            defaults[value] = field_value(variant.model_construct(**{tag: value}), rest)
    return f"{section}.{tag}", defaults


def _ways(path: str, condition: Condition, base: RunConfig) -> list[dict[str, Any]]:
    """The configs whose field at ``path`` meets ``condition``, where a field left out has the
    value it gets over ``base`` (as merge_config merges: a section given with another tag than
    the base's starts afresh, with that variant's defaults)."""
    keys = tuple(path.split("."))
    ways = [present(keys, condition.schema)]
    tagged = variant_defaults(path)
    if tagged is not None and tagged[0] != path:
        tag_path, defaults = tagged
        same = field_value(base, tag_path)
        tags = [tag for tag, default in defaults.items()
                if condition.test(field_value(base, path) if tag == same else default)]
        if tags:
            ways.append({"allOf": [present(tuple(tag_path.split(".")), {"enum": tags}),
                                   absent(keys)]})
    if condition.test(field_value(base, path)):  # the whole section (or field) left out
        ways.append(absent(keys[:1] if tagged is not None else keys))
    return ways


def rule_schema(rule: Rule, base: RunConfig) -> dict[str, Any]:
    """``rule`` as JSON Schema for a config whose left-out fields come from ``base``."""
    conditions = []
    for path, condition in rule.when.items():
        ways = _ways(path, condition, base)
        conditions.append(ways[0] if len(ways) == 1 else {"anyOf": ways})
    return {"not": {"allOf": conditions}}


def validation_issues(exc: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    """Each problem as (field path, message that says what is wrong and what is allowed)."""
    issues = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
        msg = err["msg"]
        if err["type"] == "literal_error":
            expected = err.get("ctx", {}).get("expected")
            msg = f"got {err.get('input')!r}; allowed: {expected}"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (check its spelling)"
        elif err["type"] == "union_tag_invalid":
            expected = err.get("ctx", {}).get("expected_tags")
            msg = f"got {err.get('ctx', {}).get('tag')!r}; allowed: {expected}"
        elif msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        issues.append((loc, msg))
    return issues


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: the dotted field path, what is wrong, and the allowed values."""
    lines = []
    for loc, msg in validation_issues(exc):
        dotted = ".".join(str(p) for p in loc)
        lines.append(f"{dotted}: {msg}" if dotted else msg)
    return "\n".join(lines)


def _is_union_tag(part: object) -> bool:
    # pydantic puts the discriminator value (e.g. 'ring') into the error location
    return isinstance(part, str) and (part in TOY_DATASETS or part in IMAGE_DATASETS
                                      or part in ("mlp", "dcgan"))


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict (validation happens in RunConfig)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    else:
        raise ConfigError(f"{path}: use a .yaml, .yml or .json file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of config sections")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings to a config dict; values are parsed as YAML scalars
    (see :func:`set_dotted`)."""
    import copy

    import yaml

    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: write it as key=value, e.g. optim.g.lr=0.0001")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        set_dotted(out, key, value)
    return out


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``data[a][b][c] = value`` for ``key`` 'a.b.c', creating sections on the way.

    Setting ``data.name`` or ``model.arch`` replaces that whole section, so the new choice's
    defaults apply instead of fields that belong to the old one.
    """
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"{key!r}: not a dotted field path like optim.g.lr")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{key}: {part!r} is not a section")
        node = child
    if parts[-1] in ("name", "arch") and len(parts) == 2 and parts[0] in ("data", "model"):
        node.clear()
    node[parts[-1]] = value


def merge_config(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` over ``base``, section by section (a new ``data.name`` or ``model.arch``
    starts that section afresh, as :func:`set_dotted` does)."""
    import copy

    out = copy.deepcopy(base)
    for key, value in changes.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            tag = {"data": "name", "model": "arch"}.get(key)
            if tag and tag in value and value[tag] != current.get(tag):
                out[key] = copy.deepcopy(value)
            else:
                out[key] = merge_config(current, value)
        else:
            out[key] = copy.deepcopy(value)
    return out
