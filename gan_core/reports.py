"""Every number a run reports, and the chart that shows it.

A metric is declared once, here or beside the code that computes it: its label, which way is
better, the chart it is drawn in, and the health rule that reads it. The server serves both
registries (``GET /api/registry``: ``charts`` and ``metrics``); the run page builds its charts,
the comparison page its menu and the health panel its inputs from that answer, so a new metric
touches the file that computes it and its test, not the web UI.

    chart("my-chart", "What it shows.", title="My chart", ytitle="units")
    metric("my_value", "What it measures.", label="my value", chart="my-chart")
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from gan_core.registry import Registry

__all__ = ["CHARTS", "METRICS", "Chart", "Metric", "chart", "metric", "value_name"]

# When a chart is on a run's page: always; on 2D data; with a gradient penalty or R1; or when
# the run evaluates the metric named in Chart.evaluation (eval.every and eval.metrics).
Show = Literal["always", "toy", "penalty", "evaluation"]
# Variants of a chart's text: on 2D data ("toy"), or when D outputs logits ("logit").
Variant = Literal["toy", "logit"]


@dataclass(frozen=True)
class Chart:
    title: str
    ytitle: str
    show: Show = "always"
    log: bool = False
    y2title: str | None = None
    prefix: str | None = None  # also draws every reported series named prefix + anything
    evaluation: str | None = None  # show == "evaluation": the eval.metrics entry it charts
    health: str | None = None  # the health panel's input its prefixed series are
    variants: dict[Variant, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    label: str  # short, for a chart's legend
    title: str = ""  # longer, for a chart of its own (the comparison page); default: label
    chart: str | None = None  # None: reported (and exported), not charted
    direction: Literal["lower", "higher"] | None = None  # which way is better, where one is
    smooth: bool = True  # False: drawn as reported (counts, fractions, exact values)
    axis: Literal["y", "y2"] = "y"
    health: str | None = None  # the health panel's input it is (health.js names the rules)
    # the evaluation that reports it (its stored name carries the feature space's suffix:
    # value_name); None: the trainer reports it under its own name
    evaluation: str | None = None
    keeps_best: bool = False  # its best is the run's best checkpoint (eval.checkpoint_best)


CHARTS: Registry[Chart] = Registry("chart")
METRICS: Registry[Metric] = Registry("metric")


def chart(name: str, description: str, **fields: Any) -> Chart:
    """Declare a chart of the run page (the fields of :class:`Chart`)."""
    spec = Chart(**fields)
    if spec.show == "evaluation" and not spec.evaluation:
        raise ValueError(f"chart {name!r}: show='evaluation' needs the evaluation it charts")
    return CHARTS.add(name, spec, description, **asdict(spec))


def metric(name: str, description: str, **fields: Any) -> Metric:
    """Declare a reported metric (the fields of :class:`Metric`); its chart must exist."""
    spec = Metric(**fields)
    if not spec.title:
        spec = replace(spec, title=spec.label)
    if spec.keeps_best and spec.direction != "lower":
        raise ValueError(f"metric {name!r}: the run keeps the checkpoint where a metric is "
                         "lowest; keeps_best needs direction='lower'")
    if spec.chart is not None and spec.chart not in CHARTS:
        raise ValueError(f"metric {name!r}: no chart {spec.chart!r}; declare it first with "
                         f"chart() (charts: {', '.join(CHARTS.names())})")
    return METRICS.add(name, spec, description, **asdict(spec))


def value_name(name: str, suffix: str) -> str:
    """The name a metric is stored under in a feature space with ``suffix`` ("" or "_mnist"):
    an evaluation's values carry it after the evaluation's name where they start with it
    (``kid`` -> ``kid_mnist``, ``kid_std`` -> ``kid_mnist_std``), else at the end
    (``precision`` -> ``precision_mnist``); the trainer's own metrics never do."""
    evaluation = METRICS.get(name).evaluation
    if not evaluation or not suffix:
        return name
    if name == evaluation or name.startswith(f"{evaluation}_"):
        return f"{evaluation}{suffix}{name[len(evaluation):]}"
    return f"{name}{suffix}"


