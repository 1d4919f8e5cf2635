"""Statistics of real data cached on disk, keyed by a hash of everything that affects them.

A cache entry is one ``.npz`` of plain arrays (read with ``allow_pickle=False``), written
atomically (gan_core.run_dir.atomic_path): a reader sees the old entry or the new one, never half
a file, and two writers race harmlessly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gan_core.run_dir import atomic_path

__all__ = ["cache_key", "default_cache_dir", "load_or_compute"]

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the way cached arrays are computed changes


def default_cache_dir() -> Path:
    """``$GANSCOPE_DATA_DIR/cache/metrics``, else ``~/.cache/ganscope/metrics``."""
    env = os.environ.get("GANSCOPE_DATA_DIR")
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "ganscope"
    return base / "cache" / "metrics" if env else base / "metrics"


def cache_key(parts: Mapping[str, Any]) -> str:
    """A hash of ``parts`` (JSON-serializable: data config, sample count, seed, extractor)."""
    text = json.dumps({"version": CACHE_VERSION, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def load_or_compute(
    key: str,
    compute: Callable[[], Mapping[str, np.ndarray]],
    folder: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """The arrays cached under ``key``, or ``compute()``'s, written atomically first."""
    folder = Path(folder) if folder is not None else default_cache_dir()
    path = folder / f"{key}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except (OSError, ValueError) as exc:  # truncated or foreign file: recompute it
            log.warning("ignoring unreadable cache entry %s: %s", path, exc)
    arrays = {name: np.asarray(value) for name, value in compute().items()}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return arrays
