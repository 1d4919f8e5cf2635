"""Sets read from files, tested on small files written here (no network)."""

import gzip
import multiprocessing
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.config import ImageData
from gan_core.data import DataNotFoundError, build_data
from gan_core.data.file_sets import build_image_folder
from gan_core.data.formats import read_idx

IDX_SETS = [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x + 1) * 127.5).round().to(torch.uint8)


def write_idx(path: Path, array: np.ndarray, code: int = 0x08) -> None:
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def write_mnist(raw: Path, n: int, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    suffix = ".gz" if gz else ""
    write_idx(raw / f"train-images-idx3-ubyte{suffix}", images)
    write_idx(raw / f"train-labels-idx1-ubyte{suffix}", labels)
    return images, labels


def save_image(path: Path, pixels: np.ndarray, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, **kwargs)


# ---------------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST (IDX)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize(("name", "folder"), IDX_SETS)
def test_idx_sets_read_torchvision_layout(tmp_path, name, folder, gz) -> None:
    images, labels = write_mnist(tmp_path / folder / "raw", n=30, gz=gz)
    source = build_data(ImageData(name=name, root=str(tmp_path)), seed=0)
    assert source.info.shape == (1, 28, 28) and source.info.size == 30
    assert source.info.num_classes == 10
    x, y = source.next_batch(30)  # the whole first epoch, shuffled
    for image, label in zip(to_uint8(x), y, strict=True):
        matches = [i for i in range(30) if np.array_equal(image[0].numpy(), images[i])]
        assert len(matches) == 1 and label == labels[matches[0]]


def test_idx_reader_handles_big_endian_ints_and_rejects_bad_files(tmp_path) -> None:
    values = np.array([[1, -2, 70000]], dtype=np.int32)
    write_idx(tmp_path / "ints.idx", values, code=0x0C)
    assert np.array_equal(read_idx(tmp_path / "ints.idx"), values)

    (tmp_path / "junk").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "junk")
    write_idx(tmp_path / "short.idx", np.zeros((2, 3, 3), np.uint8))
    (tmp_path / "short.idx").write_bytes((tmp_path / "short.idx").read_bytes()[:-1])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "short.idx")


def test_mnist_download_fetches_then_reads_with_our_reader(tmp_path, monkeypatch) -> None:
    import torchvision.datasets

    calls = []

    class FakeMNIST:  # stands in for torchvision's downloader: writes the files it would fetch
        def __init__(self, root, train, download):
            calls.append((root, train, download))
            write_mnist(Path(root) / "MNIST" / "raw", n=12, gz=False)

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    source = build_data(ImageData(name="mnist", root=str(tmp_path), download=True), seed=0)
    assert calls == [(str(tmp_path), True, True)] and source.info.size == 12


# ---------------------------------------------------------------------------------------------
# CIFAR-10 (binary version)
# ---------------------------------------------------------------------------------------------


