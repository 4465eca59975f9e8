"""`jgnn profile` and its measurements: timing arithmetic, memory window, isolation, the
jgnn rows against fit_full_graph and the jitted step, the command end to end, PyG rows."""

import json
import math
import re

import jax
import numpy as np
import pytest
from flax import nnx

from jgnn.cli import main
from jgnn.cli._profile import row_worker
from jgnn.models import GCN
from jgnn.train import adam_l2, fit_full_graph

# TODO(lead): the public names once jgnn.train exports them.
from jgnn.train._measure import compile_clock, measure_training, memory_window, run_isolated
from jgnn.train._profile import ProfileSettings, load_profile_dataset, profile_training

SMALL = dict(hidden=16, batch_size=32, full_epochs=30, sampled_epochs=2, uncompiled_steps=3)


@pytest.fixture(scope="module")
def small_graph():
    return load_profile_dataset("synthetic", nodes=600, seed=0)


def _strict_json(text):
    def no_constant(name):
        raise AssertionError(f"{name} in the JSON")

    return json.loads(text, parse_constant=no_constant)


# ------------------------------------------------------------------------------ measurement


class _FakeTime:
    """A perf_counter that only moves when a fake step says so."""

    def __init__(self):
        self.now, self.compiled = 100.0, 0.0

    def perf_counter(self):
        return self.now


def _fake_loop(monkeypatch, walls, compiles):
    """run_step advancing the fake clocks by the next (wall, compile) pair."""
    import jgnn.train._measure as measure

    fake = _FakeTime()
    monkeypatch.setattr(measure, "time", fake)
    pairs = iter(zip(walls, compiles, strict=True))

    def run_step(batch):
        wall, comp = next(pairs)
        fake.now += wall
        fake.compiled += comp
        return float(batch)

    return fake, run_step


def test_measure_training_epochs_take_compilation_out(monkeypatch):
    walls = [5.0, 1.0, 2.0, 0.5, 3.0, 1.0]  # 3 epochs of 2 steps
    compiles = [4.0, 0.0, 1.5, 0.0, 0.0, 0.0]  # epoch 0 compiles, and one step of epoch 1
    fake, run_step = _fake_loop(monkeypatch, walls, compiles)
    row = measure_training(
        run_step,
        lambda epoch: [10 * epoch, 10 * epoch + 1],
        steps_per_epoch=2,
        epochs=3,
        compile_clock=lambda: fake.compiled,
    )
    net = [w - c for w, c in zip(walls, compiles, strict=True)]
    assert row["epoch_time_ms"] == pytest.approx(
        1e3 * np.median([net[2] + net[3], net[4] + net[5]])
    )
    assert row["step_time_ms"] == pytest.approx(1e3 * np.median(net[2:]))
    assert row["first_epoch_s"] == pytest.approx(walls[0] + walls[1])  # whole, compile included
    assert row["compile_s"] == pytest.approx(sum(compiles))
    assert row["losses"] == [0.0, 1.0, 10.0, 11.0, 20.0]  # the first 5 steps' losses
    assert (row["measured_steps"], row["epochs"], row["epoch_time_extrapolated"]) == (6, 3, False)


def test_measure_training_steps_extrapolate_across_epochs(monkeypatch):
    walls, compiles = [9.0, 2.0, 4.0, 3.0], [8.0, 0.0, 0.0, 0.0]
    fake, run_step = _fake_loop(monkeypatch, walls, compiles)
    # One batch per epoch (full-batch): 4 steps span 4 epochs; an epoch of 50 steps.
    row = measure_training(run_step, lambda epoch: [epoch], steps_per_epoch=50, steps=4)
    assert row["step_time_ms"] == pytest.approx(1e3 * np.median(walls[1:]))  # no clock: raw
    assert row["epoch_time_ms"] == pytest.approx(50 * row["step_time_ms"])
    assert row["epoch_time_extrapolated"] and row["epochs"] is None and row["compile_s"] is None
    assert (row["first_step_s"], row["measured_steps"], row["losses"]) == (9.0, 4, [0, 1, 2, 3])


def test_measure_training_rejects_bad_arguments():
    with pytest.raises(ValueError, match="exactly one of `epochs` and `steps`"):
        measure_training(lambda b: 0.0, lambda e: [1], steps_per_epoch=1, epochs=2, steps=2)
    with pytest.raises(ValueError, match=">= 2"):
        measure_training(lambda b: 0.0, lambda e: [1], steps_per_epoch=1, steps=1)
    with pytest.raises(ValueError, match="epoch 1 of `batches` yielded no batch"):
        measure_training(
            lambda b: 0.0, lambda e: [1] if e == 0 else [], steps_per_epoch=1, epochs=2
        )


