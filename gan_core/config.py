"""The whole run as one pydantic model.

Unknown keys are errors everywhere (``extra="forbid"``), every field carries a description and
bounds, and the JSON schema of :class:`RunConfig` drives the web form. A config is saved inside
every checkpoint, so a run can be rebuilt from its files alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import AfterValidator, ConfigDict, Field, ValidationError, model_validator

from gan_core.data import DATASETS, DataSet
from gan_core.data.image_data import FOLDER_NEEDS_ROOT, ImageData
from gan_core.data.registry import on_change
from gan_core.data.toy import GaussianData, GridData, MoonsData, RingData, SpiralData
from gan_core.sections import (
    MISSING,
    Condition,
    ConfigError,
    Rule,
    StrictModel,
    above,
    field_value,
    is_set,
    not_multiple_of,
    not_one_of,
    one_of,
    tag_required,
)

__all__ = [
    "MISSING",
    "RULES",
    "Condition",
    "ConfigError",
    "DCGANModel",
    "DataConfig",
    "EvalConfig",
    "GaussianData",
    "GridData",
    "ImageData",
    "LossConfig",
    "MLPModel",
    "ModelConfig",
    "MoonsData",
    "OptimConfig",
    "OptimizerConfig",
    "RegularizationConfig",
    "RingData",
    "Rule",
    "RunConfig",
    "ScheduleConfig",
    "SpiralData",
    "above",
    "apply_overrides",
    "field_value",
    "format_validation_error",
    "image_datasets",
    "is_set",
    "load_config_file",
    "mnist_feature_sets",
    "one_of",
    "present",
    "toy_datasets",
    "unlabelled_datasets",
    "variant_defaults",
]



# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------

# The data sets are gan_core.data's registry: each brings its section of the config (a model
# tagged by `name`), its kind, shape, classes and the feature spaces that fit it. The names
# below are read from it when asked, so a set registered later is among them, and the `data`
# union and the rules are made anew whenever one is added (_refresh_data).


def _data_names(keep: Callable[[DataSet], bool]) -> tuple[str, ...]:
    return tuple(entry.name for entry in DATASETS if keep(entry.value))


def toy_datasets() -> tuple[str, ...]:
    """The 2D data sets."""
    return _data_names(lambda d: d.kind == "toy")


def image_datasets() -> tuple[str, ...]:
    return _data_names(lambda d: d.kind == "image")


def unlabelled_datasets() -> tuple[str, ...]:
    """The image sets without classes (a conditional model needs them)."""
    return _data_names(lambda d: d.kind == "image" and d.labels is None)


def mnist_feature_sets() -> tuple[str, ...]:
    """The sets the MNIST domain features fit (gray digits)."""
    return _data_names(lambda d: "mnist" in d.features)


def _data_sections() -> Any:
    """Union[every registered data set's section], each section once, in registry order."""
    return Union[tuple(dict.fromkeys(entry.value.config for entry in DATASETS))]  # noqa: UP007


# the union as registered when this module was imported (for annotations); RunConfig's `data`
# field follows every registration (_refresh_data)
DataConfig = Annotated[_data_sections(), Field(discriminator="name")]

# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

Activation = Literal["relu", "leaky_relu", "tanh", "elu", "silu"]
ZDistribution = Literal["gaussian", "uniform"]
MAX_PACK = 8  # PacGAN's largest pack (the rules enumerate the pack sizes)


class MLPModel(StrictModel):
    """Fully connected G and D for 2D toy data."""

    model_config = tag_required("arch")
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

    model_config = tag_required("arch")
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


def _registered(names: Callable[[], list[str]]) -> Callable[[str], str]:
    """A validator for a name registered in ``names()`` (read when a value is validated, so that
    an entry registered later counts), refusing another with the message a fixed choice gets."""

    def check(name: str) -> str:
        allowed = names()
        if name not in allowed:
            raise ValueError(f"got {name!r}; allowed: {', '.join(map(repr, allowed))}")
        return name

    return check


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


def _feature_space_names() -> list[str]:
    from gan_core.metrics.features import EXTRACTORS  # late: it imports the feature networks

    return list(EXTRACTORS)


def _feature_space_descriptions(schema: dict[str, Any]) -> None:
    from gan_core.metrics.features import EXTRACTORS

    schema["description"] = "; ".join(f"{name}: {kind.summary}"
                                      for name, kind in EXTRACTORS.items())


def _loss_names() -> list[str]:
    """The losses registered in gan_core.losses (imported here, late: it reads this module)."""
    from gan_core.losses import LOSSES

    return LOSSES.names()


def _loss_choices(schema: dict[str, Any]) -> None:
    """The registered losses as the field's enum and description, whenever a schema is made."""
    from gan_core.losses import LOSSES

    schema["enum"] = _loss_names()
    schema["description"] = "; ".join(f"{e['name']}: {e['description'].rstrip('.')}"
                                      for e in LOSSES.describe())


class LossConfig(StrictModel):
    # the choices are gan_core.losses.LOSSES: a new loss registers itself there and nowhere else
    name: Annotated[str, AfterValidator(_registered(_loss_names))] = Field(
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
    metrics: list[Annotated[str, AfterValidator(_registered(_evaluation_names)),
                            RegisteredChoices(_evaluation_names)]] = Field(
        ["fid"],  # a plain default (pydantic copies it per instance): the web form shows it
        min_length=1, json_schema_extra=lambda schema: _evaluation_descriptions(schema))
    # the choices are gan_core.metrics.features.EXTRACTORS
    features: Annotated[str, AfterValidator(_registered(_feature_space_names)),
                        RegisteredChoices(_feature_space_names)] = Field(
        "mnist", json_schema_extra=lambda schema: _feature_space_descriptions(schema))
    n: int = Field(
        2000, ge=100, le=50_000,
        description="Generated samples per evaluation (and real samples, up to the set's size)."
    )
    checkpoint_best: bool = Field(
        True, description="Save a checkpoint whenever FID reaches a new best, so the best "
        "G is kept (needs fid in metrics)."
    )


def _consistency_rules() -> list[Rule]:
    """What RunConfig refuses, in the order it checks; each rule's message names the field to
    change. The data sets' names are those registered when it is called."""
    return [
        Rule({"data.name": one_of(*toy_datasets()), "model.arch": not_one_of("mlp")},
             lambda c: f"model.arch: 2D data {c.data.name!r} needs the 'mlp' model, not "
                       f"{c.model.arch!r}"),
        Rule({"data.name": one_of(*image_datasets()), "model.arch": one_of("mlp")},
             lambda c: f"model.arch: image data {c.data.name!r} needs the 'dcgan' model, not "
                       "'mlp'"),
        Rule({"regularization.gradient_penalty": is_set(), "model.d_norm": one_of("batch")},
             lambda c: "model.d_norm: the gradient penalty must not be used with batch norm in "
                       "the critic; set model.d_norm to 'layer', 'instance' or 'none'"),
        Rule({"model.conditional": one_of(True), "data.name": one_of(*unlabelled_datasets())},
             lambda c: f"model.conditional: data set {c.data.name!r} has no class labels; set "
                       "model.conditional to false"),
        Rule({"eval.every": is_set(), "data.name": one_of(*toy_datasets())},
             lambda c: "eval.every: FID and the other image metrics need image data; 2D runs "
                       "report modes_captured and w1_exact already (leave eval.every empty)"),
        Rule({"eval.every": is_set(), "eval.features": one_of("mnist"),
              "data.name": not_one_of(*mnist_feature_sets())},
             lambda c: f"eval.features: the MNIST features fit only {mnist_feature_sets()}, "
                       f"not {c.data.name!r}; use 'inception'"),
        # one rule per pack size: JSON Schema's multipleOf takes a number, not another field
        *(Rule({"model.pack": one_of(k), "train.batch_size": not_multiple_of(k)},
               lambda c: f"train.batch_size: {c.train.batch_size} is not a multiple of "
                         f"model.pack ({c.model.pack}): D judges packs of {c.model.pack} "
                         f"samples; use e.g. "
                         f"{c.model.pack * max(1, c.train.batch_size // c.model.pack)}")
          for k in range(2, MAX_PACK + 1)),
        Rule({"model.pack": above(1), "model.conditional": one_of(True)},
             lambda c: "model.pack: packing is for unconditional models (a pack would mix "
                       "classes); set model.pack to 1 or model.conditional to false"),
        Rule({"train.channels_last": one_of(True), "data.name": one_of(*toy_datasets())},
             lambda c: "train.channels_last: the NHWC layout is for image models (DCGAN); a 2D "
                       "run has no channels, leave it false"),
        Rule({"regularization.weight_clip": is_set(),
              "regularization.gradient_penalty": is_set()},
             lambda c: "regularization: use either weight_clip or gradient_penalty, not both"),
    ]


CONSISTENCY_RULES: list[Rule] = _consistency_rules()
# every rule between a config's fields, with paths from the config's top (the schema states
# them); both lists are updated in place when a data set is registered
RULES: list[Rule] = [FOLDER_NEEDS_ROOT.under("data"), *CONSISTENCY_RULES]


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
        return self.data.name in toy_datasets()

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


def _refresh_data() -> None:
    """A data set was added or taken out: the rules and RunConfig's ``data`` union follow."""
    CONSISTENCY_RULES[:] = _consistency_rules()
    RULES[:] = [FOLDER_NEEDS_ROOT.under("data"), *CONSISTENCY_RULES]
    RunConfig.model_fields["data"].annotation = _data_sections()
    RunConfig.model_rebuild(force=True)


on_change(_refresh_data)


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
    return isinstance(part, str) and (part in DATASETS or part in ("mlp", "dcgan"))


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
