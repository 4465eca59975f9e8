"""examples/neighbor_sampling.py on a small synthetic graph."""

import math


def test_neighbor_sampling_trains_and_resumes(run_example, tmp_path):
    args = ("--nodes", 400, "--batch-size", 16, "--fanouts", 5, 3)
    straight = run_example("neighbor_sampling.py", *args, "--epochs", 3)
    run_example("neighbor_sampling.py", *args, "--epochs", 1, "--checkpoint", tmp_path)
    resumed = run_example(
        "neighbor_sampling.py", *args, "--epochs", 3, "--checkpoint", tmp_path, "--resume"
    )
    assert [r["epoch"] for r in straight[:-1]] == [0, 1, 2]
    assert [r["epoch"] for r in resumed[:-1]] == [1, 2]
    assert straight[1:3] == resumed[:2]  # epochs 1 and 2, the same numbers
    assert math.isfinite(straight[-1]["loss"]) and straight[-1]["loss"] < straight[0]["loss"]
