"""Evaluation of checkpoints (library and `ganscope eval`) and periodic evaluation in training."""

import json

import pytest
import torch

from gan_core.config import ConfigError, RunConfig
from gan_core.evaluate import evaluate_checkpoint, parse_metrics, real_features
from gan_core.events import CheckpointSaved, Metrics
from gan_core.metrics.features import MnistExtractor
from gan_core.train import Trainer
from server.cli import main as ganscope


def mnist_config(**eval_section) -> RunConfig:
    return RunConfig.from_dict({
        "data": {"name": "mnist5k", "limit": 300},
        "model": {"arch": "dcgan", "z_dim": 16, "g_channels": 8, "d_channels": 8},
        "optim": {"ema_decay": 0.9},
        "train": {"steps": 4, "batch_size": 16, "report_every": 2, "sample_every": 4,
                  "spectral_every": 4, "checkpoint_every": 4, "grid_size": 4,
                  "num_threads": 2},
        "eval": eval_section,
    })


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    Trainer(mnist_config(), out_dir=folder).fit()
    return folder


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("GANSCOPE_DATA_DIR", str(tmp_path / "data"))


def test_evaluate_checkpoint_reports_every_metric_and_caches_real_features(run_dir, tmp_path):
    report = evaluate_checkpoint(run_dir / "checkpoints" / "ckpt_000000004.safetensors",
                                 metrics=("fid", "kid", "prdc", "is"), n=150, features="mnist")
    assert set(report.values) == {"fid_mnist", "kid_mnist", "kid_mnist_std", "is_mnist",
                                  "is_mnist_std", "precision_mnist", "recall_mnist",
                                  "density_mnist", "coverage_mnist"}
    assert report.values["fid_mnist"] > 1.0  # a 4-step G is far from the digits
    assert 1.0 <= report.values["is_mnist"] <= 10.0
    assert report.n_real == 150 and report.n_generated == 150 and report.step == 4
    assert report.feature_label == "FID-MNIST" and any("not comparable" in n
                                                        for n in report.notes)
    cached = list((tmp_path / "data" / "cache" / "metrics").glob("*.npz"))
    assert len(cached) == 1
    # the same request again reads the real features from the cache, with the same result
    again = evaluate_checkpoint(run_dir / "checkpoints" / "ckpt_000000004.safetensors",
                                metrics=("fid",), n=150, features="mnist")
    assert again.values["fid_mnist"] == pytest.approx(report.values["fid_mnist"], rel=1e-12)


def test_real_features_cache_key_covers_the_settings(tmp_path):
    extractor = MnistExtractor()
    data = mnist_config().data
    a = real_features(data, extractor, 50, cache_dir=tmp_path)
    b = real_features(data, extractor, 50, cache_dir=tmp_path, seed=1)  # other images
    c = real_features(data, extractor, 50, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert not torch.equal(a.features, b.features) and torch.equal(a.features, c.features)
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind


def test_parse_metrics_rejects_unknown_names():
    assert parse_metrics("fid, KID,fid") == ("fid", "kid")
    with pytest.raises(ValueError, match="choose from fid, kid, prdc, is"):
        parse_metrics("fid,lpips")


def test_cli_eval_prints_a_table_and_writes_json(run_dir, tmp_path, capsys):
    out = tmp_path / "report.json"
    code = ganscope(["eval", "--checkpoint", str(run_dir), "--metrics", "fid,prdc",
                     "--features", "mnist", "--n", "120", "--device", "cpu", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "fid_mnist" in printed and "coverage_mnist" in printed and "FID-MNIST" in printed
    report = json.loads(out.read_text())
    assert report["step"] == 4 and report["values"]["fid_mnist"] > 0
    # without --out the report goes into the run folder
    assert ganscope(["eval", "--checkpoint", str(run_dir), "--features", "mnist", "--n", "60",
                     "--device", "cpu"]) == 0
    assert (run_dir / "evals" / "eval_000000004_mnist.json").is_file()


@pytest.mark.parametrize("args,message", [
    (["--checkpoint", "/nonexistent/ckpt.safetensors"], "no such checkpoint"),
    (["--metrics", "fid,lpips"], "unknown metrics"),
    (["--features", "mnist", "--n", "5"], "at least 10"),
    (["--run", "no-such-run"], "no run folder"),
])
def test_cli_eval_bad_input_exits_2_with_a_message(run_dir, capsys, args, message):
    if "--checkpoint" not in args and "--run" not in args:
        args = ["--checkpoint", str(run_dir), *args]
    assert ganscope(["eval", "--device", "cpu", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_periodic_evaluation_emits_metrics_and_keeps_the_best_checkpoint(tmp_path):
    events = []
    config = mnist_config(every=2, n=100, metrics=["fid", "prdc"])
    Trainer(config, out_dir=tmp_path / "run", sinks=[events.append]).fit()
    evals = {e.step: e.values for e in events if isinstance(e, Metrics) and
             "fid_mnist" in e.values}
    assert sorted(evals) == [2, 4]
    assert all(v["eval_time"] > 0 and 0 <= v["coverage_mnist"] <= 1 for v in evals.values())
    # step 2 is the first (so best) FID: a checkpoint is saved there although checkpoint_every=4
    saved = [e.step for e in events if isinstance(e, CheckpointSaved)]
    assert 2 in saved and 4 in saved


def test_periodic_evaluation_is_off_by_default_and_validated():
    assert RunConfig().eval.every is None
    with pytest.raises(ConfigError, match="need image data"):
        RunConfig.from_dict({"eval": {"every": 10}})
    with pytest.raises(ConfigError, match="use 'inception'"):
        RunConfig.from_dict({"data": {"name": "cifar10"}, "model": {"arch": "dcgan"},
                             "eval": {"every": 10}})
