"""Metric names are spelled in gan_core (reports.py, evaluations.py), not in the web UI: the run
page's charts, the comparison page and the health panel read them from /api/registry (api.js
METRICS, metricFor, prefixFor; run_charts.js chartSpecs), so a quoted metric name in a script
or template fails here."""

from __future__ import annotations

import re
from pathlib import Path

import webui
from gan_core.evaluations import EVALUATIONS
from gan_core.metrics.features import EXTRACTORS
from gan_core.reports import CHARTS, METRICS, value_name

WEBUI = Path(webui.__file__).parent
# the lesson page draws its own curves (the server's lesson answer, not a run's metrics)
SKIP = {"lesson_divergences.js"}


def spelled() -> re.Pattern[str]:
    names = {value_name(e.name, kind.suffix) for e in METRICS for kind in EXTRACTORS.values()}
    prefixes = {c.value.prefix for c in CHARTS if c.value.prefix}
    names |= {n for n in EVALUATIONS.names() if len(n) > 2}  # "is" is English
    alternatives = "|".join(map(re.escape, sorted(names | prefixes, key=len, reverse=True)))
    return re.compile(f"[\"'`]({alternatives})[\"'`]")


def test_the_web_ui_spells_no_metric_name() -> None:
    quoted = spelled()
    found = [f"{path.relative_to(WEBUI)}: {m.group(1)!r}"
             for path in sorted([*WEBUI.glob("static/js/*.js"), *WEBUI.glob("templates/*.html")])
             if path.name not in SKIP for m in quoted.finditer(path.read_text())]
    assert not found, ("read metrics from the registry (api.js METRICS, metricFor, prefixFor) "
                       "instead of:\n" + "\n".join(found))


def test_a_quoted_metric_name_is_found() -> None:
    text = ('store.get("grad_norm_g"); name.startsWith(`sigma/`); x = "fid_mnist"; y = "fid"; '
            'z = "kid_mnist_std"')
    assert [m.group(1) for m in spelled().finditer(text)] == ["grad_norm_g", "sigma/",
                                                               "fid_mnist", "fid",
                                                               "kid_mnist_std"]
