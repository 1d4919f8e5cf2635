"""Time the metric stages: the Frechet distance of 2048-d statistics (our symmetric eigh form
against scipy's sqrtm route), and feature extraction per second on the CPU (Inception from the
offline TorchScript weights, and the MNIST features).

    python benchmarks/bench_metrics.py            # about 1-2 minutes on 2 CPU cores
    python benchmarks/bench_metrics.py --quick    # smaller sizes, a smoke check

A report, not a test: it exits 0 whatever the numbers, 1 on an error. Times are the median of
``--repeats`` runs; the FID ratio is measured in the same process, back to back, so it holds
better than either absolute time on a shared machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import torch

from gan_core.metrics.fid import GaussianStats, fid_statistics_to_metric


def median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def scipy_fid(a: GaussianStats, b: GaussianStats) -> float:
    from scipy import linalg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(a.sigma @ b.sigma)
    diff = a.mu - b.mu
    return float(diff @ diff + np.trace(a.sigma) + np.trace(b.sigma) - 2 * np.trace(covmean).real)


def random_stats(seed: int, dim: int, n: int) -> GaussianStats:
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.normal(size=(n, dim)) @ (rng.normal(size=(dim, dim)) / np.sqrt(dim)), 0)
    return GaussianStats(x.mean(0), np.cov(x, rowvar=False), n)  # post-ReLU-like, as pool feats


def bench_frechet(dim: int, repeats: int) -> None:
    a, b = random_stats(0, dim, 2 * dim + 500), random_stats(1, dim, 2 * dim + 500)
    ours_t, ours = median_time(lambda: fid_statistics_to_metric(a, b), repeats)
    ref_t, ref = median_time(lambda: scipy_fid(a, b), repeats)
    print(f"Frechet distance, {dim}-d statistics (median of {repeats}):")
    print(f"  symmetric eigh (ours)  {ours_t:7.2f} s   FID {ours:.10g}")
    print(f"  scipy sqrtm            {ref_t:7.2f} s   FID {ref:.10g}")
    print(f"  ratio sqrtm / ours     {ref_t / ours_t:7.1f}x   relative difference "
          f"{abs(ours - ref) / abs(ref):.1e}")


def bench_extractor(name: str, size: int, channels: int, batch: int, batches: int) -> None:
    from gan_core.metrics.features import build_extractor

    try:
        extractor = build_extractor(name)
    except ValueError as exc:
        print(f"{name}: skipped ({exc})")
        return
    images = torch.randint(0, 256, (batch, channels, size, size), dtype=torch.uint8)
    extractor(images[:2])  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        extractor(images)
    seconds = time.perf_counter() - start
    source = getattr(extractor, "source", extractor.identity)
    print(f"{name} features, {channels}x{size}x{size} uint8 in batches of {batch}, "
          f"{torch.get_num_threads()} threads: {batch * batches / seconds:8.1f} images/s "
          f"({source})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    try:
        bench_frechet(512 if args.quick else 2048, 1 if args.quick else args.repeats)
        bench_extractor("inception", 32, 3, 16, 1 if args.quick else 4)
        bench_extractor("mnist", 28, 1, 500, 2 if args.quick else 10)
    except Exception as exc:  # a report: say what failed, exit 1
        print(f"error: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
