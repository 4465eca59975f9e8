"""Tests for the Planetoid loader: statistics, PyG parity, lookup order, download and errors."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from jgnn.datasets import (
    PLANETOID_SHA256,
    ChecksumError,
    DatasetError,
    DatasetFormatError,
    DatasetNotFoundError,
    PickleFormatError,
    load_planetoid,
    read_planetoid,
    safe_load,
    sha256_file,
)

_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")

# Published statistics (Kipf & Welling 2017, Table 1; PyG's dataset cheatsheet) plus the class
# counts, feature non-zeros and isolated nodes that PyG reports for the same files.
_STATS = {
    "cora": dict(
        name="Cora",
        nodes=2708,
        edges=10556,
        features=1433,
        classes=7,
        split=(140, 500, 1000),
        class_counts=[351, 217, 418, 818, 426, 298, 180],
        nnz=49216,
        isolated=0,
    ),
    "citeseer": dict(
        name="CiteSeer",
        nodes=3327,
        edges=9104,
        features=3703,
        classes=6,
        split=(120, 500, 1000),
        class_counts=[264, 590, 668, 701, 596, 508],
        nnz=105165,
        isolated=48,
    ),
}


def _copy_raw(src: Path, dest: Path, name: str, rename: str | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for suffix in _SUFFIXES:
        shutil.copy(src / f"ind.{name}.{suffix}", dest / f"ind.{rename or name}.{suffix}")
    return dest


def _edge_set(ds) -> set[tuple[int, int]]:
    return set(zip(ds.graph.senders.tolist(), ds.graph.receivers.tolist(), strict=True))


@pytest.mark.parametrize("name", ["cora", "citeseer"])
def test_statistics(raw_dir, monkeypatch, name):
    monkeypatch.setenv("JGNN_DATA", str(raw_dir))
    stats = _STATS[name]
    ds = load_planetoid(name.upper(), download=False)
    g = ds.graph
    assert ds.name == stats["name"]
    assert g.nodes.shape == (stats["nodes"], stats["features"]) and g.nodes.dtype == np.float32
    assert g.senders.dtype == g.receivers.dtype == np.int32
    assert g.edges is None and g.globals is None
    assert g.n_node.tolist() == [stats["nodes"]] and g.n_edge.tolist() == [stats["edges"]]
    assert ds.num_classes == stats["classes"]
    assert ds.labels.dtype == np.int32
    assert np.bincount(ds.labels).tolist() == stats["class_counts"]
    assert int(np.count_nonzero(g.nodes)) == stats["nnz"]
    masks = (ds.train_mask, ds.val_mask, ds.test_mask)
    assert all(m.dtype == np.bool_ and m.shape == (stats["nodes"],) for m in masks)
    assert tuple(int(m.sum()) for m in masks) == stats["split"]
    assert not (ds.train_mask & ds.val_mask).any() and not (ds.val_mask & ds.test_mask).any()
    assert not (ds.train_mask & ds.test_mask).any()
    # Public split: train = first len(y) nodes, val = the next 500.
    num_train = stats["split"][0]
    assert ds.train_mask[:num_train].all() and ds.val_mask[num_train : num_train + 500].all()
    # Train labels are exactly 20 per class.
    assert np.bincount(ds.labels[ds.train_mask]).tolist() == [20] * stats["classes"]
    # Undirected, coalesced, no self loops, sorted by receiver then sender.
    edges = _edge_set(ds)
    assert len(edges) == stats["edges"]
    assert edges == {(r, s) for s, r in edges}
    assert not (g.senders == g.receivers).any()
    keys = g.receivers.astype(np.int64) * stats["nodes"] + g.senders
    assert (np.diff(keys) > 0).all()
    deg = np.bincount(g.receivers, minlength=stats["nodes"])
    assert int((deg == 0).sum()) == stats["isolated"]


def test_citeseer_isolated_test_nodes_are_zero_rows(raw_dir, monkeypatch):
    monkeypatch.setenv("JGNN_DATA", str(raw_dir))
    ds = load_planetoid("citeseer", download=False)
    test_index = np.loadtxt(raw_dir / "ind.citeseer.test.index", dtype=np.int64)
    filled = np.setdiff1d(np.arange(test_index.min(), test_index.max() + 1), test_index)
    assert filled.size == 15
    assert not ds.graph.nodes[filled].any()
    assert (ds.labels[filled] == 0).all()
    assert not (ds.train_mask | ds.val_mask | ds.test_mask)[filled].any()
    # Every other node has at least one word.
    others = np.setdiff1d(np.arange(ds.num_nodes), filled)
    assert (ds.graph.nodes[others].sum(axis=1) > 0).all()


def test_test_rows_are_moved_to_their_indices(raw_dir, monkeypatch):
    # Oracle, independent of PyG: row k of tx/ty belongs to node test_index[k] (file order).
    monkeypatch.setenv("JGNN_DATA", str(raw_dir))
    ds = load_planetoid("cora", download=False)
    tx = safe_load(raw_dir / "ind.cora.tx").toarray()
    ty = safe_load(raw_dir / "ind.cora.ty")
    test_index = np.loadtxt(raw_dir / "ind.cora.test.index", dtype=np.int64)
    assert not (np.diff(test_index) > 0).all()  # the file order is not sorted
    np.testing.assert_array_equal(ds.graph.nodes[test_index], tx)
    np.testing.assert_array_equal(ds.labels[test_index], ty.argmax(axis=1))
    assert ds.test_mask[test_index].all()


@pytest.mark.peers
@pytest.mark.parametrize("name", ["cora", "citeseer"])
def test_matches_pyg(raw_dir, tmp_path, monkeypatch, name):
    pytest.importorskip("torch_geometric")
    from torch_geometric.datasets import Planetoid

    monkeypatch.setenv("JGNN_DATA", str(raw_dir))
    display = _STATS[name]["name"]
    _copy_raw(raw_dir, tmp_path / "pyg" / display / "raw", name)
    ref = Planetoid(str(tmp_path / "pyg"), display)[0]  # raw files present: no download
    ds = load_planetoid(name, download=False)
    np.testing.assert_array_equal(ds.graph.nodes, ref.x.numpy())
    np.testing.assert_array_equal(ds.labels, ref.y.numpy())
    for ours, theirs in [
        (ds.train_mask, ref.train_mask),
        (ds.val_mask, ref.val_mask),
        (ds.test_mask, ref.test_mask),
    ]:
        np.testing.assert_array_equal(ours, theirs.numpy())
    ei = ref.edge_index.numpy()
    # Same coalesce order as PyG's sort_by_row=False: compare edge lists in order.
    np.testing.assert_array_equal(ds.graph.senders, ei[0])
    np.testing.assert_array_equal(ds.graph.receivers, ei[1])


def test_root_takes_precedence_and_accepts_planetoid_subdir(raw_dir, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("JGNN_DATA", str(empty))
    root = tmp_path / "root"
    _copy_raw(raw_dir, root / "planetoid", "cora")
    ds = load_planetoid("Cora", root=root, download=False)
    assert ds.graph.nodes.shape == (2708, 1433)


def test_missing_files_offline_error_names_every_place(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "planetoid").mkdir(parents=True)
    (data / "planetoid" / "ind.cora.x").write_bytes(b"")  # a partial set
    monkeypatch.setenv("JGNN_DATA", str(data))
    root = tmp_path / "root"
    with pytest.raises(DatasetNotFoundError) as info:
        load_planetoid("cora", root=root, download=False)
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    cache = tmp_path / "cache" / "planetoid"
    for place in (root, root / "planetoid", data, data / "planetoid", cache):
        assert f"{place} (" in message
    # The partial folder names exactly the seven files it lacks.
    line = next(ln for ln in message.splitlines() if f"{data / 'planetoid'} (" in ln)
    missing = [f"ind.cora.{s}" for s in _SUFFIXES if s != "x"]
    assert line.endswith(f"(missing {', '.join(missing)})")
    assert "download=False" in message


def test_missing_files_when_unset(tmp_path, monkeypatch):
    monkeypatch.delenv("JGNN_DATA", raising=False)
    with pytest.raises(DatasetNotFoundError) as info:
        load_planetoid("citeseer", download=False)
    message = str(info.value)
    assert "root argument: not set" in message and "$JGNN_DATA: not set" in message
    assert str(tmp_path / "cache" / "planetoid") in message


def test_failed_download_error_names_places_and_url(http_dir, tmp_path, monkeypatch):
    url, _ = http_dir  # serves an empty folder: every file is a 404
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_PLANETOID_URL", url + "/data/")
    with pytest.raises(FileNotFoundError) as info:
        load_planetoid("cora")
    message = str(info.value)
    assert f"{url}/data/ind.cora" in message and "HTTP 404" in message
    assert str(tmp_path / "cache" / "planetoid") in message
    assert list((tmp_path / "cache" / "planetoid").iterdir()) == []


def test_unknown_name():
    with pytest.raises(ValueError, match=r"'reddit'.*\['citeseer', 'cora', 'pubmed'\]"):
        load_planetoid("reddit")


def test_download_verifies_pins_and_then_uses_cache(raw_dir, http_dir, tmp_path, monkeypatch):
    url, served = http_dir
    _copy_raw(raw_dir, served, "cora")
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_PLANETOID_URL", url)
    downloaded = load_planetoid("cora")
    cache = tmp_path / "cache" / "planetoid"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"ind.cora.{s}" for s in _SUFFIXES)
    for path in cache.iterdir():
        assert sha256_file(path) == PLANETOID_SHA256[path.name]
    for path in served.iterdir():  # the server is no longer needed
        path.unlink()
    cached = load_planetoid("cora", download=False)
    monkeypatch.setenv("JGNN_DATA", str(raw_dir))
    reference = load_planetoid("cora", download=False)
    for ds in (downloaded, cached):
        np.testing.assert_array_equal(ds.graph.nodes, reference.graph.nodes)
        np.testing.assert_array_equal(ds.graph.senders, reference.graph.senders)
        np.testing.assert_array_equal(ds.labels, reference.labels)


def test_tampered_download_is_refused(raw_dir, http_dir, tmp_path, monkeypatch):
    url, served = http_dir
    _copy_raw(raw_dir, served, "cora")
    with open(served / "ind.cora.ty", "ab") as f:
        f.write(b"\x00")
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_PLANETOID_URL", url)
    with pytest.raises(ChecksumError, match=PLANETOID_SHA256["ind.cora.ty"]):
        load_planetoid("cora")
    cache = tmp_path / "cache" / "planetoid"
    names = [p.name for p in cache.iterdir()]
    assert "ind.cora.ty" not in names and not [n for n in names if n.endswith(".part")]


def test_corrupted_cache_file_is_detected_and_refetched(raw_dir, http_dir, tmp_path, monkeypatch):
    url, served = http_dir
    monkeypatch.delenv("JGNN_DATA", raising=False)
    cache = _copy_raw(raw_dir, tmp_path / "cache" / "planetoid", "cora")
    (cache / "ind.cora.graph").write_bytes(b"corrupt")
    with pytest.raises(ChecksumError) as info:
        load_planetoid("cora", download=False)
    message = str(info.value)
    assert str(cache / "ind.cora.graph") in message
    assert PLANETOID_SHA256["ind.cora.graph"] in message
    assert sha256_file(cache / "ind.cora.graph") in message
    _copy_raw(raw_dir, served, "cora")
    monkeypatch.setenv("JGNN_PLANETOID_URL", url)
    with pytest.warns(UserWarning, match="ind.cora.graph failed its SHA-256 check"):
        ds = load_planetoid("cora")
    assert ds.num_edges == 10556
    assert sha256_file(cache / "ind.cora.graph") == PLANETOID_SHA256["ind.cora.graph"]


def test_unpinned_pubmed_download_records_digest_and_warns(
    raw_dir, http_dir, tmp_path, monkeypatch
):
    # Stand-in for PubMed (no network here): the Cora files served under PubMed's names.
    url, served = http_dir
    _copy_raw(raw_dir, served, "cora", rename="pubmed")
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_PLANETOID_URL", url)
    with pytest.warns(UserWarning, match="without a pinned SHA-256") as record:
        ds = load_planetoid("PubMed")
    assert len(record) == len(_SUFFIXES)
    assert ds.name == "PubMed" and ds.graph.nodes.shape == (2708, 1433)
    cache = tmp_path / "cache" / "planetoid"
    for suffix in _SUFFIXES:
        fname = f"ind.pubmed.{suffix}"
        recorded = (cache / f"{fname}.sha256").read_text().split()
        assert recorded == [PLANETOID_SHA256[f"ind.cora.{suffix}"], fname]
    # Later loads check the cache against the recorded digests.
    (cache / "ind.pubmed.x").write_bytes(b"tampered")
    with pytest.raises(ChecksumError, match=r"ind\.pubmed\.x is corrupt.*digest recorded in"):
        load_planetoid("pubmed", download=False)


def test_unpinned_download_must_parse_safely(http_dir, tmp_path, monkeypatch):
    url, served = http_dir
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            import os

            return os.system, (f"touch {marker}",)

    for suffix in _SUFFIXES:
        (served / f"ind.pubmed.{suffix}").write_bytes(pickle.dumps(Payload(), protocol=2))
    monkeypatch.delenv("JGNN_DATA", raising=False)
    monkeypatch.setenv("JGNN_PLANETOID_URL", url)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        load_planetoid("pubmed")
    assert not marker.exists()
    assert list((tmp_path / "cache" / "planetoid").iterdir()) == []


def test_shared_raw_files_match_the_pinned_digests(raw_dir):
    for name in ("cora", "citeseer"):
        for suffix in _SUFFIXES:
            fname = f"ind.{name}.{suffix}"
            assert sha256_file(raw_dir / fname) == PLANETOID_SHA256[fname]


def _corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "random":
        path.write_bytes(np.random.default_rng(0).bytes(len(data)))


@pytest.mark.parametrize("how", ["truncated", "empty", "random"])
@pytest.mark.parametrize("suffix", ["x", "graph", "test.index"])
def test_corrupt_user_file_is_one_clear_error(raw_dir, tmp_path, monkeypatch, how, suffix):
    # A corrupt file in root (not only in the cache) fails its digest check, in one exception
    # that names the file, both digests and the way out; verify=False then fails to parse it,
    # again as one DatasetError naming the file.
    monkeypatch.delenv("JGNN_DATA", raising=False)
    root = _copy_raw(raw_dir, tmp_path / "root", "cora")
    bad = root / f"ind.cora.{suffix}"
    _corrupt(bad, how)
    with pytest.raises(ChecksumError) as info:
        load_planetoid("cora", root=root, download=False)
    message = str(info.value)
    assert isinstance(info.value, DatasetError) and isinstance(info.value, ValueError)
    assert str(bad) in message and "verify=False" in message
    assert PLANETOID_SHA256[bad.name] in message and sha256_file(bad) in message
    if how == "truncated" and suffix == "test.index":
        return  # half of the id list still parses; the inconsistency is caught below
    with pytest.raises(DatasetFormatError, match=str(bad).replace(".", r"\.")):
        load_planetoid("cora", root=root, download=False, verify=False)


def test_truncated_index_without_verification_is_a_format_error(raw_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("JGNN_DATA", raising=False)
    root = _copy_raw(raw_dir, tmp_path / "root", "cora")
    lines = (root / "ind.cora.test.index").read_text().splitlines()
    (root / "ind.cora.test.index").write_text("\n".join(lines[:400]) + "\n")
    with pytest.raises(DatasetFormatError, match="test.index: must list 1000 distinct ids"):
        read_planetoid(root, "cora", verify=False)


def test_modified_file_loads_only_with_verify_false(raw_dir, tmp_path, monkeypatch):
    # A trailing blank line changes the digest but not the contents.
    monkeypatch.delenv("JGNN_DATA", raising=False)
    root = _copy_raw(raw_dir, tmp_path / "root", "cora")
    with open(root / "ind.cora.test.index", "a") as f:
        f.write("\n")
    with pytest.raises(ChecksumError, match="ind.cora.test.index"):
        load_planetoid("cora", root=root, download=False)
    ds = load_planetoid("cora", root=root, download=False, verify=False)
    reference = read_planetoid(raw_dir, "cora")
    np.testing.assert_array_equal(ds.graph.nodes, reference.graph.nodes)
    np.testing.assert_array_equal(ds.test_mask, reference.test_mask)
    np.testing.assert_array_equal(ds.graph.senders, reference.graph.senders)


def test_folder_with_other_datasets_names_the_missing_files(tmp_path, monkeypatch):
    # $JGNN_DATA holds Cora and CiteSeer but not PubMed: every PubMed file is named, and the
    # message says which datasets the folder does hold.
    data = tmp_path / "data"
    data.mkdir()
    for name in ("cora", "citeseer"):
        for suffix in _SUFFIXES:
            (data / f"ind.{name}.{suffix}").write_bytes(b"")
    monkeypatch.setenv("JGNN_DATA", str(data))
    with pytest.raises(DatasetNotFoundError) as info:
        load_planetoid("pubmed", download=False)
    message = str(info.value)
    for suffix in _SUFFIXES:
        assert f"ind.pubmed.{suffix}" in message
    line = next(
        ln
        for ln in message.splitlines()
        if ln.endswith(
            f"{data} (none of the 8 files is there; it holds ind.* files of citeseer, cora)"
        )
    )
    assert line.startswith("  - $JGNN_DATA: ")


def test_unpinned_garbage_in_user_folder_is_a_format_error(tmp_path, monkeypatch):
    # PubMed has no pinned digest, so a user's PubMed files can only be checked by parsing.
    monkeypatch.setenv("JGNN_DATA", str(tmp_path))
    for suffix in _SUFFIXES:
        (tmp_path / f"ind.pubmed.{suffix}").write_bytes(b"garbage")
    with pytest.raises(PickleFormatError, match=r"ind\.pubmed\.x: not a valid Planetoid pickle"):
        load_planetoid("pubmed", download=False)
