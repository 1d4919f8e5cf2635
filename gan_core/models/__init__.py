"""G and D for 2D toys (MLP) and images (DCGAN), built from a model config."""

from __future__ import annotations

from torch import nn

from gan_core.config import DCGANModel, MLPModel
from gan_core.models.dcgan import GEOMETRY, DCGANDiscriminator, DCGANGenerator
from gan_core.models.mlp import MLPDiscriminator, MLPGenerator

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "build_models",
]


def build_models(
    model_cfg: MLPModel | DCGANModel,
    *,
    shape: tuple[int, ...],
    num_classes: int | None = None,
) -> tuple[nn.Module, nn.Module]:
    """Build an initialized (G, D) pair for data of ``shape`` (one sample, without the batch).

    ``shape`` is ``(2,)`` for 2D toys and ``(C, H, W)`` with ``H == W`` in {28, 32, 64} for
    images. ``num_classes`` is needed by a conditional DCGAN and ignored otherwise. Seeds
    nothing: set ``torch.manual_seed`` before calling for reproducible weights.
    """
    shape = tuple(shape)
    if isinstance(model_cfg, MLPModel):
        if len(shape) != 1:
            raise ValueError(
                f"the 'mlp' model needs 2D points, data shape (2,); got {shape}: "
                "use model.arch 'dcgan' for images"
            )
        return MLPGenerator(model_cfg, shape[0]), MLPDiscriminator(model_cfg, shape[0])
    if isinstance(model_cfg, DCGANModel):
        if len(shape) != 3 or shape[1] != shape[2] or shape[1] not in GEOMETRY:
            raise ValueError(
                f"the 'dcgan' model needs square images (C, S, S) with S in "
                f"{sorted(GEOMETRY)}; got shape {shape}: set data.image_size to 28, 32 or 64"
            )
        if not model_cfg.conditional:
            num_classes = None
        elif num_classes is None or num_classes < 1:
            raise ValueError(
                "model.conditional needs a data set with class labels (num_classes was "
                f"{num_classes}); set model.conditional to false or use labelled data"
            )
        image_shape = (shape[0], shape[1], shape[2])
        return (
            DCGANGenerator(model_cfg, image_shape, num_classes),
            DCGANDiscriminator(model_cfg, image_shape, num_classes),
        )
    raise ValueError(f"unknown model config {type(model_cfg).__name__}; use MLPModel or DCGANModel")
