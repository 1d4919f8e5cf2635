"""What each 2D preset reaches on this machine: modes captured, high-quality fraction, W1, time.

    .venv/bin/python benchmarks/bench_presets.py [--seeds 0 1 2] [--presets ring8-gan ...]

Prints one row per (preset, seed) with the figures at the last evaluation step, and the wall
time of the whole run (Trainer.fit, all reporting on), then a mean per preset.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gan_core.events import Metrics
from gan_core.presets import PRESETS, preset_config
from gan_core.train import Trainer

TOY_PRESETS = [e.name for e in PRESETS if preset_config(e.name).is_toy]


def run(name: str, seed: int) -> dict[str, float]:
    config = preset_config(name).model_copy(update={"seed": seed})
    evaluations: list[dict[str, float]] = []

    def sink(event: object) -> None:
        if isinstance(event, Metrics) and "w1_exact" in event.values:
            evaluations.append(event.values)

    start = time.perf_counter()
    result = Trainer(config, sinks=[sink]).fit()
    elapsed = time.perf_counter() - start
    last = evaluations[-1]
    return {
        "status": result.status,
        "steps": result.step,
        "modes": last.get("modes_captured", float("nan")),
        "hq": last.get("hq_fraction", float("nan")),
        "w1": last["w1_exact"],
        "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=TOY_PRESETS, choices=TOY_PRESETS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}")
    print(f"{'preset':<16} {'seed':>4} {'steps':>6} {'modes':>6} {'hq':>6} {'w1':>7} {'time':>7}")
    for name in args.presets:
        rows = []
        for seed in args.seeds:
            r = run(name, seed)
            rows.append(r)
            print(f"{name:<16} {seed:>4} {r['steps']:>6} {r['modes']:>6.0f} {r['hq']:>6.2f} "
                  f"{r['w1']:>7.3f} {r['seconds']:>6.1f}s", flush=True)
        mean = {k: statistics.mean(r[k] for r in rows) for k in ("modes", "hq", "w1", "seconds")}
        print(f"{name:<16} {'mean':>4} {'':>6} {mean['modes']:>6.1f} {mean['hq']:>6.2f} "
              f"{mean['w1']:>7.3f} {mean['seconds']:>6.1f}s", flush=True)


if __name__ == "__main__":
    main()
