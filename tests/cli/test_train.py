"""`jgnn train` end to end: header and results, metrics JSON, the full-batch path against
`train_recipe`, a sampled loader, and the Cora accuracy of every recipe (with $JGNN_DATA)."""

import json
import os
import re
import statistics

import pytest

from jgnn.cli import main
from jgnn.datasets import load
from jgnn.train import train_recipe

METRIC_KEYS = {
    "status",
    "dataset",
    "test_accuracy",
    "val_accuracy",
    "best_epoch",
    "epoch_time_ms",
    "compile_time_s",
    "peak_memory_bytes",
    "peak_memory_source",
    "precision",
}


def test_train_synthetic_prints_a_header_and_writes_metrics(tmp_path, capsys):
    path = tmp_path / "out" / "metrics.json"
    assert main(["train", "--epochs", "60", "--metrics-json", str(path)]) == 0
    metrics = json.loads(path.read_text())
    assert METRIC_KEYS <= metrics.keys()
    assert metrics["status"] == "ok" and metrics["dataset"] == "synthetic"
    # 7 balanced classes: chance is ~14%; the CSBM default carries enough signal for far more.
    assert metrics["test_accuracy"] > 0.5
    assert metrics["epoch_time_ms"] > 0 and metrics["compile_time_s"] > 0
    assert metrics["peak_memory_bytes"] > 0
    out, err = capsys.readouterr()
    header = out.splitlines()[:6]
    assert header[0].startswith("jgnn ") and header[0].endswith(" train")
    assert header[1].startswith("  dataset: synthetic (2,708 nodes, ")
    assert "  model: gcn (Kipf & Welling, ICLR 2017)" in header
    assert "  hyper-parameters: hidden 16, lr 0.01, weight decay 0.0005, dropout 0.5, " in out
    assert "  training: full-batch, precision fp32" in header
    assert any(line.startswith("  device: cpu") for line in header)
    best = metrics["best_epoch"] + 1
    acc = metrics["test_accuracy"]
    assert f"test_accuracy: {acc:.4f}  (at the best validation epoch, {best} of 60)" in out
    # the unit follows the size (MiB in a fresh process, GiB after a long pytest session)
    assert re.search(r"peak_memory: [0-9.]+ [MG]iB \(process peak RSS\)", out)
    # not a terminal: a progress line every 6 epochs, no carriage returns
    assert [line for line in out.splitlines() if line.startswith("epoch ")][-1].startswith(
        "epoch 60/60, loss "
    )
    assert sum(line.startswith("epoch ") for line in out.splitlines()) == 10
    assert "\r" not in out + err
    assert not list(path.parent.glob(".*")), "temporary file left behind"


def test_full_batch_equals_train_recipe(tmp_path):
    """The CLI trains full-batch with fit_full_graph (for precision and checkpoints); with the
    default fp32 policy it is train_recipe's run, bit for bit."""
    path = tmp_path / "m.json"
    assert main(["train", "--epochs", "12", "--no-progress", "--metrics-json", str(path)]) == 0
    got = json.loads(path.read_text())
    data = load("synthetic", seed=0)
    want = train_recipe("gcn", data, data.graph.nodes, epochs=12).metrics
    for key in ("test_accuracy", "val_accuracy", "best_epoch", "final_train_loss"):
        assert got[key] == want[key], key


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
    want = "  training: neighbor with num neighbors 5,5, batch size 32, num workers 0, precision"
    assert want in out
    assert "sampled_edges_per_s:" in out and "skipped_batches:" in out


def test_full_batch_is_the_default_loader(tmp_path):
    path = tmp_path / "m.json"
    assert main(["train", "--epochs", "3", "--no-progress", "--metrics-json", str(path)]) == 0
    metrics = json.loads(path.read_text())
    assert metrics["loader"] == "full" and "compile_time_s" in metrics
    assert "sampler" not in metrics and "node_waste" not in metrics


@pytest.mark.skipif(not os.environ.get("JGNN_DATA"), reason="JGNN_DATA not set (Planetoid files)")
def test_gcn_cora_accuracy_over_five_seeds(tmp_path):
    """The issue's bar: mean test accuracy >= 80.0% over 5 seeds with the paper's settings."""
    accs = []
    for seed in range(5):
        path = tmp_path / f"m{seed}.json"
        args = ["train", "--dataset", "cora", "--offline", "--no-progress", "--seed", str(seed)]
        assert main([*args, "--metrics-json", str(path)]) == 0
        metrics = json.loads(path.read_text())
        assert metrics["dataset"] == "cora"
        accs.append(metrics["test_accuracy"])
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
