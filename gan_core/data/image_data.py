"""The ``data`` section of the image data sets: which set, where its files are, and the size
and channels the model sees. The sets themselves register in array_sets.py and file_sets.py,
each with this section; its ``name`` takes its choices from those registrations."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gan_core.data.registry import DATASETS, on_change
from gan_core.sections import Rule, StrictModel, one_of, tag_required

__all__ = ["FOLDER_NEEDS_ROOT", "ImageData"]


class ImageData(StrictModel):
    """An image data set, resized/cropped to ``image_size`` and normalized to [-1, 1]."""

    model_config = tag_required("name")
    # Literal[every image set's name], made anew whenever one is registered (_refresh)
    name: str = Field(
        description=(
            "mnist5k and digits ship with installed packages and work offline; the others read "
            "files under `root` (or download them when `download` is true and there is internet)."
        )
    )
    root: str | None = Field(
        None,
        description=(
            "Folder holding the data set's files (required for image_folder). Default: "
            "$GANSCOPE_DATA_DIR/datasets, else ~/.cache/ganscope/datasets."
        ),
    )
    image_size: Literal[28, 32, 64] | None = Field(
        None,
        description="Side of the square images the model sees. Default: the set's own size "
        "(28 for MNIST-like sets, 32 for CIFAR-10 and digits, 64 for CelebA and folders).",
    )
    channels: Literal[1, 3] | None = Field(
        None, description="1 (gray) or 3 (RGB). Default: the set's own channels."
    )
    download: bool = Field(
        False, description="Download the files when they are missing (needs internet)."
    )
    limit: int | None = Field(
        None, ge=1, le=10_000_000, description="Use only the first N images (quick runs)."
    )

    @property
    def resolved_channels(self) -> int:
        return self.channels or DATASETS.get(self.name).shape[0]

    @property
    def resolved_size(self) -> int:
        if self.image_size is not None:
            return self.image_size
        native = DATASETS.get(self.name).shape[1]
        return native if native in (28, 32, 64) else 32

    @model_validator(mode="after")
    def _folder_needs_root(self) -> ImageData:
        if FOLDER_NEEDS_ROOT.broken_by(self):
            raise ValueError(FOLDER_NEEDS_ROOT.message(self))
        return self


FOLDER_NEEDS_ROOT = Rule(
    {"name": one_of("image_folder"), "root": one_of(None, "")},
    lambda data: "data.root: image_folder needs the folder of images in `root`")


def _refresh() -> None:
    """``name``: one of the registered image sets whose section this is (the config's
    ``data`` union picks the section by it); a set with a section of its own is not one."""
    names = tuple(e.name for e in DATASETS if e.value.config is ImageData)
    field = ImageData.model_fields["name"]
    annotation = Literal[names] if names else str  # type: ignore[valid-type]
    if field.annotation != annotation:
        field.annotation = annotation
        ImageData.model_rebuild(force=True)


on_change(_refresh)
