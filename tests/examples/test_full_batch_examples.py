"""examples/full_batch.py and gnnautoscale.py on a small synthetic graph."""


def test_full_batch_resume_equals_an_uninterrupted_run(run_example, tmp_path):
    (straight,) = run_example("full_batch.py", "--nodes", 400, "--epochs", 16)
    run_example("full_batch.py", "--nodes", 400, "--epochs", 6, "--checkpoint", tmp_path)
    (resumed,) = run_example(
        "full_batch.py", "--nodes", 400, "--epochs", 16, "--checkpoint", tmp_path, "--resume"
    )
    assert resumed["resumed_from"] == 6 and straight["resumed_from"] == 0
    for key in ("test_accuracy", "best_epoch", "final_train_loss"):
        assert resumed[key] == straight[key], key  # bit for bit
    assert straight["test_accuracy"] > 0.5  # 7 classes: chance is about 0.14


def test_full_batch_bf16(run_example):
    (out,) = run_example("full_batch.py", "--nodes", 400, "--epochs", 16, "--precision", "bf16")
    assert out["precision"] == "bf16" and out["test_accuracy"] > 0.5


def test_gnnautoscale(run_example, tmp_path):
    (out,) = run_example(
        "gnnautoscale.py",
        "--nodes",
        400,
        "--epochs",
        8,
        "--parts",
        8,
        "--parts-per-batch",
        2,
        "--cache-dir",
        tmp_path,
    )
    assert out["test_accuracy"] > 0.5
