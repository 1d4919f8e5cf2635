"""Evaluate a generator: FID, KID, IS, precision/recall and density/coverage against its
training data, in a chosen feature space.

    report = evaluate_checkpoint("runs/x/checkpoints/ckpt_000003000.safetensors",
                                 metrics=("fid", "kid", "prdc"), n=10_000, features="inception")

Real features are cached on disk (:mod:`gan_core.metrics.cache`), keyed by the data settings,
the number of samples, the seed and the extractor's identity. Values are named after the metric
plus the extractor's suffix: ``fid`` with Inception, ``fid_mnist`` with the MNIST features.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gan_core.config import ImageData, mnist_feature_sets
from gan_core.data import DataSource, build_data
from gan_core.data.convert import to_uint8
from gan_core.evaluations import EVALUATIONS
from gan_core.metrics.cache import cache_key, load_or_compute
from gan_core.metrics.features import FeatureExtractor, Features, build_extractor
from gan_core.reports import METRICS, value_name

__all__ = [
    "EvalReport",
    "compute_metrics",
    "default_report_path",
    "evaluate_checkpoint",
    "generated_features",
    "needs_logits",
    "parse_metrics",
    "real_features",
    "resolve_checkpoint",
]

log = logging.getLogger(__name__)

BATCH = 100
REAL_SEED = 0  # which real images are drawn; part of the cache key


def parse_metrics(text: str | Sequence[str]) -> tuple[str, ...]:
    """'fid,kid,prdc' -> ('fid', 'kid', 'prdc'); unknown names are an error."""
    names = [m.strip().lower() for m in (text.split(",") if isinstance(text, str) else text)]
    names = [m for m in names if m]
    unknown = [m for m in names if m not in EVALUATIONS]
    if unknown or not names:
        raise ValueError(f"unknown metrics {unknown or text!r}; choose from "
                         f"{', '.join(EVALUATIONS.names())} (comma-separated)")
    return tuple(dict.fromkeys(names))


def check_features_fit(features: str, data_name: str) -> None:
    if features == "mnist" and data_name not in mnist_feature_sets():
        raise ValueError(f"the MNIST features fit only {', '.join(mnist_feature_sets())}, not "
                         f"{data_name!r}; use --features inception")


def real_features(
    data: ImageData,
    extractor: FeatureExtractor,
    n: int,
    *,
    source: DataSource | None = None,
    seed: int = REAL_SEED,
    cache_dir: str | Path | None = None,
) -> Features:
    """Features of ``min(n, size of the set)`` distinct real images (cached on disk)."""
    parts = {
        "what": "real-features",
        "data": data.model_dump(mode="json", exclude={"download"}),
        "n": n,
        "seed": seed,
        "extractor": extractor.identity,
    }

    def compute() -> dict[str, np.ndarray]:
        src = source if source is not None else build_data(data, seed=seed)
        try:
            size = src.info.size or n
            generator = torch.Generator().manual_seed(seed)
            images, _ = src.sample(min(n, size), generator)  # [-1, 1], leaves the stream alone
        finally:
            if source is None:
                src.close()
        feats = _extract(extractor, (to_uint8(images[i:i + BATCH])
                                     for i in range(0, len(images), BATCH)))
        out = {"features": feats.features.numpy()}
        if feats.logits is not None:
            out["logits"] = feats.logits.numpy()
        return out

    arrays = load_or_compute(cache_key(parts), compute, cache_dir)
    logits = arrays.get("logits")
    return Features(torch.from_numpy(arrays["features"]),
                    torch.from_numpy(logits) if logits is not None else None)


def _extract(extractor: FeatureExtractor, batches: Iterator[Tensor]) -> Features:
    from gan_core.metrics.features import extract_features

    return extract_features(extractor, batches)


def generated_features(
    sample: Callable[[Tensor, Tensor | None], Tensor],
    z: Tensor,
    labels: Tensor | None,
    extractor: FeatureExtractor,
) -> Features:
    """Features of ``sample(z, labels)`` (images in [-1, 1]) over ``z`` in batches."""
    def batches() -> Iterator[Tensor]:
        for i in range(0, len(z), BATCH):
            lab = labels[i:i + BATCH] if labels is not None else None
            with torch.inference_mode():
                yield to_uint8(sample(z[i:i + BATCH], lab)).cpu()

    return _extract(extractor, batches())


def compute_metrics(
    real: Features,
    fake: Features,
    metrics: Sequence[str],
    suffix: str = "",
) -> dict[str, float]:
    """The named ``metrics`` of ``fake`` against ``real``, each value under its name in the
    feature space with ``suffix`` (gan_core.reports.value_name: ``kid_std`` ->
    ``kid_mnist_std``)."""
    out: dict[str, float] = {}
    for name in metrics:
        evaluation = EVALUATIONS.get(name)
        values = evaluation.compute(real, fake)
        undeclared = set(values) - set(evaluation.values)
        if undeclared:
            raise ValueError(f"evaluation {name!r} computed {sorted(undeclared)}, which it did not "
                             "declare")
        out.update({value_name(value, suffix): number for value, number in values.items()})
    return out


def needs_logits(metrics: Sequence[str]) -> bool:
    """Whether one of ``metrics`` needs the feature network's classifier head."""
    return any(EVALUATIONS.get(name).needs_logits for name in metrics)


