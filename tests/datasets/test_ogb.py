"""Tests for the OGB node-property reader, on small datasets written in OGB's raw layout.

The real datasets (169k and 2.4M nodes) are not available here, so each test registers a small
copy of the real metadata (same name, folder names, split name and ``add_inverse_edge`` flag,
300 nodes) and writes its files; every array read back is compared with what was written.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

from jgnn.datasets import (
    OGB_DATASETS,
    DatasetError,
    DatasetFormatError,
    DatasetNotFoundError,
    load,
    load_ogb,
    read_ogb,
)

_N, _F, _C = 300, 5, 4


def _tokens(rng: np.random.Generator) -> list[list[str]]:
    """Feature text in several notations (OGB's fixed 6 decimals, long, scientific, integer)."""
    rows = []
    for _ in range(_N):
        a, b, c = rng.standard_normal(3)
        rows.append(
            [
                f"{a:.6f}",
                repr(float(b)),  # up to 17 significant digits: not the fast path
                f"{c * 1e-7:.3e}",
                str(int(rng.integers(-3, 4))),
                "-0.0" if rng.random() < 0.1 else f"{rng.random():.4f}",
            ]
        )
    return rows


@pytest.fixture
def small(request, tmp_path, monkeypatch, ogb_writer):
    """A 300-node dataset under the metadata of ``request.param`` (default ogbn-arxiv)."""
    name = getattr(request, "param", "ogbn-arxiv")
    spec = OGB_DATASETS[name]._replace(num_nodes=_N, num_classes=_C)
    monkeypatch.setitem(OGB_DATASETS, name, spec)
    monkeypatch.delenv("JGNN_DATA", raising=False)
    rng = np.random.default_rng(7)
    edges = rng.integers(0, _N, size=(1200, 2))
    edges[:5] = [[3, 3], [1, 2], [2, 1], [1, 2], [7, 8]]  # self loop, reverse pair, duplicate
    features = _tokens(rng)
    labels = rng.integers(0, _C, size=_N)
    perm = rng.permutation(_N)
    splits = {"train": perm[:120], "valid": perm[120:180], "test": perm[180:290]}
    folder = ogb_writer(
        tmp_path / "data" / spec.dir_name, spec.split, edges, features, labels, splits
    )
    x = np.array([[np.float32(float(t)) for t in row] for row in features], dtype=np.float32)
    return dict(
        name=name, spec=spec, folder=folder, root=tmp_path / "data", edges=edges, x=x,
        labels=labels, splits=splits,
    )  # fmt: skip


def _mask(ids: np.ndarray) -> np.ndarray:
    out = np.zeros(_N, dtype=bool)
    out[ids] = True
    return out


def _undirected_oracle(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both directions of every non-loop edge, once each, sorted by (receiver, sender)."""
    pairs = {(int(u), int(v)) for u, v in edges if u != v}
    pairs |= {(v, u) for u, v in pairs}
    ordered = sorted(pairs, key=lambda p: (p[1], p[0]))
    return np.array([p[0] for p in ordered]), np.array([p[1] for p in ordered])


def test_arrays_equal_what_was_written(small):
    ds = read_ogb(small["folder"], small["name"], undirected=False)
    g = ds.graph
    assert ds.name == "ogbn-arxiv" and ds.num_classes == _C
    assert g.nodes.dtype == np.float32 and g.nodes.shape == (_N, _F)
    np.testing.assert_array_equal(g.nodes, small["x"])
    assert (
        np.signbit(g.nodes[small["x"] == 0]).tolist()
        == np.signbit(small["x"][small["x"] == 0]).tolist()
    )
    assert ds.labels.dtype == np.int32
    np.testing.assert_array_equal(ds.labels, small["labels"])
    # ogbn-arxiv: add_inverse_edge is False, so edges come back as written (directed).
    assert g.senders.dtype == g.receivers.dtype == np.int32
    np.testing.assert_array_equal(g.senders, small["edges"][:, 0])
    np.testing.assert_array_equal(g.receivers, small["edges"][:, 1])
    assert g.n_node.tolist() == [_N] and g.n_edge.tolist() == [1200]
    for mask, part in [(ds.train_mask, "train"), (ds.val_mask, "valid"), (ds.test_mask, "test")]:
        assert mask.dtype == np.bool_
        np.testing.assert_array_equal(mask, _mask(small["splits"][part]))


@pytest.mark.parametrize("small", ["ogbn-arxiv", "ogbn-products"], indirect=True)
def test_undirected_graph_matches_set_oracle(small):
    ds = read_ogb(small["folder"], small["name"])
    senders, receivers = _undirected_oracle(small["edges"])
    np.testing.assert_array_equal(ds.graph.senders, senders)
    np.testing.assert_array_equal(ds.graph.receivers, receivers)


@pytest.mark.parametrize("small", ["ogbn-products"], indirect=True)
def test_add_inverse_edge_interleaves_like_ogb(small):
    # OGB's read_csv_graph_raw: edge k becomes columns 2k (u, v) and 2k + 1 (v, u).
    ds = read_ogb(small["folder"], small["name"], undirected=False)
    u, v = small["edges"][:, 0], small["edges"][:, 1]
    np.testing.assert_array_equal(ds.graph.senders[0::2], u)
    np.testing.assert_array_equal(ds.graph.receivers[0::2], v)
    np.testing.assert_array_equal(ds.graph.senders[1::2], v)
    np.testing.assert_array_equal(ds.graph.receivers[1::2], u)
    assert ds.num_edges == 2400 and ds.name == "ogbn-products"


@pytest.mark.parametrize("layout", ["dir_name", "download_name", "itself", "env", "cache"])
def test_folder_is_found_in_every_documented_place(small, tmp_path, monkeypatch, layout):
    spec, folder = small["spec"], small["folder"]
    root = None
    if layout == "download_name":
        folder = folder.rename(folder.with_name(spec.download_name))
        root = small["root"]
    elif layout == "dir_name":
        root = small["root"]
    elif layout == "itself":
        root = folder
    elif layout == "env":
        monkeypatch.setenv("JGNN_DATA", str(small["root"]))
    else:
        cache = tmp_path / "cache" / "ogb"
        cache.mkdir(parents=True)
        folder.rename(cache / spec.dir_name)
    ds = load_ogb(small["name"].upper(), root=root, cache=False)
    np.testing.assert_array_equal(ds.labels, small["labels"])


def test_missing_files_are_named_with_places_and_url(small, tmp_path, monkeypatch):
    (small["folder"] / "split" / "time" / "valid.csv.gz").unlink()
    monkeypatch.setenv("JGNN_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as info:
        load("ogbn-arxiv", root=small["root"])
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert f"{small['folder']} (missing split/time/valid.csv.gz)" in message
    assert f"$JGNN_DATA: {tmp_path / 'nowhere'} (does not exist)" in message
    assert str(tmp_path / "cache" / "ogb" / "ogbn_arxiv") in message
    assert "https://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip" in message


@pytest.mark.parametrize(
    ("target", "corruption", "match"),
    [
        ("raw/edge.csv.gz", "truncate", "not a complete gzip file"),
        ("raw/node-feat.csv.gz", "random", "not a complete gzip file"),
        ("raw/node-label.csv.gz", "crc", "not a complete gzip file"),
        ("raw/edge.csv.gz", "text:1,2\n3,x\n", r"line 2 \('3,x'\): expected an integer"),
        ("raw/edge.csv.gz", "text:1,2\n3\n", r"line 2 \('3'\): expected 2 comma-separated"),
        ("raw/edge.csv.gz", "text:" + "1,2\n" * 1199 + "3,300\n", r"ids must lie in \[0, 300\)"),
        ("raw/num-edge-list.csv.gz", "text:1201\n", "has 1200 lines of 2 values, expected 1201"),
        ("raw/num-edge-list.csv.gz", "text:1199\n", "more lines than the expected 1199"),
        ("raw/num-edge-list.csv.gz", "text:10000000000000\n", "bytes cannot hold 10000000000000"),
        ("raw/num-node-list.csv.gz", "text:169343\n", "has 300 nodes but this file says 169343"),
        ("raw/node-label.csv.gz", "text:" + "1\n" * 299 + "4\n", r"labels must lie in \[0, 4\)"),
        ("raw/node-feat.csv.gz", "text:" + "1,2,3,4,5\n" * 299 + "1,2,3,4\n", "line 300"),
        ("split/time/test.csv.gz", "overlap", "test nodes overlap an earlier split"),
    ],
)
def test_corrupt_files_raise_one_error_naming_the_file(small, target, corruption, match):
    path = small["folder"] / target
    if corruption == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif corruption == "random":
        path.write_bytes(np.random.default_rng(0).bytes(path.stat().st_size))
    elif corruption == "crc":
        data = bytearray(path.read_bytes())
        data[-8] ^= 0xFF  # the stored CRC-32
        path.write_bytes(bytes(data))
    elif corruption == "overlap":
        with gzip.open(path, "wt") as f:
            f.write(f"{small['splits']['test'][0]}\n{small['splits']['train'][0]}\n")
    else:
        with gzip.open(path, "wt") as f:
            f.write(corruption.removeprefix("text:"))
    with pytest.raises(DatasetFormatError, match=match) as info:
        load_ogb(small["name"], root=small["root"], cache=False)
    assert isinstance(info.value, DatasetError) and str(small["folder"]) in str(info.value)
    assert path.name in str(info.value)


def test_unknown_name():
    with pytest.raises(ValueError, match=r"'ogbn-mag'.*\['ogbn-arxiv', 'ogbn-products'\]"):
        load_ogb("ogbn-mag")


def test_processed_cache_is_used_verified_and_rebuilt(small, tmp_path, monkeypatch):
    import jgnn.datasets._ogb as ogb

    first = load_ogb(small["name"], root=small["root"])
    processed = tmp_path / "cache" / "ogb" / "processed"
    (path,) = processed.glob("ogbn_arxiv-undirected-*.npz")

    def fail(*args, **kwargs):
        raise AssertionError("the raw files were parsed again")

    with monkeypatch.context() as patched:
        patched.setattr(ogb, "read_ogb", fail)
        second = load_ogb(small["name"], root=small["root"])
    g1, g2 = first.graph, second.graph
    for a, b in [
        (g1.nodes, g2.nodes),
        (g1.senders, g2.senders),
        (g1.receivers, g2.receivers),
        (g1.n_node, g2.n_node),
        (g1.n_edge, g2.n_edge),
        (first.labels, second.labels),
        (first.train_mask, second.train_mask),
        (first.val_mask, second.val_mask),
        (first.test_mask, second.test_mask),
    ]:
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    assert (second.num_classes, second.name) == (_C, "ogbn-arxiv")
    assert g2.edges is None and g2.globals is None

    # A corrupt cache file is reported, deleted and rebuilt from the raw files.
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.warns(UserWarning, match="cannot be read"):
        third = load_ogb(small["name"], root=small["root"])
    np.testing.assert_array_equal(third.graph.nodes, first.graph.nodes)
    assert [p.name for p in processed.iterdir()] == [path.name]

    # Changed raw files get a new cache entry; the stale one is removed.
    labels = small["folder"] / "raw" / "node-label.csv.gz"
    with gzip.open(labels, "wt") as f:
        f.write("0\n" * _N)
    os.utime(labels, ns=(1, 1))
    fourth = load_ogb(small["name"], root=small["root"])
    assert (fourth.labels == 0).all()
    (new,) = processed.glob("ogbn_arxiv-undirected-*.npz")
    assert new != path


def test_real_metadata_is_checked(tmp_path, ogb_writer, monkeypatch):
    # With the real metadata, a 300-node folder named ogbn_arxiv is refused with a clear error.
    monkeypatch.delenv("JGNN_DATA", raising=False)
    folder = ogb_writer(
        tmp_path / "ogbn_arxiv",
        "time",
        [[0, 1]],
        [[0.5]] * 3,
        [0, 1, 2],
        {"train": [0], "valid": [1], "test": [2]},
    )
    with pytest.raises(
        DatasetFormatError, match="ogbn-arxiv has 169343 nodes but this file says 3"
    ):
        load_ogb("ogbn-arxiv", root=tmp_path, cache=False)
    assert folder.is_dir()
