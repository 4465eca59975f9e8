"""`jgnn train` end to end: metrics JSON, chance baseline, Cora accuracy of every recipe."""

import json
import os
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