def test_memory_window_sees_an_allocation_of_known_size():
    size = 256 * 2**20
    with memory_window() as memory:
        block = np.ones(size // 8)  # written, so resident
        del block
    if memory["peak_memory_source"] != "process_rss_growth":
        pytest.skip(f"no resettable resident high-water mark here ({memory['peak_memory_source']})")
    assert size * 0.95 <= memory["peak_memory_bytes"] <= size + 96 * 2**20
    assert memory["peak_rss_bytes"] >= memory["peak_memory_bytes"]


def test_compile_clock_counts_compilations_while_open():
    with compile_clock() as clock:
        assert clock() == 0.0
        jax.jit(lambda v: v * 3 + 1)(np.arange(7.0, dtype=np.float32)).block_until_ready()
        inside = clock()
    jax.jit(lambda v: v * 5 - 2)(np.arange(9.0, dtype=np.float32)).block_until_ready()
    assert inside > 0.0 and clock() == inside  # the listener is gone after the block


def test_run_isolated_reports_the_childs_error():
    result = run_isolated("json:loads", {"not": "a string"}, timeout_s=120)
    assert re.match(r"exit status 1: TypeError: the JSON object must be str", result["error"])


# ---------------------------------------------------------------------------- the jgnn rows


@pytest.fixture(scope="module")
def full_jit(small_graph):
    return profile_training(*small_graph, "full", settings=ProfileSettings(**SMALL))


@pytest.fixture(scope="module")
def sampled_jit(small_graph):
    return profile_training(*small_graph, "sampled", settings=ProfileSettings(**SMALL))


def test_compiled_full_row_is_fit_full_graph(small_graph, full_jit):
    """The profiled run is the library's training run: same losses, same accuracy."""
    data, x = small_graph
    model = GCN(x.shape[1], 16, data.num_classes, num_layers=2, dropout=0.5, rngs=nnx.Rngs(0))
    edges = np.stack([data.graph.senders, data.graph.receivers]).astype(np.int32)
    masks = (data.train_mask, data.val_mask, data.test_mask)
    epochs = SMALL["full_epochs"]
    oracle = fit_full_graph(
        model, edges, x, data.labels, *masks, tx=adam_l2(0.01, 5e-4), epochs=epochs
    ).history
    assert full_jit["losses"] == [r["loss"] for r in oracle[:5]]
    assert full_jit["test_accuracy"] == oracle[-1]["test_accuracy"]
    assert (full_jit["execution"], full_jit["steps_per_epoch"]) == ("jit", 1)
    assert full_jit["measured_steps"] == epochs


def test_uncompiled_steps_compute_the_jitted_steps(small_graph, sampled_jit):
    data, x = small_graph
    eager = profile_training(data, x, "sampled", compiled=False, settings=ProfileSettings(**SMALL))
    np.testing.assert_allclose(eager["losses"], sampled_jit["losses"][:3], rtol=1e-5)
    per_epoch = math.ceil(data.train_mask.sum() / SMALL["batch_size"])
    assert sampled_jit["steps_per_epoch"] == eager["steps_per_epoch"] == per_epoch
    assert sampled_jit["measured_steps"] == SMALL["sampled_epochs"] * per_epoch
    assert eager["measured_steps"] == SMALL["uncompiled_steps"]
    assert eager["epoch_time_ms"] == pytest.approx(eager["step_time_ms"] * per_epoch)
    assert eager["epoch_time_extrapolated"] and eager["test_accuracy"] is None
    assert eager["execution"] == "disable_jit"


def test_bf16_row_tracks_the_fp32_row(small_graph, sampled_jit):
    bf16 = profile_training(*small_graph, "sampled-bf16", settings=ProfileSettings(**SMALL))
    assert (sampled_jit["precision"], bf16["precision"]) == ("fp32", "bf16")
    # Same batches and dropout masks; bf16 rounds activations (8 mantissa bits).
    np.testing.assert_allclose(bf16["losses"], sampled_jit["losses"], rtol=2e-2)
    assert bf16["losses"] != sampled_jit["losses"]


@pytest.mark.peers
def test_pyg_row_trains_the_same_model(small_graph, full_jit):
    pytest.importorskip("torch_geometric")
    spec = {
        "dataset": {"name": "synthetic", "nodes": 600, "seed": 0},
        "config": "full",
        "framework": "pyg",
        "compiled": False,
        "settings": SMALL,
        "threads": 1,
    }
    row = row_worker(spec)  # what a PyG row's process runs
    assert (row["framework"], row["execution"], row["torch_threads"]) == ("pyg", "eager", 1)
    assert row["measured_steps"] == SMALL["full_epochs"] and row["peak_memory_bytes"] >= 0
    # Same model, data and optimizer from other initial weights: the untrained loss is about
    # ln(classes) on both sides, and both reach the same accuracy on this easy graph.
    for losses in (row["losses"], full_jit["losses"]):
        assert losses[0] == pytest.approx(math.log(10), rel=0.1)
    assert abs(row["test_accuracy"] - full_jit["test_accuracy"]) < 0.05


# ------------------------------------------------------------------------------- the command


@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--hidden", "0"], "--hidden must be an integer >= 1, got 0"),
        (["--full-epochs", "1"], "--full-epochs must be an integer >= 2, got 1"),
        (["--sampled-epochs", "-3"], "--sampled-epochs must be an integer >= 2"),
        (["--uncompiled-steps", "1"], "--uncompiled-steps must be 0 .* or >= 2, got 1"),
        (["--fanouts", "5"], r"--fanouts must give 2 positive fanouts .* got \[5\]"),
        (["--fanouts", "a,b"], "argument --fanouts"),
        (["--batch-size", "0"], "--batch-size must be an integer >= 1"),
        (["--dropout", "1"], r"--dropout must be in \[0, 1\), got 1.0"),
        (["--lr", "nan"], "--lr must be finite and > 0, got nan"),
        (["--weight-decay", "-1"], "--weight-decay must be finite and >= 0"),
        (["--nodes", "10"], "--nodes must be >= 100, got 10"),
        (["--timeout-s", "0"], "--timeout-s must be finite and > 0"),
        (["--torch-threads", "0"], "--torch-threads must be >= 1, got 0"),
        (["--configs", "full,fast"], "argument --configs: expected a comma-separated subset"),
        (["--datasets", "pubmed"], "argument --datasets"),
        (["--model", "gat"], "argument --model: invalid choice"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(flags, match, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["profile", "--out-dir", str(tmp_path), *flags])
    assert info.value.code == 2
    assert re.search(match, capsys.readouterr().err)


def test_out_dir_that_is_a_file_and_peers_yes_without_torch(tmp_path, capsys, monkeypatch):
    path = tmp_path / "file"
    path.write_text("")
    with pytest.raises(SystemExit) as info:
        main(["profile", "--out-dir", str(path)])
    assert info.value.code == 2 and "--out-dir" in capsys.readouterr().err
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(SystemExit) as info:
        main(["profile", "--out-dir", str(tmp_path), "--peers", "yes"])
    assert info.value.code == 2 and "--peers yes needs torch" in capsys.readouterr().err


def test_missing_cora_alone_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "cache"))
    flags = ["--datasets", "cora", "--data-dir", str(tmp_path), "--out-dir", str(tmp_path)]
    assert main(["profile", *flags]) == 2
    assert "ind.cora" in capsys.readouterr().err
    assert not (tmp_path / "profile.json").exists()


