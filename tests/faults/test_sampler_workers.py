"""`jgnn train --loader neighbor --num-workers 1` when a sampler worker raises, hangs or dies.

Each run must stop with exit status 1 and a short message that names the failure and the
next step, within a bounded time, leave no worker process behind, and leave a metrics file
from an earlier run as it was (a failed run writes no metrics). The fault is planted in the
spawned worker only (``inject/sitecustomize.py``); the main process samples its budget
batches normally.
"""

import json
import multiprocessing
import os
import time

import pytest

from jgnn.cli import main
from jgnn.loader import Loader

HANG_TIMEOUT_S = 3.0  # the loader's per-batch timeout for the hang case (default 60 s)
ARGS = [
    "train",
    "--model",
    "sage",
    "--loader",
    "neighbor",
    "--num-neighbors",
    "5,5",
    "--batch-size",
    "64",
    "--num-workers",
    "1",
    "--epochs",
    "2",
    "--no-progress",
]


@pytest.fixture
def previous_metrics(tmp_path):
    path = tmp_path / "out" / "metrics.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"status": "ok", "test_accuracy": 0.81}) + "\n")
    return path


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()  # a zombie is dead
    except FileNotFoundError:
        return False


def _run_with_fault(plant_fault, kind, metrics, capsys):
    pids = plant_fault(kind)
    start = time.monotonic()
    code = main([*ARGS, "--metrics-json", str(metrics)])
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    workers = [int(p.read_text()) for p in pids.glob("*.pid")]
    return code, err, elapsed, workers


def _nothing_lost(metrics, workers):
    assert workers, "the fault was not planted in a worker"
    end = time.monotonic() + 10
    while (multiprocessing.active_children() or any(map(_alive, workers))) and (
        time.monotonic() < end
    ):
        time.sleep(0.1)
    assert not multiprocessing.active_children()
    assert not any(map(_alive, workers)), "a sampler worker outlived the run"
    assert json.loads(metrics.read_text()) == {"status": "ok", "test_accuracy": 0.81}
    assert os.listdir(metrics.parent) == [metrics.name], "a temporary file was left behind"


def test_worker_that_raises(plant_fault, previous_metrics, capsys):
    code, err, elapsed, workers = _run_with_fault(plant_fault, "raise", previous_metrics, capsys)
    assert code == 1
    assert "error: the sampler failed: KeyError: 'planted sampler failure at call 3'" in err
    assert "while loading epoch 0" in err and "--num-workers 0" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    _nothing_lost(previous_metrics, workers)


def test_worker_that_hangs_times_out(plant_fault, previous_metrics, capsys, monkeypatch):
    original = Loader.__init__

    def short_timeout(self, *args, **kwargs):
        original(self, *args, **{**kwargs, "timeout_s": HANG_TIMEOUT_S})

    monkeypatch.setattr(Loader, "__init__", short_timeout)
    code, err, elapsed, workers = _run_with_fault(plant_fault, "hang", previous_metrics, capsys)
    assert code == 1
    assert f"no batch arrived from the host pipeline within {HANG_TIMEOUT_S} s" in err
    assert "worker processes were killed" in err and "timeout_s" not in err
    assert elapsed < 120  # the worker sleeps for 600 s
    _nothing_lost(previous_metrics, workers)


def test_worker_that_is_killed(plant_fault, previous_metrics, capsys):
    code, err, elapsed, workers = _run_with_fault(plant_fault, "kill", previous_metrics, capsys)
    assert code == 1
    assert "sampler worker process died" in err and "exit code -9" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    _nothing_lost(previous_metrics, workers)
