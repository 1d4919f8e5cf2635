"""Precision and recall (Kynkaanniemi et al. 2019, k = 3) and density and coverage (Naeem et
al. 2020, k = 5) from k-nearest-neighbour balls in feature space.

    real = manifold(real_features)           # features and k-NN radii, cacheable
    fake = manifold(fake_features, ks=(3,))
    scores = prdc(real, fake)

Distances are computed in float64 in row chunks, so 10k x 10k sets never hold the whole
distance matrix. A point's k-NN radius is its distance to the k-th nearest *other* point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gan_core.metrics.fid import as_float64

__all__ = ["PRDC", "Manifold", "manifold", "prdc"]

PR_K = 3
DC_K = 5
_CHUNK = 1024


@dataclass(frozen=True, eq=False)
class Manifold:
    """Feature vectors (N, D) float64 and their k-NN radii (N,) for each k."""

    features: Tensor
    radii: dict[int, Tensor]


@dataclass(frozen=True)
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float


def manifold(features: Tensor | np.ndarray, ks: tuple[int, ...] = (PR_K, DC_K)) -> Manifold:
    """k-NN radii of ``features`` (N, D) for each k in ``ks`` (N > max k)."""
    x = torch.from_numpy(as_float64(features))
    kmax = max(ks)
    if len(x) <= kmax:
        raise ValueError(f"k-NN radii with k = {kmax} need more than {kmax} samples, got {len(x)}")
    kth: list[Tensor] = []
    for start in range(0, len(x), _CHUNK):
        d = torch.cdist(x[start:start + _CHUNK], x)  # (chunk, N), the point itself at 0
        kth.append(d.topk(kmax + 1, dim=1, largest=False).values)  # (chunk, kmax + 1) sorted
    nearest = torch.cat(kth)
    return Manifold(features=x, radii={k: nearest[:, k] for k in ks})


def prdc(real: Manifold, fake: Manifold, *, pr_k: int = PR_K, dc_k: int = DC_K) -> PRDC:
    """Precision/recall with ``pr_k`` balls, density/coverage with the real set's ``dc_k``
    balls. ``real`` needs radii for both ks; ``fake`` for ``pr_k``."""
    for name, m, ks in (("real", real, (pr_k, dc_k)), ("generated", fake, (pr_k,))):
        missing = [k for k in ks if k not in m.radii]
        if missing:
            raise ValueError(f"the {name} manifold has no radii for k = {missing}; build it "
                             f"with manifold(features, ks=...) including them")
    if real.features.shape[1] != fake.features.shape[1]:
        raise ValueError(f"feature sizes differ ({real.features.shape[1]} and "
                         f"{fake.features.shape[1]}); use the same feature extractor")
    r_pr, r_dc, f_pr = real.radii[pr_k], real.radii[dc_k], fake.radii[pr_k]
    n_fake = len(fake.features)
    in_real_ball = torch.zeros(n_fake, dtype=torch.bool)  # precision: fake inside any real ball
    density_count = torch.zeros(n_fake, dtype=torch.float64)
    recalled, covered = [], []
    for start in range(0, len(real.features), _CHUNK):
        d = torch.cdist(real.features[start:start + _CHUNK], fake.features)  # (chunk, n_fake)
        stop = start + len(d)
        inside_pr = d < r_pr[start:stop, None]
        in_real_ball |= inside_pr.any(dim=0)
        density_count += (d < r_dc[start:stop, None]).sum(dim=0)
        recalled.append((d < f_pr[None, :]).any(dim=1))  # real inside any fake ball
        covered.append(d.min(dim=1).values < r_dc[start:stop])
    return PRDC(
        precision=float(in_real_ball.double().mean()),
        recall=float(torch.cat(recalled).double().mean()),
        density=float(density_count.mean() / dc_k),
        coverage=float(torch.cat(covered).double().mean()),
    )