def test_profile_end_to_end_skips_missing_cora(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    flags = ["--data-dir", str(tmp_path), "--nodes", "600", "--configs", "sampled"]
    flags += ["--hidden", "16", "--batch-size", "32", "--sampled-epochs", "2"]
    flags += ["--uncompiled-steps", "0", "--peers", "no", "--out-dir", str(out)]
    assert main(["profile", *flags]) == 0
    captured = capsys.readouterr()
    assert "skipping cora" in captured.err
    report = _strict_json((out / "profile.json").read_text())
    assert [s["dataset"] for s in report["skipped"]] == ["cora"]
    data, _ = load_profile_dataset("synthetic", nodes=600)
    assert report["datasets"][0]["train_nodes"] == int(data.train_mask.sum())
    (row,) = report["rows"]
    assert (row["dataset"], row["config"], row["framework"], row["execution"]) == (
        "synthetic-600", "sampled", "jgnn", "jit",
    )  # fmt: skip
    assert row["steps_per_epoch"] == math.ceil(data.train_mask.sum() / 32)
    assert row["measured_steps"] == 2 * row["steps_per_epoch"] and row["epochs"] == 2
    assert row["peak_memory_bytes"] > 0 and 0.0 <= row["test_accuracy"] <= 1.0
    assert report["environment"]["command"].startswith("jgnn profile --datasets cora,synthetic")
    assert "| synthetic-600 | sampled | jgnn | jit |" in captured.out
    png = out / "profile.png"
    assert report["chart"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = pytest.importorskip("matplotlib.image").imread(png)
    assert image.shape[0] > 300 and len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 8
    assert not list(out.glob(".*")), "temporary file left behind"