@dataclass
class EvalReport:
    """What ``ganscope eval`` prints and writes as JSON."""

    values: dict[str, float]
    metrics: list[str]
    features: str
    feature_label: str
    feature_identity: str
    n_real: int
    n_generated: int
    checkpoint: str
    step: int
    ema: bool
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        width = max(len(k) for k in self.values)
        lines = [f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 12}"]
        lines += [f"{k:<{width}}  {v:.6g}" for k, v in self.values.items()]
        return "\n".join(lines)


def evaluate_checkpoint(
    checkpoint: str | Path,
    *,
    metrics: Sequence[str] = ("fid",),
    n: int = 10_000,
    features: str = "inception",
    seed: int = 0,
    ema: bool = True,
    device: str = "cpu",
    cache_dir: str | Path | None = None,
) -> EvalReport:
    """Draw ``n`` images from the checkpoint's G and measure them against its training data."""
    from gan_core.generate import load_generator

    metrics = parse_metrics(metrics)
    if n < 10:
        raise ValueError(f"--n must be at least 10 samples, got {n}")
    start = time.perf_counter()
    gen = load_generator(checkpoint, ema=ema, device=device)
    data = gen.config.data
    assert isinstance(data, ImageData)
    check_features_fit(features, data.name)
    extractor = build_extractor(features, device, need_logits=needs_logits(metrics))
    real = real_features(data, extractor, n, cache_dir=cache_dir)
    z = gen.sample_z(n, seed)
    fake = generated_features(gen, z, gen.labels(None, n), extractor)
    notes = []
    if features == "mnist":
        notes.append("MNIST features: not comparable to Inception FID/KID/IS")
    if len(real.features) < n:
        notes.append(f"the data set has {len(real.features)} images: all used as the real set")
    values = compute_metrics(real, fake, metrics, extractor.suffix)
    return EvalReport(
        values=values, metrics=list(metrics), features=features,
        feature_label=extractor.label, feature_identity=extractor.identity,
        n_real=len(real.features), n_generated=len(fake.features), checkpoint=str(checkpoint),
        step=gen.step, ema=gen.ema, seconds=time.perf_counter() - start, notes=notes,
    )


def resolve_checkpoint(source: str | Path) -> Path:
    """A checkpoint file, or a run folder's latest checkpoint."""
    from gan_core.checkpoint import latest_checkpoint

    path = Path(source)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise ValueError(f"{path}: no checkpoint under {path / 'checkpoints'}; train the run "
                             "first or pass a checkpoint file")
        return found
    if not path.is_file():
        raise ValueError(f"{path}: no such checkpoint file or run folder")
    return path


def default_report_path(checkpoint: Path, step: int, features: str) -> Path:
    """``<run>/evals/eval_<step>_<features>.json`` for a checkpoint inside a run folder."""
    if checkpoint.parent.name == "checkpoints":
        return checkpoint.parent.parent / "evals" / f"eval_{step:09d}_{features}.json"
    return checkpoint.with_name(f"{checkpoint.stem}.eval_{features}.json")


class PeriodicEvaluator:
    """The trainer's evaluation: fixed latents, real features computed (or read) once."""

    def __init__(self, config: Any, source: DataSource, device: torch.device,
                 num_classes: int | None) -> None:
        from gan_core.latent import sample_z

        self.cfg = config.eval
        self.data_cfg = config.data
        self.source = source
        self.device = device
        self.extractor = build_extractor(self.cfg.features, device,
                                         need_logits=needs_logits(self.cfg.metrics))
        generator = torch.Generator().manual_seed(config.seed + 3)
        n = self.cfg.n
        self.z = sample_z(n, config.model.z_dim, config.model.z_distribution,
                          generator=generator).to(device)
        self.labels = (torch.arange(n) % num_classes).to(device) if num_classes else None
        self._real: Features | None = None

    def __call__(self, G: torch.nn.Module) -> dict[str, float]:
        if self._real is None:
            self._real = real_features(self.data_cfg, self.extractor, self.cfg.n,
                                       source=self.source)
        was_training = G.training
        G.eval()
        try:
            fake = generated_features(lambda z, y: G(z, y), self.z, self.labels, self.extractor)
        finally:
            G.train(was_training)
        return compute_metrics(self._real, fake, self.cfg.metrics, self.extractor.suffix)

    def kept_best(self, values: dict[str, float]) -> float | None:
        """Of ``values``, the one whose best is the run's best checkpoint (FID), if there."""
        names = [value_name(e.name, self.extractor.suffix) for e in METRICS if e.value.keeps_best]
        return next((values[name] for name in names if name in values), None)
