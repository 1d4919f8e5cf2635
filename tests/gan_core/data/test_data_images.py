import numpy as np
import pytest
import torch
from PIL import Image

from gan_core.config import ImageData
from gan_core.data import DataInfo, build_data
from gan_core.data.convert import resize_square, to_channels, to_unit_range
from gan_core.data.sampler import EpochSampler


@pytest.fixture(scope="module")
def mnist5k():
    return build_data(ImageData(name="mnist5k"), seed=0)


def test_mnist5k_is_5000_labelled_digits_in_unit_range(mnist5k) -> None:
    info = mnist5k.info
    assert isinstance(info, DataInfo)
    assert (info.kind, info.shape, info.size, info.num_classes) == ("image", (1, 28, 28), 5000, 10)
    assert info.mode_centers is None and info.extent is None
    x, y = mnist5k.sample(5000, torch.Generator().manual_seed(0))  # every image once
    assert x.shape == (5000, 1, 28, 28) and x.dtype == torch.float32
    assert x.min() == -1.0 and x.max() == 1.0
    assert torch.bincount(y, minlength=10).tolist() == [500] * 10
    # the border of an MNIST digit is background (-1); the centre has ink
    assert (x[:, :, 0, :] == -1).float().mean() > 0.99
    assert x[:, :, 10:18, 10:18].mean() > -0.5


def test_mnist5k_labels_match_the_images() -> None:
    # the mean "1" has far less ink than the mean "0": a shifted label column would mix them
    x, y = build_data(ImageData(name="mnist5k"), seed=0).sample(5000, torch.Generator())
    ink = (x + 1).mean(dim=(1, 2, 3))
    assert ink[y == 1].mean() < 0.6 * ink[y == 0].mean()


def test_mnist5k_limit_keeps_every_digit() -> None:
    # the file is sorted by digit; a quick run with a limit must still see all ten
    source = build_data(ImageData(name="mnist5k", limit=100), seed=0)
    _, y = source.next_batch(100)
    assert torch.bincount(y, minlength=10).tolist() == [10] * 10


def test_digits_are_upsampled_to_32() -> None:
    source = build_data(ImageData(name="digits"), seed=0)
    assert source.info.shape == (1, 32, 32) and source.info.size == 1797
    x, y = source.next_batch(64)
    assert x.shape == (64, 1, 32, 32) and y.shape == (64,)
    assert x.min() == -1.0 and x.max() <= 1.0 and x.max() > 0.9


def test_gray_set_as_rgb_at_64() -> None:
    source = build_data(ImageData(name="mnist5k", channels=3, image_size=64, limit=100), seed=0)
    assert source.info.shape == (3, 64, 64) and source.info.size == 100
    x, _ = source.next_batch(10)
    assert x.shape == (10, 3, 64, 64)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])


def test_rgb_to_gray_matches_pil_luminance() -> None:
    rgb = torch.randint(0, 256, (1, 3, 9, 7), dtype=torch.uint8, generator=torch.Generator())
    gray = to_channels(rgb, 1)
    pil = Image.fromarray(rgb[0].permute(1, 2, 0).numpy(), "RGB").convert("L")
    assert gray.shape == (1, 1, 9, 7)
    assert np.array_equal(gray[0, 0].numpy(), np.asarray(pil))


def test_gray_to_rgb_repeats_the_channel() -> None:
    gray = torch.randint(0, 256, (2, 1, 4, 4), dtype=torch.uint8)
    rgb = to_channels(gray, 3)
    assert rgb.shape == (2, 3, 4, 4) and all(torch.equal(rgb[:, c], gray[:, 0]) for c in range(3))


def test_resize_keeps_a_flat_image_flat_and_uint8() -> None:
    flat = torch.full((3, 1, 28, 28), 200, dtype=torch.uint8)
    out = resize_square(flat, 64)
    assert out.dtype == torch.uint8 and out.shape == (3, 1, 64, 64) and (out == 200).all()


def test_unit_range_end_points() -> None:
    assert to_unit_range(torch.tensor([0, 255], dtype=torch.uint8)).tolist() == [-1.0, 1.0]


def _stream(source, batches: int, batch_size: int) -> list[torch.Tensor]:
    return [source.next_batch(batch_size)[0] for _ in range(batches)]


def test_same_seed_same_batches_other_seed_other_batches() -> None:
    cfg = ImageData(name="mnist5k", limit=300)
    a, b, c = build_data(cfg, seed=1), build_data(cfg, seed=1), build_data(cfg, seed=2)
    for xa, xb, xc in zip(_stream(a, 3, 32), _stream(b, 3, 32), _stream(c, 3, 32), strict=True):
        assert torch.equal(xa, xb) and not torch.equal(xa, xc)


@pytest.mark.parametrize("consumed", [2, 6], ids=["mid-epoch", "across-epochs"])
def test_resume_gives_identical_batches(consumed) -> None:
    # 100 items, batches of 32: 3 per epoch (4 items dropped), so 6 batches cross two epochs
    cfg = ImageData(name="mnist5k", limit=100)
    original = build_data(cfg, seed=0)
    _stream(original, consumed, 32)
    state = original.state_dict()
    assert all(isinstance(v, int | torch.Tensor) for v in state.values())
    expected = _stream(original, 5, 32)

    restored = build_data(cfg, seed=123)
    restored.load_state_dict(state)
    for got, want in zip(_stream(restored, 5, 32), expected, strict=True):
        assert torch.equal(got, want)


def test_epochs_are_fresh_permutations_without_repeats() -> None:
    sampler = EpochSampler(10, seed=0)
    epochs = [torch.cat([sampler.next_indices(3) for _ in range(3)]) for _ in range(3)]
    for epoch in epochs:  # 3 batches of 3 from 10 items: one item dropped, none repeated
        assert len(set(epoch.tolist())) == 9
    assert not torch.equal(epochs[0], epochs[1])
    assert sampler.epoch == 2


def test_sample_does_not_advance_the_stream() -> None:
    cfg = ImageData(name="mnist5k", limit=200)
    a, b = build_data(cfg, seed=0), build_data(cfg, seed=0)
    x, y = a.sample(500, torch.Generator().manual_seed(0))  # more than the set: with replacement
    assert x.shape == (500, 1, 28, 28) and y.shape == (500,)
    assert torch.equal(a.next_batch(16)[0], b.next_batch(16)[0])


def test_batch_larger_than_the_set_is_rejected() -> None:
    source = build_data(ImageData(name="mnist5k", limit=50), seed=0)
    with pytest.raises(ValueError, match=r"train\.batch_size \(64\).*50"):
        source.next_batch(64)


def test_state_from_another_size_is_rejected() -> None:
    state = build_data(ImageData(name="mnist5k", limit=50), seed=0).state_dict()
    with pytest.raises(ValueError, match="50 items"):
        build_data(ImageData(name="mnist5k", limit=60), seed=0).load_state_dict(state)
