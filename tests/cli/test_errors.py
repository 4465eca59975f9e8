"""Errors met while `jgnn` runs: expected ones in a line or two, in flags, with the next step
and the right exit status; bugs keep their traceback; `--debug` shows one for every error."""

import os
import shutil
import warnings

import jax.numpy as jnp
import pytest

from jgnn.cli import main
from jgnn.cli._errors import Diverged, UsageError, describe_error, speak_flags
from jgnn.datasets import DatasetNotFoundError
from jgnn.train import CheckpointError, SamplerConfig

DATA = os.environ.get("JGNN_DATA")
API_WORDS = ("root argument", "root=", "download=", "verify=", "without resuming")


def _error_lines(err):
    return [line for line in err.splitlines() if line.startswith("jgnn train: error: ")]


@pytest.fixture
def cora_copy(tmp_path, monkeypatch):
    """A folder with a copy of Cora's raw files (``$JGNN_DATA`` unset, an empty cache)."""
    if not DATA:
        pytest.skip("JGNN_DATA not set (Planetoid files)")
    monkeypatch.delenv("JGNN_DATA")
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "data"
    folder.mkdir()
    for path in (os.path.join(DATA, "planetoid", f"ind.cora.{e}") for e in _CORA):
        shutil.copy(path, folder)
    return folder


_CORA = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


@pytest.mark.parametrize(
    ("damage", "extra", "want"),
    [
        ("truncate", [], "ind.cora.x is corrupt or modified"),
        ("random", [], "ind.cora.graph is corrupt or modified"),
        ("empty", [], "ind.cora.allx is corrupt or modified"),
        ("truncate", ["--no-verify"], "ind.cora.x: not a valid Planetoid pickle"),
    ],
)
def test_damaged_planetoid_files(damage, extra, want, cora_copy, capsys):
    name = {"truncate": "ind.cora.x", "random": "ind.cora.graph", "empty": "ind.cora.allx"}
    path = cora_copy / name[damage]
    data = {"truncate": path.read_bytes()[:100], "random": os.urandom(2000), "empty": b""}
    path.write_bytes(data[damage])
    code = main(["train", "--dataset", "cora", "--data-dir", str(cora_copy), "--offline", *extra])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    (line,) = _error_lines(err)
    assert want in line and str(path) in line
    if not extra:  # the fix, in flags
        assert "run with --no-verify" in line and "a run without --offline" in line
    assert not any(word in err for word in API_WORDS)


def test_dataset_missing_from_a_folder_holding_others(cora_copy, capsys):
    code = main(["train", "--dataset", "pubmed", "--data-dir", str(cora_copy), "--offline"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert (
        f"--data-dir: {cora_copy} (none of the 8 files is there; it holds ind.* files of cora)"
        in err
    )
    assert "Downloading is disabled (--offline)" in err and "run without --offline" in err
    assert not any(word in err for word in API_WORDS)


def test_missing_files_name_the_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "cache"))
    code = main(["train", "--dataset", "cora", "--data-dir", str(tmp_path), "--offline"])
    err = capsys.readouterr().err
    assert code == 2 and "ind.cora" in err and f"--data-dir: {tmp_path}" in err
    assert not any(word in err for word in API_WORDS)


def test_speak_flags_rewrites_api_words():
    text = (
        "Downloading is disabled (download=False): set $JGNN_DATA or pass root= to a folder "
        "holding the files, or call with download=True. `num_parts` (9) exceeds `foo`."
    )
    assert speak_flags(text, ["num_parts"]) == (
        "Downloading is disabled (--offline): set $JGNN_DATA or pass --data-dir with a folder "
        "holding the files, or run without --offline. --num-parts (9) exceeds `foo`."
    )


def test_describe_error_sorts_expected_errors_from_bugs():
    assert describe_error(UsageError("--x bad")) == (2, "--x bad")
    assert describe_error(Diverged("diverged", 3)) == (1, "diverged")
    assert describe_error(DatasetNotFoundError("no ind.cora.x in root argument")) == (
        2,
        "no ind.cora.x in --data-dir",
    )
    assert describe_error(CheckpointError("could not write step 4 to d: full"))[0] == 1
    assert describe_error(CheckpointError("d holds no complete checkpoint"))[0] == 2
    try:
        SamplerConfig("cluster", num_parts=4, parts_per_batch=5)  # jgnn's own check
    except ValueError as err:
        assert describe_error(err, ["num_parts", "parts_per_batch"]) == (
            2,
            "--parts-per-batch (5) exceeds --num-parts (4).",
        )
    try:
        jnp.ones(4).reshape(3)  # a ValueError raised inside JAX: a bug, not an input
    except (TypeError, ValueError) as err:
        assert describe_error(err) is None
    assert describe_error(ZeroDivisionError("bug")) is None


def test_a_bug_keeps_its_traceback(monkeypatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("a real bug")

    monkeypatch.setattr("jgnn.datasets.load", bug)
    with pytest.raises(ZeroDivisionError, match="a real bug"):
        main(["train", "--epochs", "1"])


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback_of_expected_errors(where, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "cache"))
    args = ["train", "--dataset", "cora", "--data-dir", str(tmp_path), "--offline"]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "DatasetNotFoundError" in err
    assert _error_lines(err)


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    out = capsys.readouterr().out
    assert info.value.code == 0
    import jax

    import jgnn

    assert out.startswith(f"jgnn {jgnn.__version__} (jax {jax.__version__}, Python ")


def test_warnings_are_one_line(monkeypatch, capsys):
    def warn_then_fail(*args, **kwargs):
        warnings.warn("the cache file x is corrupt; rebuilding it.", RuntimeWarning, stacklevel=1)
        raise DatasetNotFoundError("stop here")

    monkeypatch.setattr("jgnn.datasets.load", warn_then_fail)
    assert main(["train"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "jgnn train: warning: the cache file x is corrupt; rebuilding it.",
        "jgnn train: error: stop here",
    ]
