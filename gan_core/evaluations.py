"""The metrics ``eval.metrics`` and ``ganscope eval`` can ask for, each declared in one place.

An evaluation computes its values from real and generated features (any feature space: the
caller names the values with the space's suffix, ``fid`` -> ``fid_mnist``) and declares the
run page's chart and the metrics it reports (:mod:`gan_core.reports`). The config takes its
allowed names from :data:`EVALUATIONS`, so a new one is added here (or in its own module,
calling :func:`evaluation`) and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from gan_core.metrics.features import EXTRACTORS, Features
from gan_core.metrics.fid import fid_features_to_statistics, fid_statistics_to_metric
from gan_core.metrics.inception_score import inception_score_from_logits
from gan_core.metrics.kid import kid_features_to_metric
from gan_core.metrics.prdc import DC_K, PR_K, manifold, prdc
from gan_core.registry import Registry
from gan_core.reports import CHARTS, METRICS, Metric, chart, metric, value_name

__all__ = ["EVALUATIONS", "Evaluation", "describe_metrics", "evaluation", "forget_evaluation",
           "metric_of"]

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000

Compute = Callable[[Features, Features], dict[str, float]]  # (real, fake) -> {value: number}


@dataclass(frozen=True)
class Evaluation:
    compute: Compute
    values: tuple[str, ...]  # the names it reports, before the feature space's suffix
    needs_logits: bool = False  # needs the feature network's classifier head


EVALUATIONS: Registry[Evaluation] = Registry("evaluation metric")


def evaluation(name: str, description: str, *, compute: Compute, title: str, ytitle: str,
               charted: dict[str, str], direction: str, extra: dict[str, str] | None = None,
               needs_logits: bool = False, keeps_best: bool = False) -> Evaluation:
    """Declare an evaluation: its chart (``eval-<name>``) with the ``charted`` values
    (name -> label), the ``extra`` values it reports without charting (a spread), and what
    computes them."""
    chart_name = f"eval-{name}"
    spec = Evaluation(compute, (*charted, *(extra or {})), needs_logits)
    taken = ([name] if name in EVALUATIONS else []) + \
        ([chart_name] if chart_name in CHARTS else []) + [v for v in spec.values if v in METRICS]
    if taken:  # checked first, so that a refused declaration leaves nothing half-registered
        raise ValueError(f"evaluation {name!r}: {', '.join(map(repr, taken))} already registered")
    chart(chart_name, description, title=title, ytitle=ytitle, show="evaluation",
          evaluation=name)
    for value, label in charted.items():
        metric(value, f"{description} ({label})", label=label, chart=chart_name,
               direction=direction, smooth=False, evaluation=name, keeps_best=keeps_best)
    for value, label in (extra or {}).items():
        metric(value, f"{description} ({label})", label=label, evaluation=name)
    meta = {k: v for k, v in asdict(spec).items() if k != "compute"}
    return EVALUATIONS.add(name, spec, description, **meta)


def metric_of(stored: str) -> Metric | None:
    """The declared metric a stored value is (``precision_mnist`` -> precision's), or None."""
    for entry in METRICS:
        if stored == entry.name or any(stored == value_name(entry.name, kind.suffix)
                                       for kind in EXTRACTORS.values()):
            return entry.value
    return None


def describe_metrics() -> list[dict[str, Any]]:
    """Every declared metric as ``GET /api/registry`` serves it; an evaluation's also with its
    stored name in each feature space (``names``: {"inception": "kid_std", "mnist":
    "kid_mnist_std"})."""
    return [{**entry, "names": {space: value_name(entry["name"], kind.suffix)
                                for space, kind in EXTRACTORS.items()}}
            if entry["evaluation"] else entry for entry in METRICS.describe()]


def forget_evaluation(name: str) -> None:
    """Take an evaluation out with its chart and metrics (a test's own, once it is done)."""
    spec = EVALUATIONS.get(name)
    for value in spec.values:
        METRICS.remove(value)
    CHARTS.remove(f"eval-{name}")
    EVALUATIONS.remove(name)


def _fid(real: Features, fake: Features) -> dict[str, float]:
    return {"fid": fid_statistics_to_metric(fid_features_to_statistics(real.features),
                                            fid_features_to_statistics(fake.features))}


def _kid(real: Features, fake: Features) -> dict[str, float]:
    size = min(KID_SUBSET_SIZE, len(real.features), len(fake.features))
    kid = kid_features_to_metric(real.features, fake.features, subsets=KID_SUBSETS,
                                 subset_size=size)
    return {"kid": kid.mean, "kid_std": kid.std}


def _inception_score(real: Features, fake: Features) -> dict[str, float]:
    if fake.logits is None:
        raise ValueError("the Inception Score needs a classifier head: these features have none "
                         "(set GANSCOPE_INCEPTION_WEIGHTS to the full weights, or use the MNIST "
                         "features)")
    score = inception_score_from_logits(fake.logits)
    return {"is": score.mean, "is_std": score.std}


def _prdc(real: Features, fake: Features) -> dict[str, float]:
    scores = prdc(manifold(real.features, ks=(PR_K, DC_K)), manifold(fake.features, ks=(PR_K,)))
    return asdict(scores)


evaluation("fid", "Fréchet distance between real and generated features (Heusel 2017).",
           compute=_fid, title="FID", ytitle="FID, lower is better", charted={"fid": "FID"},
           direction="lower", keeps_best=True)
evaluation("kid", "Kernel Inception Distance: unbiased MMD with a cubic kernel (Bińkowski "
           "2018), mean over subsets.", compute=_kid, title="KID", ytitle="KID, lower is better",
           charted={"kid": "KID"}, extra={"kid_std": "KID spread over subsets"},
           direction="lower")
evaluation("prdc", "Precision, recall (Kynkäänniemi 2019), density and coverage (Naeem 2020) "
           "of the generated samples' k-NN manifolds.", compute=_prdc,
           title="Precision, recall, density, coverage", ytitle="higher is better",
           charted={"precision": "precision", "recall": "recall", "density": "density",
                    "coverage": "coverage"}, direction="higher")
evaluation("is", "Inception Score: exp E[KL(p(y|x) || p(y))] (Salimans 2016); needs a "
           "classifier head (the MNIST features, or Inception's full weights).",
           compute=_inception_score, title="Inception score", ytitle="IS, higher is better",
           charted={"is": "IS"}, extra={"is_std": "IS spread over splits"}, direction="higher",
           needs_logits=True)
