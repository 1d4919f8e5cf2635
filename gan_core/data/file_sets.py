"""Image sets stored as image files (CelebA, a user's folder), decoded lazily one file at a time.

These can be far larger than memory, so :class:`LazyImageSource` decodes each batch in
DataLoader workers.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch import Tensor
from torch.utils.data import Dataset

from gan_core.data.image_data import ImageData
from gan_core.data.images import LazyImageSource
from gan_core.data.registry import dataset
from gan_core.data.source import DataInfo, DataNotFoundError, data_root, missing_files

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageFileDataset",
    "build_celeba",
    "build_image_folder",
    "load_image_file",
]

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_CELEBA_FOLDER = Path("celeba") / "img_align_celeba"
_CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"


def load_image_file(path: Path, channels: int, size: int) -> Tensor:
    """Decode, centre-crop to a square, resize: uint8 (channels, size, size)."""
    with Image.open(path) as image:
        # JPEGs can decode at 1/2, 1/4 or 1/8 scale (never below `size`): CelebA at 64 px
        # decodes about 4x fewer pixels. A no-op for other formats.
        image.draft(None, (size, size))
        ImageOps.exif_transpose(image, in_place=True)  # phone photos store rotation in EXIF
        image = image.convert("L" if channels == 1 else "RGB")
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    image = image.resize((size, size), Image.Resampling.BILINEAR)  # antialiased when shrinking
    pixels = torch.from_numpy(np.asarray(image).copy())  # (H, W) or (H, W, 3)
    return pixels.unsqueeze(0) if channels == 1 else pixels.permute(2, 0, 1).contiguous()


class ImageFileDataset(Dataset[tuple[Tensor, int]]):
    """``(uint8 (C, size, size), label or -1)`` for each file; picklable for worker processes."""

    def __init__(
        self, files: list[Path], labels: list[int] | None, channels: int, size: int
    ) -> None:
        self.files = files
        self.labels = labels
        self.channels = channels
        self.size = size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        path = self.files[index]
        try:
            pixels = load_image_file(path, self.channels, self.size)
        except (OSError, ValueError) as exc:  # PIL's UnidentifiedImageError is an OSError
            raise ValueError(f"could not read image {path}: {exc}") from exc
        return pixels, self.labels[index] if self.labels is not None else -1


def _lazy_source(
    cfg: ImageData,
    seed: int,
    files: list[Path],
    labels: list[int] | None,
    num_classes: int | None,
    num_workers: int | None,
) -> LazyImageSource:
    if cfg.limit is not None:
        files = files[: cfg.limit]
        labels = labels[: cfg.limit] if labels is not None else None
    channels, size = cfg.resolved_channels, cfg.resolved_size
    info = DataInfo(
        name=cfg.name,
        kind="image",
        shape=(channels, size, size),
        num_classes=num_classes,
        size=len(files),
    )
    log.info("%s: %d image files, decoded on demand to %s", cfg.name, len(files), info.shape)
    dataset = ImageFileDataset(files, labels, channels, size)
    return LazyImageSource(info, dataset, seed, num_workers)


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in candidates
        if p.suffix.lower() in IMAGE_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)  # .cache etc.
        and p.is_file()
    )


def build_celeba(cfg: ImageData, seed: int, num_workers: int | None = None) -> LazyImageSource:
    """CelebA's aligned 178x218 JPEGs, centre-cropped to 178x178 then resized (as in DCGAN)."""
    folder = data_root(cfg.root) / _CELEBA_FOLDER
    files = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if not files:
        if cfg.download:
            log.warning("celeba: automatic download is not supported; ignoring data.download")
        raise missing_files(
            "celeba",
            folder,
            "the aligned JPEGs (000001.jpg ... 202599.jpg)",
            f"{_CELEBA_FOLDER}/",
            f"download img_align_celeba.zip from {_CELEBA_URL} and unzip it there (GANscope "
            "does not download CelebA: its Google Drive quota makes downloads unreliable)",
        )
    return _lazy_source(cfg, seed, files, None, None, num_workers)


def build_image_folder(
    cfg: ImageData, seed: int, num_workers: int | None = None
) -> LazyImageSource:
    """Images under ``root``: each subfolder holding images is a class; a flat folder has none."""
    root = data_root(cfg.root)
    extensions = ", ".join(IMAGE_EXTENSIONS)
    if not root.is_dir():
        raise DataNotFoundError(
            f"data set 'image_folder': the folder {root} does not exist; set data.root to a "
            f"folder of images ({extensions}), optionally one subfolder per class"
        )
    if cfg.download:
        log.warning("image_folder: there is nothing to download; ignoring data.download")
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    classes = [(d, found) for d in subfolders if (found := _images_in(d, recursive=True))]
    if classes:
        stray = _images_in(root, recursive=False)
        if stray:
            log.warning(
                "image_folder: %d images directly in %s are ignored: with class subfolders, "
                "only images inside them are used", len(stray), root,
            )
        files = [path for _, found in classes for path in found]
        labels = [label for label, (_, found) in enumerate(classes) for _ in found]
        log.info("image_folder classes: %s", ", ".join(d.name for d, _ in classes))
        return _lazy_source(cfg, seed, files, labels, len(classes), num_workers)
    files = _images_in(root, recursive=False)
    if not files:
        raise DataNotFoundError(
            f"data set 'image_folder': no images ({extensions}) in {root} or its subfolders; "
            "put images there or set data.root to a folder of images"
        )
    return _lazy_source(cfg, seed, files, None, None, num_workers)


dataset("celeba", "CelebA: 202,599 aligned face photos, cropped (JPEGs).", config=ImageData,
        build=build_celeba, kind="image", shape=(3, 64, 64), features=("inception",))
# its subfolders become classes, but how many is known only once the folder is read: a
# conditional model is refused (no labels declared)
dataset("image_folder", "Your images in a folder; subfolders become classes.",
        config=ImageData, build=build_image_folder, kind="image", shape=(3, 64, 64),
        features=("inception",))
