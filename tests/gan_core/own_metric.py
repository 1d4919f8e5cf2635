"""A metric of a test's own, registered the way a new one is (gan_core/reports.py and
gan_core/evaluations.py) and taken out again: the proof that adding one touches one file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gan_core.evaluations import evaluation, forget_evaluation
from gan_core.metrics.features import Features
from gan_core.reports import CHARTS, METRICS, chart, metric

EVALUATION = "test_gap"  # eval.metrics: the distance between the feature means
SIGNAL = "test_signal"  # a trainer's report, in a chart of its own
SIGNAL_CHART = "test-signal"


def feature_gap(real: Features, fake: Features) -> dict[str, float]:
    return {EVALUATION: float((real.features.mean(0) - fake.features.mean(0)).norm())}


@contextmanager
def own_metrics() -> Iterator[None]:
    chart(SIGNAL_CHART, "A test's own chart.", title="Test signal", ytitle="signal", log=True)
    metric(SIGNAL, "A test's own report.", label="signal (test)", chart=SIGNAL_CHART)
    evaluation(EVALUATION, "Distance between the mean real and generated features (a test's).",
               compute=feature_gap, title="Feature gap", ytitle="gap, lower is better",
               charted={EVALUATION: "feature gap"}, direction="lower")
    try:
        yield
    finally:
        forget_evaluation(EVALUATION)
        METRICS.remove(SIGNAL)
        CHARTS.remove(SIGNAL_CHART)
