"""Image encodings the server sends, written once: PNG data URLs, tiled grids, animated GIFs."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any


def png_data_url(array: Any) -> str:
    """(H, W, C) uint8 -> a PNG data URL."""
    from PIL import Image

    buf = io.BytesIO()
    image = Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
    image.save(buf, "PNG", compress_level=1)  # tiny images: speed over a few bytes
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def tile(images: Any, nrow: int | None = None, pad: int = 2) -> Any:
    """(B, H, W, C) uint8 -> one (H', W', C) grid, ``nrow`` images a row (default square)."""
    import numpy as np

    count, height, width, channels = images.shape
    nrow = nrow or math.ceil(math.sqrt(count))
    rows = math.ceil(count / nrow)
    out = np.full((rows * (height + pad) + pad, nrow * (width + pad) + pad, channels), 255,
                  dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, nrow)
        y, x = pad + r * (height + pad), pad + c * (width + pad)
        out[y:y + height, x:x + width] = image
    return out


def encode_gif(frames: Sequence[Any], duration_ms: int | Sequence[int]) -> bytes:
    """A looping GIF of ``frames`` (PIL images of one size), each shown ``duration_ms`` (one
    value for all, or one per frame). Each frame replaces the last whole (no optimization that
    would keep parts of the previous frame)."""
    if not frames:
        raise ValueError("a GIF needs at least one frame")
    buf = io.BytesIO()
    durations = duration_ms if isinstance(duration_ms, int) else list(duration_ms)
    frames[0].save(buf, "GIF", save_all=True, append_images=list(frames[1:]),
                   duration=durations, loop=0, optimize=False, disposal=1)
    return buf.getvalue()


def gif_bytes(images: Any, frame_ms: int) -> bytes:
    """An animated GIF (looping) of (B, H, W, C) uint8 frames, scaled up to be visible."""
    from PIL import Image

    scale = max(1, 128 // images.shape[1])
    frames = []
    for image in images:
        frame = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
        frames.append(frame.resize((frame.width * scale, frame.height * scale), Image.NEAREST))
    return encode_gif(frames, frame_ms)
