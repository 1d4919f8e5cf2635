"""Precision/recall/density/coverage: parity with the prdc package and expected behaviour."""

import numpy as np
import pytest

from gan_core.metrics import prdc as ours_prdc
from gan_core.metrics.prdc import manifold, prdc


def _features(seed: int, n: int, d: int = 64, shift: float = 0.0, scale: float = 1.0
              ) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d)) * scale + shift


def _ours(real: np.ndarray, fake: np.ndarray) -> dict[str, float]:
    scores = prdc(manifold(real), manifold(fake, ks=(3,)))
    return {k: getattr(scores, k) for k in ("precision", "recall", "density", "coverage")}


def _reference(module, real, fake) -> dict[str, float]:
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        pr = module.compute_prdc(real, fake, nearest_k=3)
        dc = module.compute_prdc(real, fake, nearest_k=5)
    return {"precision": pr["precision"], "recall": pr["recall"], "density": dc["density"],
            "coverage": dc["coverage"]}


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.4, 0.7), (0.0, 1.5)])
def test_parity_with_the_prdc_package(reference, shift, scale, monkeypatch):
    module = reference("prdc")
    monkeypatch.setattr(ours_prdc, "_CHUNK", 97)  # exercise the chunked path
    real, fake = _features(0, 300), _features(1, 250, shift=shift, scale=scale)
    ours, theirs = _ours(real, fake), _reference(module, real, fake)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_scores_react_to_what_they_measure():
    real = _features(0, 400, d=8)
    good = _ours(real, _features(1, 400, d=8))
    narrow = _ours(real, _features(2, 400, d=8, scale=0.4))  # mode dropping: recall falls
    off = _ours(real, _features(3, 400, d=8, shift=3.0))  # off the data: precision falls
    assert good["precision"] > 0.6 and good["recall"] > 0.6 and good["coverage"] > 0.8
    assert narrow["recall"] < good["recall"] - 0.3 and narrow["precision"] > 0.9
    assert off["precision"] < 0.1 and off["coverage"] < 0.1


def test_manifold_radii_are_kth_other_point_distances():
    x = np.array([[0.0], [1.0], [3.0], [7.0], [15.0], [31.0]])
    m = manifold(x, ks=(1, 3))
    assert m.radii[1].tolist() == [1.0, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert m.radii[3].tolist() == [7.0, 6.0, 4.0, 7.0, 14.0, 28.0]


def test_bad_input():
    with pytest.raises(ValueError, match="more than 5 samples"):
        manifold(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="no radii"):
        prdc(manifold(_features(0, 20, 2), ks=(3,)), manifold(_features(1, 20, 2), ks=(3,)))
