"""`jgnn train --checkpoint-dir D --resume` after a save was killed, truncated or failed.

A resumed run must restore the last *complete* checkpoint (never a half-written one) and end
exactly where an uninterrupted run ends, or stop with a short error that names the folder and
the fix and leaves the folder as it was. Saves are killed for real (SIGKILL in a ``jgnn train``
subprocess, planted by ``inject/sitecustomize.py``) before orbax's commit and between the
commit and jgnn's digest; other damage is made by hand.
"""

import errno
import hashlib
import json
import os
import subprocess
import sys

import jax
import orbax.checkpoint as ocp
import pytest
from faults.conftest import INJECT

from jgnn.cli import main

EPOCHS = 6
RUN = ["train", "--epochs", str(EPOCHS), "--no-progress"]
COMPARED = ("test_accuracy", "val_accuracy", "best_epoch", "final_train_loss")
# tests/conftest.py's settings, for the subprocess whose epochs a resumed run continues: the
# number of CPU devices changes how XLA splits a reduction, hence the last bits of a loss.
SAME_JAX_CONFIG = {
    "JAX_NUM_CPU_DEVICES": str(jax.device_count()),
    "JAX_NUMPY_DTYPE_PROMOTION": jax.config.jax_numpy_dtype_promotion,
    "JAX_DEFAULT_MATMUL_PRECISION": str(jax.config.jax_default_matmul_precision),
}


def _train(tmp_path, *flags, name="m.json"):
    path = tmp_path / name
    code = main([*RUN, *flags, "--metrics-json", str(path)])
    return code, (json.loads(path.read_text()) if path.exists() else None)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    code, metrics = _train(tmp_path_factory.mktemp("reference"))
    assert code == 0
    return {k: metrics[k] for k in COMPARED}


def _killed_run(tmp_path, fault, at):
    """``jgnn train`` saving every 2 epochs, SIGKILLed by ``fault`` during save ``at``."""
    folder = tmp_path / "ckpt"
    env = dict(os.environ, JGNN_FAULT=fault, JGNN_FAULT_AT=str(at), **SAME_JAX_CONFIG)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(INJECT), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-c", "import sys; from jgnn.cli import main; sys.exit(main())"]
    cmd += [*RUN, "--checkpoint-dir", str(folder), "--checkpoint-every", "2"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == -9, done.stderr  # killed, not failed
    return folder


def _resume(tmp_path, folder):
    flags = ("--checkpoint-dir", str(folder), "--checkpoint-every", "2", "--resume")
    return _train(tmp_path, *flags, name="resumed.json")


def _digests(folder):
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_save_killed_before_commit(tmp_path, uninterrupted, capsys):
    folder = _killed_run(tmp_path, "kill-commit", at=2)
    assert sorted(p.name for p in folder.iterdir()) == ["2", "4.orbax-checkpoint-tmp"]
    code, metrics = _resume(tmp_path, folder)
    assert code == 0 and metrics["resumed_from"] == 2
    assert {k: metrics[k] for k in COMPARED} == uninterrupted
    assert sorted(p.name for p in folder.iterdir()) == ["2", "4", "6"]  # temp dir cleaned


def test_save_killed_before_digest(tmp_path, uninterrupted, capsys):
    folder = _killed_run(tmp_path, "kill-digest", at=2)
    assert sorted(p.name for p in folder.iterdir()) == ["2", "4"]
    assert not (folder / "4" / "jgnn_digest.json").exists()
    capsys.readouterr()
    code, metrics = _resume(tmp_path, folder)
    err = capsys.readouterr().err
    assert code == 0 and metrics["resumed_from"] == 2, err
    assert "skipped newer checkpoints (step 4: incomplete" in err
    assert "replacing step 4" in err
    assert {k: metrics[k] for k in COMPARED} == uninterrupted
    assert (folder / "4" / "jgnn_digest.json").exists()


def test_truncated_file_in_newest_checkpoint(tmp_path, uninterrupted, capsys):
    folder = tmp_path / "ckpt"
    code, _ = _train(tmp_path, "--checkpoint-dir", str(folder), "--checkpoint-every", "2")
    assert code == 0 and sorted(p.name for p in folder.iterdir()) == ["2", "4", "6"]
    victim = max((p for p in (folder / "6").rglob("*") if p.is_file()), key=os.path.getsize)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    capsys.readouterr()
    code, metrics = _resume(tmp_path, folder)
    assert code == 0 and metrics["resumed_from"] == 4
    assert "step 6: corrupt" in capsys.readouterr().err
    assert {k: metrics[k] for k in COMPARED} == uninterrupted


def test_no_complete_checkpoint_is_a_clear_error(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    assert _train(tmp_path, "--checkpoint-dir", str(folder), "--checkpoint-every", "3")[0] == 0
    for step in ("3", "6"):
        (folder / step / "jgnn_digest.json").unlink()  # as if both saves were cut short
    before = _digests(folder)
    capsys.readouterr()
    code, metrics = _resume(tmp_path, tmp_path / "ckpt")
    out, err = capsys.readouterr()
    assert code == 2 and metrics is None
    assert f"error: checkpoint directory {folder} holds no complete checkpoint" in err
    assert "delete it or start a new run without --resume" in err and "Traceback" not in err
    assert "test_accuracy" not in out  # nothing was trained from a half-written step
    assert _digests(folder) == before


def test_disk_full_during_a_save(tmp_path, uninterrupted, monkeypatch, capsys):
    folder = tmp_path / "ckpt"
    original, calls = ocp.CheckpointManager.save, []

    def full_disk(self, step, *args, **kwargs):
        calls.append(step)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", full_disk)
    code, metrics = _train(tmp_path, "--checkpoint-dir", str(folder), "--checkpoint-every", "2")
    err = capsys.readouterr().err
    assert code == 1 and metrics is None
    assert f"could not write step 4 to checkpoint directory {folder}" in err
    assert "No space left on device" in err and "Traceback" not in err
    monkeypatch.setattr(ocp.CheckpointManager, "save", original)  # space freed
    code, metrics = _resume(tmp_path, folder)
    assert code == 0 and metrics["resumed_from"] == 2  # the step before the failure is intact
    assert {k: metrics[k] for k in COMPARED} == uninterrupted
