"""`jgnn train --precision`, `--gas`, checkpoints of another configuration, and training that
diverges (a clear error, exit status 1, and a metrics JSON that says so in valid JSON)."""

import hashlib
import json

import pytest

from jgnn.cli import main

EPOCHS = ["--epochs", "30", "--no-progress"]


def _run(tmp_path, *flags, name="m.json"):
    path = tmp_path / name
    code = main(["train", *flags, "--metrics-json", str(path)])
    return code, (json.loads(path.read_text()) if path.exists() else None)


@pytest.fixture(scope="module")
def fp32(tmp_path_factory):
    code, metrics = _run(tmp_path_factory.mktemp("fp32"), *EPOCHS)
    assert code == 0 and metrics["precision_policy"]["matmul_precision"] == "highest"
    return metrics


@pytest.mark.parametrize(("precision", "dtype"), [("bf16", "bfloat16"), ("fp16", "float16")])
def test_low_precision_trains_like_fp32(precision, dtype, fp32, tmp_path):
    code, metrics = _run(tmp_path, *EPOCHS, "--precision", precision)
    assert code == 0 and metrics["precision_policy"]["compute_dtype"] == dtype
    assert metrics["precision_policy"]["param_dtype"] == "float32"
    # The same 30 epochs as fp32; low-precision compute moves a few predictions at most.
    assert abs(metrics["test_accuracy"] - fp32["test_accuracy"]) <= 0.03
    if precision == "fp16":  # dynamic loss scaling ran (and may have skipped a step)
        assert metrics["final_loss_scale"] > 1 and metrics["skipped_steps"] < 30


def test_gas_trains_and_evaluates_exactly(tmp_path, capsys):
    code, metrics = _run(tmp_path, "--gas", "--num-parts", "8", "--parts-per-batch", "2", *EPOCHS)
    assert code == 0
    assert metrics["loader"] == "gas" and metrics["num_parts"] == 8
    assert metrics["parts_per_batch"] == 2
    assert metrics["test_accuracy"] > 0.5  # 7 classes: chance is ~14%
    out = capsys.readouterr().out
    want = "  training: GNNAutoScale (METIS parts, historical embeddings) with num parts 8, parts "
    assert want + "per batch 2, precision fp32" in out
    assert "num_parts: 8" in out and "warmup_time_s:" in out


def _strict_json(path):
    def no_constants(name):
        raise AssertionError(f"bare {name} in the JSON")

    return json.loads(path.read_text(), parse_constant=no_constants)


@pytest.mark.parametrize("mode", [[], ["--gas"]])
def test_divergence_stops_with_a_clear_error(mode, tmp_path, capsys):
    path = tmp_path / "m.json"
    args = ["train", *mode, "--lr", "1e30", "--epochs", "20", "--no-progress"]
    code = main([*args, "--metrics-json", str(path)])
    out, err = capsys.readouterr()
    assert code == 1
    (line,) = [line for line in err.splitlines() if "error:" in line]
    assert "training diverged: the training loss became nan at epoch " in line
    assert "lower --lr (it was 1e+30)" in line
    metrics = _strict_json(path)
    assert metrics["status"] == "diverged" and metrics["test_accuracy"] is None
    assert metrics["error"] in line and metrics["dataset"] == "synthetic"
    if not mode:  # full-batch stops at once; the epoch of the message is diverged_epoch + 1
        assert f"at epoch {metrics['diverged_epoch'] + 1};" in line
        assert metrics["diverged_epoch"] < 19 and "test_accuracy:" not in out


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_checkpoint_of_another_configuration(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    flags = ["--epochs", "6", "--no-progress", "--checkpoint-dir", str(folder)]
    assert _run(tmp_path, *flags, "--checkpoint-every", "3")[0] == 0
    before = _digests(folder)
    capsys.readouterr()
    code, _ = _run(tmp_path, *flags, "--resume", "--lr", "0.02", name="b.json")
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"checkpoint directory {folder} (step 6) was written by a run with another" in err
    assert "lr: saved 0.01, now 0.02" in err and "another --checkpoint-dir" in err
    code, _ = _run(tmp_path, *flags[2:], "--resume", "--epochs", "4", name="c.json")
    assert code == 2 and "pass --epochs >= 6" in capsys.readouterr().err
    assert _digests(folder) == before
