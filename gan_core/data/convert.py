"""Pixel conversions shared by every image set: channels, size, and uint8 -> [-1, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["resize_square", "to_channels", "to_unit_range"]

_RESIZE_CHUNK = 1024  # images per interpolate call: bounds the float copy at 64x64x3 to ~50 MB


def to_channels(images: Tensor, channels: int) -> Tensor:
    """uint8 (N, C, H, W) -> (N, channels, H, W): gray -> RGB repeats, RGB -> gray is luminance."""
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if have == 3 and channels == 1:
        # ITU-R 601-2 luma in PIL's fixed point, so arrays and decoded files (convert("L")) agree
        r, g, b = images.to(torch.int32).unbind(dim=1)
        luma = (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16
        return luma.to(torch.uint8).unsqueeze(1)
    raise ValueError(f"cannot convert {have}-channel images to {channels} channels (use 1 or 3)")


def resize_square(images: Tensor, size: int) -> Tensor:
    """uint8 (N, C, H, W) -> (N, C, size, size), bilinear with antialiasing when shrinking."""
    if images.shape[-2:] == (size, size):
        return images
    out = torch.empty((*images.shape[:2], size, size), dtype=torch.uint8)
    for start in range(0, len(images), _RESIZE_CHUNK):
        chunk = images[start : start + _RESIZE_CHUNK].float()
        resized = F.interpolate(
            chunk, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
        out[start : start + _RESIZE_CHUNK] = resized.round().clamp(0, 255).to(torch.uint8)
    return out


def to_unit_range(images: Tensor) -> Tensor:
    """uint8 -> float32 with 0 -> -1 and 255 -> 1."""
    return images.float().div(127.5).sub(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """The inverse: float in [-1, 1] (values outside clamped) -> uint8, rounded to the nearest,
    as a saved PNG holds it. Any shape."""
    return ((images.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