# -- what the trainer reports (gan_core/train.py, the losses and regularizers) -----------------

chart("losses", "The two players' objectives.", title="D and G losses", ytitle="loss")
chart("penalty", "The regularizer's term in D's loss.", title="Penalty", ytitle="penalty",
      show="penalty")
chart("toy-quality", "Modes with a sample within 3 sigma, and the fraction of samples that are.",
      title="Modes captured and high-quality fraction", ytitle="modes", y2title="hq fraction",
      show="toy")
chart("wasserstein", "The critic's estimate of W1 (and, on 2D data, the exact W1).",
      title="Wasserstein estimate", ytitle="E[D(x)] − E[D(G(z))]",
      variants={"toy": {"title": "Critic's Wasserstein estimate vs exact W1"}})
chart("d-outputs", "D's mean output on real and on generated samples.",
      title="D on real vs generated", ytitle="mean output",
      variants={"logit": {"ytitle": "mean logit (sigmoid → probability)"}})
chart("grad-norms", "Gradient norms of G's and D's parameters.", title="Gradient norms",
      ytitle="‖∇‖ (log)", log=True)
chart("sigma", "The largest singular value of each D layer (one series a layer).",
      title="Spectral norm of each D layer", ytitle="largest singular value (log)", log=True,
      prefix="sigma/", health="spectral")
chart("throughput", "Training speed.", title="Images per second", ytitle="images/s")

metric("loss_d", "D's loss, averaged over the report window.", label="D loss", chart="losses",
       health="d_loss")
metric("loss_g", "G's loss, averaged over the report window.", label="G loss", chart="losses",
       health="g_loss")
metric("gradient_penalty", "WGAN-GP's penalty term.", label="gradient penalty",
       title="Gradient penalty", chart="penalty")
metric("r1_penalty", "R1's penalty term.", label="R1 penalty", chart="penalty")
metric("modes_captured", "Modes with at least one sample within 3 sigma (2D).",
       label="modes captured", title="Modes captured (2D)", chart="toy-quality",
       direction="higher", smooth=False, health="modes")
metric("hq_fraction", "Samples within 3 sigma of a mode (2D).", label="hq fraction",
       title="High-quality fraction (2D)", chart="toy-quality", direction="higher",
       smooth=False, axis="y2")
metric("w_estimate", "The critic's E[D(x)] − E[D(G(z))].", label="critic estimate",
       title="Critic's W estimate  E[D(x)] − E[D(G(z))]", chart="wasserstein")
metric("w1_exact", "Exact W1 between a real and a generated sample (2D).", label="exact W1",
       title="Exact W1 to the data (2D)", chart="wasserstein", direction="lower", smooth=False)
metric("d_real", "D's mean output on real samples.", label="D(real)",
       title="D(x): mean output on real", chart="d-outputs", health="d_on_real")
metric("d_fake", "D's mean output on generated samples.", label="D(fake)",
       title="D(G(z)): mean output on generated", chart="d-outputs", health="d_on_fake")
metric("grad_norm_d", "Norm of D's parameter gradient.", label="‖∇D‖", title="D gradient norm",
       chart="grad-norms")
metric("grad_norm_g", "Norm of G's parameter gradient.", label="‖∇G‖", title="G gradient norm",
       chart="grad-norms", health="g_gradient")
metric("images_per_s", "Training images per second.", label="images/s",
       title="Images per second", chart="throughput", direction="higher")
metric("step_time", "Seconds per training step.", label="step time (s)", direction="lower")
metric("compile_s", "Seconds torch.compile took (once).", label="compile time (s)")
metric("eval_time", "Seconds an evaluation took.", label="evaluation time (s)")
