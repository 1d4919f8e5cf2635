"""Readers for the plain binary formats of MNIST (IDX) and CIFAR-10 (the binary version).

Both are raw arrays with a tiny header, so nothing is unpickled: a user's file can only ever
become an array of numbers.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

__all__ = ["CIFAR10_RECORD_BYTES", "read_cifar10_bin", "read_idx"]

# IDX type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CIFAR10_RECORD_BYTES = 1 + 3 * 32 * 32  # label byte, then R, G, B planes of 32x32


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (plain or ``.gz``) as an array in native byte order."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0:2] != b"\x00\x00" or data[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number {data[:4]!r})")
    dtype, ndim = _IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    shape = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(
            f"{path}: IDX header says shape {shape} ({expected} bytes) but the file has "
            f"{len(data)} bytes; the file is truncated or corrupt"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def read_cifar10_bin(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """A CIFAR-10 binary batch as ``(images uint8 (N, 3, 32, 32), labels int64 (N,))``."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % CIFAR10_RECORD_BYTES:
        raise ValueError(
            f"{path}: {raw.size} bytes is not a whole number of CIFAR-10 records "
            f"({CIFAR10_RECORD_BYTES} bytes each); the file is truncated or not the binary version"
        )
    records = raw.reshape(-1, CIFAR10_RECORD_BYTES)
    images = records[:, 1:].reshape(-1, 3, 32, 32)
    return np.ascontiguousarray(images), records[:, 0].astype(np.int64)
