"""Image encodings the server sends, written once: an animated GIF of frames."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image


def encode_gif(frames: Sequence[Image.Image], duration_ms: int | Sequence[int]) -> bytes:
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
