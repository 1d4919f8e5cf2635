"""What each 2D preset reaches on this machine, over several seeds, beside the published figures.

    .venv/bin/python benchmarks/bench_presets.py                  # every 2D preset, seeds 0-4
    .venv/bin/python benchmarks/bench_presets.py --presets ring8-gan --seeds 0 1 --jobs 2

For each (preset, seed) it trains the preset as it ships (Trainer.fit, all reporting on, the
preset's own thread count) and reads the last evaluation: modes captured and the
high-quality fraction (VEEGAN/PacGAN protocol: 2,500 samples of the fixed noise through the
EMA G when the preset keeps one; a sample is high quality within 3 sigma of its nearest mode;
a mode is captured when a high-quality sample is nearest to it), the exact W1 between 1,000
real and generated points, and the run's wall time. Then per preset: mean and min over the
seeds, and the targets: ring8 8/8 modes and a high-quality fraction >= 0.95 on every seed,
grid25 >= 24 modes (mean >= 24.5) and a mean high-quality fraction >= 0.95, every run <= 90 s.

``--jobs 2`` trains two seeds at once (one core each): the quality figures are the same, the
times are not the time a student waits (another run shares the machine); the README's times
are measured with ``--jobs 1``. It exits 0 whatever the figures, 1 on an error.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

# Published figures: PacGAN (Lin et al. 2018), Table 1 (the VEEGAN protocol): modes captured
# and high-quality samples, means over their runs. Printed beside ours, never computed.
PUBLISHED = {
    "ring": [("GAN", 6.3, 0.982), ("PacGAN4", 7.8, 0.959)],
    "grid": [("GAN", 17.3, 0.948), ("PacGAN4", 24.8, 0.936)],
}
TIME_LIMIT_S = 90.0


def toy_presets() -> list[str]:
    from gan_core.presets import PRESETS, preset_config

    return [e.name for e in PRESETS if preset_config(e.name).is_toy]


def run(name: str, seed: int) -> dict[str, Any]:
    from gan_core.events import Metrics
    from gan_core.presets import preset_config
    from gan_core.train import Trainer

    config = preset_config(name).model_copy(update={"seed": seed})
    evaluations: list[dict[str, float]] = []

    def sink(event: object) -> None:
        if isinstance(event, Metrics) and "w1_exact" in event.values:
            evaluations.append(event.values)

    start = time.perf_counter()
    result = Trainer(config, sinks=[sink]).fit()
    elapsed = time.perf_counter() - start
    last = evaluations[-1]
    return {"preset": name, "seed": seed, "status": result.status, "steps": result.step,
            "data": config.data.name, "modes": last.get("modes_captured", float("nan")),
            "hq": last.get("hq_fraction", float("nan")), "w1": last["w1_exact"],
            "seconds": elapsed}


def verdict(data: str, rows: list[dict[str, Any]], collapse: bool) -> str:
    modes = [r["modes"] for r in rows]
    hq = [r["hq"] for r in rows]
    slowest = max(r["seconds"] for r in rows)
    timing = f"slowest run {slowest:.0f} s ({'<=' if slowest <= TIME_LIMIT_S else '>'} 90 s)"
    if collapse:
        return f"shows collapse on purpose: {min(modes):.0f}-{max(modes):.0f} modes; {timing}"
    if data == "ring":
        ok = min(modes) == 8 and min(hq) >= 0.95
        target = "8/8 modes and hq >= 0.95 on every seed"
    elif data == "grid":
        ok = min(modes) >= 24 and statistics.mean(modes) >= 24.5 and statistics.mean(hq) >= 0.95
        target = ">= 24 modes (mean >= 24.5), mean hq >= 0.95"
    else:
        return timing
    return f"target ({target}) {'MET' if ok else 'MISSED'}; {timing}"


def main() -> int:
    presets = toy_presets()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=presets, choices=presets)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs at once (one core each); times are faithful with 1")
    args = parser.parse_args()

    import torch

    print(f"{platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"torch {torch.__version__}, device cpu, {args.jobs} run(s) at a time")
    header = (f"{'preset':<22} {'seed':>4} {'steps':>6} {'modes':>6} {'hq':>6} {'W1':>7} "
              f"{'time':>7}")
    print(header)
    jobs = [(name, seed) for name in args.presets for seed in args.seeds]
    by_preset: dict[str, list[dict[str, Any]]] = {}
    try:
        with ProcessPoolExecutor(args.jobs) as pool:
            for r in pool.map(run, *zip(*jobs, strict=True)):
                print(f"{r['preset']:<22} {r['seed']:>4} {r['steps']:>6} {r['modes']:>6.0f} "
                      f"{r['hq']:>6.3f} {r['w1']:>7.3f} {r['seconds']:>6.1f}s", flush=True)
                by_preset.setdefault(r["preset"], []).append(r)
    except Exception as exc:  # a crash is a failed benchmark, said plainly
        print(f"bench_presets: error: {exc}", file=sys.stderr)
        return 1

    print(f"\n{'preset':<22} {'modes mean/min':>15} {'hq mean/min':>13} {'W1 mean':>8} "
          f"{'time mean/max':>14}")
    for name, rows in by_preset.items():
        def stat(key: str, rows: list[dict[str, Any]] = rows) -> tuple[float, float]:
            values = [r[key] for r in rows]
            return statistics.mean(values), min(values)

        (m, m_min), (h, h_min) = stat("modes"), stat("hq")
        seconds = [r["seconds"] for r in rows]
        print(f"{name:<22} {m:>8.2f} / {m_min:<4.0f} {h:>6.3f} / {h_min:<5.3f} "
              f"{statistics.mean(r['w1'] for r in rows):>8.3f} "
              f"{statistics.mean(seconds):>6.0f} / {max(seconds):<5.0f}s")
        collapse = name.endswith("-collapse")  # the presets that drop modes on purpose
        print(f"{'':<22} {verdict(rows[0]['data'], rows, collapse)}")

    for data, label in (("ring", "ring of 8"), ("grid", "5x5 grid")):
        if any(rows[0]["data"] == data for rows in by_preset.values()):
            figures = ", ".join(f"{who} {modes} modes {hq:.1%}" for who, modes, hq
                                in PUBLISHED[data])
            print(f"\npublished, {label} (PacGAN Table 1: modes, high-quality samples): "
                  f"{figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
