"""The whole run as one pydantic model.

Unknown keys are errors everywhere (``extra="forbid"``), every field carries a description and
bounds, and the JSON schema of :class:`RunConfig` drives the web form. A config is saved inside
every checkpoint, so a run can be rebuilt from its files alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "IMAGE_DATASETS",
    "TOY_DATASETS",
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
    "RunConfig",
    "ScheduleConfig",
    "apply_overrides",
    "format_validation_error",
    "load_config_file",
]


class ConfigError(ValueError):
    """A config that cannot be used; the message names the field and what to change."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


class RingData(StrictModel):
    """Gaussians evenly spaced on a circle (PacGAN: 8 modes, radius 1, sigma 0.01)."""

    name: Literal["ring"] = "ring"
    n_modes: int = Field(8, ge=2, le=64, description="Number of Gaussians on the circle.")
    radius: float = Field(1.0, gt=0, le=100, description="Radius of the circle.")
    sigma: float = Field(0.01, gt=0, le=10, description="Standard deviation of each Gaussian.")


class GridData(StrictModel):
    """A square grid of Gaussians (PacGAN: 5x5 at {-4,-2,0,2,4}^2, sigma 0.05)."""

    name: Literal["grid"] = "grid"
    side: int = Field(5, ge=2, le=10, description="Gaussians per side of the grid.")
    spacing: float = Field(2.0, gt=0, le=100, description="Distance between neighbouring modes.")
    sigma: float = Field(0.05, gt=0, le=10, description="Standard deviation of each Gaussian.")


class SpiralData(StrictModel):
    """Points along an Archimedean spiral with Gaussian noise."""

    name: Literal["spiral"] = "spiral"
    turns: float = Field(1.5, gt=0, le=10, description="Number of turns of the spiral.")
    radius: float = Field(2.0, gt=0, le=100, description="Radius at the end of the spiral.")
    noise: float = Field(0.05, ge=0, le=10, description="Standard deviation of added noise.")


class MoonsData(StrictModel):
    """Two interleaving half circles (as scikit-learn's make_moons)."""

    name: Literal["moons"] = "moons"
    noise: float = Field(0.05, ge=0, le=10, description="Standard deviation of added noise.")


class GaussianData(StrictModel):
    """A single isotropic Gaussian."""

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
        if self.name == "image_folder" and not self.root:
            raise ValueError("data.root: image_folder needs the folder of images in `root`")
        return self


DataConfig = Annotated[
    RingData | GridData | SpiralData | MoonsData | GaussianData | ImageData,
    Field(discriminator="name"),
]

# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------

Activation = Literal["relu", "leaky_relu", "tanh", "elu", "silu"]
ZDistribution = Literal["gaussian", "uniform"]


class MLPModel(StrictModel):
    """Fully connected G and D for 2D toy data."""

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
        1, ge=1, le=8,
        description="PacGAN packing: D judges m samples at once (real with real, fake with "
        "fake), which penalizes mode collapse; train.batch_size must be a multiple of m.",
    )


class DCGANModel(StrictModel):
    """DCGAN G and D (Radford et al. 2015) for 28, 32 or 64 px images."""

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
        1, ge=1, le=8,
        description="PacGAN packing: D judges m samples at once (real with real, fake with "
        "fake), which penalizes mode collapse; train.batch_size must be a multiple of m.",
    )


ModelConfig = Annotated[MLPModel | DCGANModel, Field(discriminator="arch")]

# ---------------------------------------------------------------------------------------------
# Loss, regularization, optimizers, schedule
# ---------------------------------------------------------------------------------------------


class LossConfig(StrictModel):
    name: Literal["minimax", "nonsaturating", "wasserstein", "lsgan", "hinge"] = Field(
        "nonsaturating",
        description="minimax: original saturating G loss; nonsaturating: -log D(G(z)); "
        "wasserstein: WGAN critic; lsgan: least squares; hinge: SNGAN/BigGAN hinge.",
    )
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


EVAL_METRICS = ("fid", "kid", "prdc", "is")
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
    metrics: list[Literal["fid", "kid", "prdc", "is"]] = Field(
        ["fid"],  # a plain default (pydantic copies it per instance): the web form shows it
        min_length=1,
        description="fid, kid, prdc (precision, recall, density, coverage), is (needs a "
        "classifier head: the MNIST features, or Inception's full weights).",
    )
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


class RunConfig(StrictModel):
    """Everything that defines a training run."""

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
        if self.is_toy and self.model.arch != "mlp":
            raise ValueError(
                f"model.arch: 2D data {self.data.name!r} needs the 'mlp' model, not "
                f"{self.model.arch!r}"
            )
        if not self.is_toy and self.model.arch == "mlp":
            raise ValueError(
                f"model.arch: image data {self.data.name!r} needs the 'dcgan' model, not 'mlp'"
            )
        if isinstance(self.model, DCGANModel):
            if self.regularization.gradient_penalty and self.model.d_norm == "batch":
                raise ValueError(
                    "model.d_norm: the gradient penalty must not be used with batch norm in the "
                    "critic; set model.d_norm to 'layer', 'instance' or 'none'"
                )
            if self.model.conditional and self.data.name in ("celeba", "image_folder"):
                raise ValueError(
                    f"model.conditional: data set {self.data.name!r} has no class labels; "
                    "set model.conditional to false"
                )
        if self.eval.every is not None:
            if self.is_toy:
                raise ValueError(
                    "eval.every: FID and the other image metrics need image data; 2D runs "
                    "report modes_captured and w1_exact already (leave eval.every empty)"
                )
            if self.eval.features == "mnist" and self.data.name not in MNIST_FEATURE_SETS:
                raise ValueError(
                    f"eval.features: the MNIST features fit only {MNIST_FEATURE_SETS}, not "
                    f"{self.data.name!r}; use 'inception'"
                )
        if self.train.batch_size % self.model.pack:
            raise ValueError(
                f"train.batch_size: {self.train.batch_size} is not a multiple of model.pack "
                f"({self.model.pack}): D judges packs of {self.model.pack} samples; use e.g. "
                f"{self.model.pack * max(1, self.train.batch_size // self.model.pack)}"
            )
        if self.model.pack > 1 and getattr(self.model, "conditional", False):
            raise ValueError(
                "model.pack: packing is for unconditional models (a pack would mix classes); "
                "set model.pack to 1 or model.conditional to false"
            )
        if self.train.channels_last and self.is_toy:
            raise ValueError(
                "train.channels_last: the NHWC layout is for image models (DCGAN); a 2D run has "
                "no channels, leave it false"
            )
        if self.regularization.weight_clip and self.regularization.gradient_penalty:
            raise ValueError(
                "regularization: use either weight_clip or gradient_penalty, not both"
            )
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
