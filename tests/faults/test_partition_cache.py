"""`jgnn train --loader cluster` with a METIS partition cache that is truncated or was written
for another graph: the run says so in one warning line, rebuilds the partition (the same
one: METIS is seeded) and trains exactly as with a sound cache; the rebuilt cache is then
read without complaint."""

import json
import shutil

import pytest

from jgnn.cli import main

ARGS = ["train", "--loader", "cluster", "--num-parts", "8", "--epochs", "2", "--no-progress"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "metis"


def _train(path, *flags):
    assert main([*ARGS, *flags, "--metrics-json", str(path)]) == 0
    metrics = json.loads(path.read_text())
    return {k: metrics[k] for k in ("test_accuracy", "val_accuracy", "final_train_loss")}


def _cache_warnings(err):
    return [line for line in err.splitlines() if "partition cache" in line]


@pytest.mark.parametrize("damage", ["truncated", "another_graph"])
def test_damaged_partition_cache_is_rebuilt(damage, cache, tmp_path, capsys):
    sound = _train(tmp_path / "a.json")
    (cached,) = cache.glob("metis-*.npz")
    if damage == "truncated":
        cached.write_bytes(cached.read_bytes()[: cached.stat().st_size // 2])
    else:  # the same file name, the partition of another graph (another synthetic seed)
        _train(tmp_path / "o.json", "--seed", "1")
        (foreign,) = set(cache.glob("metis-*.npz")) - {cache / cached.name}
        shutil.copy(foreign, cached)
        foreign.unlink()
    capsys.readouterr()
    assert _train(tmp_path / "b.json") == sound
    (warning,) = _cache_warnings(capsys.readouterr().err)
    want = "unreadable" if damage == "truncated" else "written for another graph"
    assert warning.startswith("jgnn train: warning: ClusterData: the partition cache file")
    assert want in warning and warning.endswith("rebuilding it.")
    assert _train(tmp_path / "c.json") == sound
    assert not _cache_warnings(capsys.readouterr().err)  # the rebuilt file is sound
