"""Training data: 2D toy mixtures and image sets as infinite, resumable CPU batch streams.

    source = build_data(cfg.data, seed=cfg.seed)
    x, y = source.next_batch(64)
"""

from gan_core.data.datasets import DATASETS, build_data
from gan_core.data.registry import DataSet, dataset, forget_dataset
from gan_core.data.source import DataInfo, DataNotFoundError, DataSource

__all__ = ["DATASETS", "DataInfo", "DataNotFoundError", "DataSet", "DataSource", "build_data",
           "dataset", "forget_dataset"]
