"""Output files under faults: a disk that fills up while the metrics are written, and folders
that refuse files. A failed write leaves no temporary file and the previous file as it was;
an unwritable path is refused before any training."""

import errno
import json
import os

import pytest

from jgnn.cli import main

PREVIOUS = {"status": "ok", "test_accuracy": 0.8}


@pytest.fixture
def previous(tmp_path):
    path = tmp_path / "out" / "metrics.json"
    path.parent.mkdir()
    path.write_text(json.dumps(PREVIOUS))
    return path


def test_disk_full_while_writing_metrics(previous, monkeypatch, capsys):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)  # where a full disk shows up for a small file
    code = main(["train", "--epochs", "3", "--no-progress", "--metrics-json", str(previous)])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"error: could not write --metrics-json {previous} (No space left on device)" in err
    assert "free some space" in err and "Traceback" not in err
    assert "test_accuracy:" in out  # the results were printed before the write failed
    assert json.loads(previous.read_text()) == PREVIOUS
    assert os.listdir(previous.parent) == ["metrics.json"]


@pytest.mark.parametrize("target", ["readonly", "under_file", "directory"])
def test_unwritable_metrics_path_is_refused_before_training(
    target, readonly_dir, previous, monkeypatch, capsys
):
    def no_work(*args, **kwargs):
        raise AssertionError("the path must be checked before any work")

    monkeypatch.setattr("jgnn.datasets.load", no_work)
    path = {
        "readonly": readonly_dir / "m.json",
        "under_file": previous / "m.json",
        "directory": previous.parent,
    }[target]
    with pytest.raises(SystemExit) as info:
        main(["train", "--metrics-json", str(path)])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"--metrics-json {path}" in err
    want = {
        "readonly": "cannot create files in",
        "under_file": f"{previous} is a file, not a folder",
        "directory": "is a directory; give a file name",
    }[target]
    assert want in err
    assert json.loads(previous.read_text()) == PREVIOUS


def test_readonly_checkpoint_dir_is_refused_before_training(readonly_dir, monkeypatch, capsys):
    monkeypatch.setattr("jgnn.datasets.load", lambda *a, **k: pytest.fail("work was done"))
    with pytest.raises(SystemExit) as info:
        main(["train", "--checkpoint-dir", str(readonly_dir / "ckpt")])
    assert info.value.code == 2
    assert f"--checkpoint-dir {readonly_dir / 'ckpt'}: cannot create files" in (
        capsys.readouterr().err
    )