def write_cifar(root: Path, per_file: int = 3) -> None:
    """Image i has R plane 16i, G plane 16i+1, B plane 16i+2, label i % 10, and G[3, 5] = 255."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for f in range(5):
        records = []
        for k in range(per_file):
            i = f * per_file + k
            planes = np.stack([np.full((32, 32), 16 * i + c, np.uint8) for c in range(3)])
            planes[1, 3, 5] = 255
            records.append(bytes([i % 10]) + planes.tobytes())
        (folder / f"data_batch_{f + 1}.bin").write_bytes(b"".join(records))


def test_cifar10_binary_channel_order_pixel_and_label(tmp_path) -> None:
    write_cifar(tmp_path)
    source = build_data(ImageData(name="cifar10", root=str(tmp_path)), seed=0)
    assert source.info.shape == (3, 32, 32) and source.info.size == 15
    assert source.info.num_classes == 10
    x, y = source.next_batch(15)
    pixels = to_uint8(x).int()
    seen = set()
    for image, label in zip(pixels, y, strict=True):
        i = int(image[0, 0, 0]) // 16
        seen.add(i)
        assert image[:, 0, 0].tolist() == [16 * i, 16 * i + 1, 16 * i + 2]  # R, G, B planes
        assert image[1, 3, 5] == 255 and image[1, 5, 3] == 16 * i + 1  # row-major
        assert label == i % 10
    assert seen == set(range(15))


def test_cifar10_as_gray_28(tmp_path) -> None:
    write_cifar(tmp_path)
    cfg = ImageData(name="cifar10", root=str(tmp_path), channels=1, image_size=28)
    x, _ = build_data(cfg, seed=0).next_batch(4)
    assert x.shape == (4, 1, 28, 28)


def test_cifar10_failed_download_is_a_data_not_found_error(tmp_path, monkeypatch) -> None:
    import torchvision.datasets.utils

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", offline)
    with pytest.raises(DataNotFoundError, match="network is unreachable"):
        build_data(ImageData(name="cifar10", root=str(tmp_path), download=True), seed=0)


# ---------------------------------------------------------------------------------------------
# CelebA and image folders (decoded lazily)
# ---------------------------------------------------------------------------------------------


def framed_face(height: int = 218, width: int = 178) -> np.ndarray:
    """Green centre square, red bands above and below it: a crop keeps only green."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[..., 1] = 255
    band = (height - width) // 2
    pixels[:band] = pixels[height - band :] = (255, 0, 0)
    return pixels


def test_celeba_is_centre_cropped_then_resized(tmp_path) -> None:
    folder = tmp_path / "celeba" / "img_align_celeba"
    for i in range(5):
        save_image(folder / f"{i + 1:06d}.jpg", framed_face(), quality=95, subsampling=0)
    source = build_data(ImageData(name="celeba", root=str(tmp_path)), seed=0)
    info = source.info
    assert (info.shape, info.size, info.num_classes) == ((3, 64, 64), 5, None)
    x, y = source.next_batch(5)
    assert x.shape == (5, 3, 64, 64) and y is None
    # without the crop the top rows would be red
    assert x[:, 0].max() < -0.7 and x[:, 1].min() > 0.7


def test_image_folder_flat_crops_the_centre_square(tmp_path) -> None:
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, 20:60] = (200, 0, 0)  # red centre square between blue margins
    wide[:, :20] = wide[:, 60:] = (0, 0, 200)
    for i in range(4):
        save_image(tmp_path / f"img{i}.png", wide)
    source = build_data(ImageData(name="image_folder", root=str(tmp_path)), seed=0)
    assert source.info.shape == (3, 64, 64) and source.info.num_classes is None
    x, y = source.next_batch(4)
    assert y is None
    assert (to_uint8(x[:, 0]) == 200).all() and (to_uint8(x[:, 2]) == 0).all()


def test_image_folder_subfolders_are_classes(tmp_path) -> None:
    colours = {"cat": (255, 0, 0), "dog": (0, 255, 0)}  # sorted names give the label order
    for name, colour in colours.items():
        for i in range(3):
            save_image(tmp_path / name / f"{i}.png", np.full((30, 30, 3), colour, np.uint8))
    save_image(tmp_path / "dog" / "more" / "deep.bmp", np.full((30, 30, 3), (0, 255, 0), np.uint8))
    save_image(tmp_path / "stray.png", np.zeros((30, 30, 3), np.uint8))  # ignored
    save_image(tmp_path / "cat" / ".thumbs" / "t.png", np.zeros((30, 30, 3), np.uint8))  # hidden
    (tmp_path / "notes.txt").write_text("not an image")
    source = build_data(ImageData(name="image_folder", root=str(tmp_path), image_size=32), seed=0)
    assert source.info.num_classes == 2 and source.info.size == 7
    x, y = source.next_batch(7)
    assert sorted(y.tolist()) == [0, 0, 0, 1, 1, 1, 1]
    assert ((x[:, 0].mean(dim=(1, 2)) > 0.9) == (y == 0)).all()  # cats are red


