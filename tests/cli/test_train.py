"""`jgnn train` end to end: metrics JSON, chance baseline, Cora accuracy of every recipe."""

import json
import os
import re
import statistics

import pytest

from jgnn.cli import main

METRIC_KEYS = {
    "test_accuracy",
    "val_accuracy",
    "epoch_time_ms",
    "compile_time_s",
    "peak_memory_bytes",
    "peak_memory_source",
}


def test_train_synthetic_writes_metrics(tmp_path, capsys):
    path = tmp_path / "out" / "metrics.json"
    assert main(["train", "--epochs", "60", "--no-progress", "--metrics-json", str(path)]) == 0
    metrics = json.loads(path.read_text())
    assert METRIC_KEYS <= metrics.keys()
    # 7 balanced classes: chance is ~14%; the CSBM default carries enough signal for far more.
    assert metrics["test_accuracy"] > 0.5
    assert metrics["epoch_time_ms"] > 0 and metrics["compile_time_s"] > 0
    assert metrics["peak_memory_bytes"] > 0
    assert "test_accuracy:" in capsys.readouterr().out
    assert not list(path.parent.glob(".metrics-*")), "temporary file left behind"


def test_train_missing_files_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "cache"))
    code = main(["train", "--dataset", "cora", "--data-dir", str(tmp_path), "--offline"])
    assert code == 2
    err = capsys.readouterr().err
    assert "ind.cora" in err and str(tmp_path) in err


@pytest.mark.skipif(not os.environ.get("JGNN_DATA"), reason="JGNN_DATA not set (Planetoid files)")
def test_gcn_cora_accuracy_over_five_seeds(tmp_path):
    """The issue's bar: mean test accuracy >= 80.0% over 5 seeds with the paper's settings."""
    accs = []
    for seed in range(5):
        path = tmp_path / f"m{seed}.json"
        args = ["train", "--dataset", "cora", "--offline", "--no-progress", "--seed", str(seed)]
        assert main([*args, "--metrics-json", str(path)]) == 0
        accs.append(json.loads(path.read_text())["test_accuracy"])
    assert statistics.mean(accs) >= 0.80, accs


# Lower bounds a few points under each paper's (or PyG example's) Cora figure, one seed: they
# catch a recipe that trains but badly (a wrong decay group cost APPNP 26 points once).
RECIPE_FLOORS = {"gat": 0.80, "appnp": 0.80, "sage": 0.77, "gin": 0.70}


@pytest.mark.skipif(not os.environ.get("JGNN_DATA"), reason="JGNN_DATA not set (Planetoid files)")
@pytest.mark.parametrize("model", sorted(RECIPE_FLOORS))
def test_recipe_reaches_its_cora_floor(tmp_path, model):
    path = tmp_path / "m.json"
    args = ["train", "--dataset", "cora", "--model", model, "--offline", "--no-progress"]
    assert main([*args, "--metrics-json", str(path)]) == 0
    accuracy = json.loads(path.read_text())["test_accuracy"]
    assert accuracy >= RECIPE_FLOORS[model], (model, accuracy)


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--loader", "neighbor", "--num-neighbors", "0,5"], "--num-neighbors must list one"),
        (["--loader", "neighbor", "--num-neighbors", "5"], "--num-neighbors 5 samples 1 hops"),
        (["--loader", "neighbor", "--num-neighbors", "a,b"], "argument --num-neighbors"),
        (["--loader", "neighbor", "--batch-size", "0"], "--batch-size must be >= 1, got 0"),
        (["--loader", "neighbor", "--num-parts", "8"], "--num-parts applies only with --loader"),
        (["--num-neighbors", "5,5"], "--num-neighbors applies only with --loader neighbor"),
        (["--loader", "cluster", "--parts-per-batch", "0"], "--parts-per-batch must be >= 1"),
        (
            ["--loader", "cluster", "--num-parts", "4", "--parts-per-batch", "5"],
            r"--parts-per-batch \(5\) exceeds --num-parts \(4\)",
        ),
        (["--loader", "saint-rw", "--walk-length", "0"], "--walk-length must be >= 1"),
        (["--loader", "saint-node", "--walk-length", "2"], "--walk-length applies only"),
        (["--loader", "saint-edge", "--sample-coverage", "-1"], "--sample-coverage must be"),
        (["--loader", "saint-edge", "--num-steps", "0"], "--num-steps must be >= 1"),
        (["--loader", "cluster", "--num-workers", "-2"], "--num-workers must be >= 0"),
        (["--loader", "cluster", "--trim"], "--trim applies only with --loader neighbor"),
        (["--eval-every", "3"], "--eval-every applies to the sampling loaders"),
        (["--loader", "neighbor", "--eval-every", "0"], "--eval-every must be >= 1"),
        (["--epochs", "0"], "--epochs must be >= 1"),
        (["--dropout", "1.0"], "--dropout must be < 1"),
        (["--loader", "mini"], "argument --loader: invalid choice"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(flags, match, capsys, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("validation must happen before any work")

    monkeypatch.setattr("jgnn.datasets.load", no_work)
    with pytest.raises(SystemExit) as info:
        main(["train", *flags])
    assert info.value.code == 2
    assert re.search(match, capsys.readouterr().err)


def test_train_with_a_sampler_writes_loader_metrics(tmp_path, capsys):
    path = tmp_path / "metrics.json"
    args = ["train", "--model", "sage", "--loader", "neighbor", "--num-neighbors", "5,5"]
    args += ["--batch-size", "32", "--epochs", "8", "--eval-every", "2", "--no-progress"]
    assert main([*args, "--metrics-json", str(path)]) == 0
    metrics = json.loads(path.read_text())
    assert metrics["loader"] == "neighbor" and metrics["sampler"]["num_neighbors"] == [5, 5]
    for key in ("batches_per_s", "sampled_edges_per_s", "node_waste", "edge_waste"):
        assert metrics[key] > 0, key
    assert metrics["skipped_batches"] >= 0 and metrics["loader_report"]["batches"] > 0
    assert metrics["test_accuracy"] > 0.4  # 7 classes: chance is ~14%
    out = capsys.readouterr().out
    assert "sampled_edges_per_s:" in out and "skipped_batches:" in out


def test_full_batch_is_the_default_loader(tmp_path):
    path = tmp_path / "m.json"
    assert main(["train", "--epochs", "3", "--no-progress", "--metrics-json", str(path)]) == 0
    metrics = json.loads(path.read_text())
    assert metrics["loader"] == "full" and "compile_time_s" in metrics
    assert "sampler" not in metrics and "node_waste" not in metrics
