"""The on-disk cache of real statistics: keys, atomic writes, recovery from a bad file."""

import numpy as np
import pytest

from gan_core.metrics import cache
from gan_core.metrics.cache import cache_key, default_cache_dir, load_or_compute


def test_key_changes_with_any_part_and_not_with_order():
    base = {"data": {"name": "mnist5k", "limit": None}, "n": 100, "extractor": "mnist-cnn:ab"}
    assert cache_key(base) == cache_key(dict(reversed(base.items())))
    assert cache_key(base) != cache_key({**base, "n": 101})
    assert cache_key(base) != cache_key({**base, "extractor": "tf-2015-12-05:pool"})


def test_computes_once_then_reads(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"features": np.arange(6.0).reshape(3, 2)}

    first = load_or_compute("k1", compute, tmp_path)
    second = load_or_compute("k1", compute, tmp_path)
    assert len(calls) == 1 and np.array_equal(first["features"], second["features"])
    assert [p.name for p in tmp_path.iterdir()] == ["k1.npz"]


def test_unreadable_entry_is_recomputed_and_replaced(tmp_path):
    (tmp_path / "k2.npz").write_bytes(b"truncated")
    out = load_or_compute("k2", lambda: {"x": np.ones(2)}, tmp_path)
    assert np.array_equal(out["x"], np.ones(2))
    assert np.array_equal(load_or_compute("k2", lambda: {"x": np.zeros(2)}, tmp_path)["x"],
                          np.ones(2))


def test_a_write_that_fails_halfway_leaves_no_file(tmp_path, monkeypatch):
    def half_write(f, **arrays):
        f.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(cache.np, "savez", half_write)
    with pytest.raises(OSError, match="disk full"):
        load_or_compute("k3", lambda: {"x": np.ones(2)}, tmp_path)
    assert not list(tmp_path.iterdir())  # neither k3.npz nor the temporary file


def test_default_folder_follows_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("GANSCOPE_DATA_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "cache" / "metrics"
    monkeypatch.delenv("GANSCOPE_DATA_DIR")
    assert default_cache_dir().parts[-3:] == (".cache", "ganscope", "metrics")
    assert cache.CACHE_VERSION >= 1