def test_image_folder_gray(tmp_path) -> None:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)
    save_image(tmp_path / "a.png", pixels)
    cfg = ImageData(name="image_folder", root=str(tmp_path), channels=1, image_size=28)
    x, _ = build_data(cfg, seed=0).next_batch(1)
    assert x.shape == (1, 1, 28, 28)
    expected = np.asarray(Image.fromarray(pixels).convert("L"))
    assert np.array_equal(to_uint8(x)[0, 0].numpy(), expected)


def test_image_folder_unreadable_file_names_the_file(tmp_path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    source = build_data(ImageData(name="image_folder", root=str(tmp_path)), seed=0)
    with pytest.raises(ValueError, match=r"broken\.jpg"):
        source.next_batch(1)


def grey_levels(root: Path, n: int) -> None:
    for i in range(n):  # image i is flat grey level 5i: its value identifies it
        save_image(root / f"{i:03d}.png", np.full((28, 28), 5 * i, np.uint8))


def identities(x: torch.Tensor) -> list[int]:
    return (to_uint8(x)[:, 0, 0, 0].int() // 5).tolist()


def test_lazy_resume_with_prefetching_workers(tmp_path) -> None:
    grey_levels(tmp_path, 20)  # batches of 6: 3 per epoch
    cfg = ImageData(name="image_folder", root=str(tmp_path), image_size=28, channels=1)
    plain = build_image_folder(cfg, seed=0, num_workers=0)
    reference = [identities(plain.next_batch(6)[0]) for _ in range(8)]

    workers = build_image_folder(cfg, seed=0, num_workers=2)
    assert [identities(workers.next_batch(6)[0]) for _ in range(4)] == reference[:4]
    state = workers.state_dict()  # the workers have prefetched past this point
    assert identities(workers.next_batch(6)[0]) == reference[4]
    workers.close()
    assert multiprocessing.active_children() == []  # no workers left behind

    restored = build_image_folder(cfg, seed=7, num_workers=2)
    restored.load_state_dict(state)
    assert [identities(restored.next_batch(6)[0]) for _ in range(4)] == reference[4:]
    restored.close()


def test_lazy_sample_and_batch_size_check(tmp_path) -> None:
    grey_levels(tmp_path, 5)
    source = build_data(ImageData(name="image_folder", root=str(tmp_path)), seed=0)
    x, _ = source.sample(12, torch.Generator().manual_seed(0))
    assert x.shape == (12, 3, 64, 64) and set(identities(x)) <= set(range(5))
    with pytest.raises(ValueError, match="batch_size"):
        source.next_batch(6)


# ---------------------------------------------------------------------------------------------
# Missing files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "folder", "expected"),
    [
        ("mnist", "MNIST/raw", "train-images-idx3-ubyte"),
        ("fashion_mnist", "FashionMNIST/raw", "train-labels-idx1-ubyte"),
        ("cifar10", "cifar-10-batches-bin", "data_batch_1.bin"),
        ("celeba", "celeba/img_align_celeba", ".jpg"),
    ],
)
def test_missing_files_error_says_where_and_how(tmp_path, name, folder, expected) -> None:
    with pytest.raises(DataNotFoundError) as err:
        build_data(ImageData(name=name, root=str(tmp_path)), seed=0)
    message = str(err.value)
    assert isinstance(err.value, ValueError)
    assert str(tmp_path / folder) in message and expected in message
    assert "data.root" in message and name in message


def test_default_root_comes_from_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GANSCOPE_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError, match=r"data\.download=true") as err:
        build_data(ImageData(name="mnist"), seed=0)
    assert str(tmp_path / "datasets" / "MNIST" / "raw") in str(err.value)


def test_image_folder_without_images(tmp_path) -> None:
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DataNotFoundError, match=re.escape(str(tmp_path))):
        build_data(ImageData(name="image_folder", root=str(tmp_path)), seed=0)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        build_data(ImageData(name="image_folder", root=str(tmp_path / "nope")), seed=0)
