"""Loader in-process: contents, order, overflow policies, report, state, compile count."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from loader.loader_sources import HopSource, InducedSource, random_graph

from jgnn.graph import CompileCounter
from jgnn.loader import Budget, Loader, PaddedBatch, pad_subgraph
from jgnn.loader._checks import hop_counts

N = 150


@pytest.fixture(scope="module")
def graph():
    rng = np.random.default_rng(0)
    return (
        random_graph(N, 500, seed=3),
        rng.normal(size=(N, 6)).astype(np.float32),
        rng.integers(0, 5, N),
    )


@pytest.fixture(scope="module")
def source(graph):
    return HopSource(graph[0], N, num_batches=10, seed=11)


def _host(batch):
    return jax.tree_util.tree_map(np.asarray, batch)


def _expected(source, budget, features, labels, epoch, index):
    """Oracle: pad the source's batch directly and gather features by hand."""
    sub = source.get(epoch, index)
    rung = budget.rung_for(*hop_counts(sub)) or budget.grow(*hop_counts(sub))
    b = pad_subgraph(sub, rung, pad_id=N)
    x = np.zeros((b.num_nodes, features.shape[1]), np.float32)
    x[b.node_mask] = features[sub.n_id]
    y = np.zeros(b.num_nodes, np.int32)
    y[b.node_mask] = labels[sub.n_id]
    return b.replace(x=x, y=y)


def _assert_same(a, b):
    assert a.node_blocks == b.node_blocks and a.edge_blocks == b.edge_blocks
    for leaf_a, leaf_b in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_array_equal(np.asarray(leaf_a), np.asarray(leaf_b))


def test_batches_are_padded_gathered_and_on_device(graph, source):
    _, x, y = graph
    budget = Budget.fit(source, num_batches=10, percentile=60.0, num_rungs=2, multiple=4)
    with Loader(source, budget, features=x, labels=y) as loader:
        batches = list(loader.epoch(0))
    assert len(batches) == len(source)
    for i, b in enumerate(batches):
        assert isinstance(b, PaddedBatch) and isinstance(b.x, jax.Array)
        assert b.x.dtype == jnp.float32 and b.y.dtype == jnp.int32
        _assert_same(_host(b), _expected(source, budget, x, y, 0, i))


def test_shuffle_visits_every_batch_once_per_epoch(graph, source):
    budget = Budget.fit(source, num_batches=4, percentile=100.0, num_rungs=1)
    with Loader(source, budget, shuffle=True, seed=7, num_nodes=N) as loader:
        firsts = {e: [tuple(np.asarray(b.n_id[:2])) for b in loader.epoch(e)] for e in (0, 1)}
    for e, seen in firsts.items():
        want = {tuple(source.get(e, i).n_id[:2]) for i in range(len(source))}
        assert set(seen) == want and len(seen) == len(source)
    assert firsts[0] != [tuple(source.get(0, i).n_id[:2]) for i in range(len(source))]


def test_overflow_grow_never_truncates_and_reports_grown_rungs(graph, source):
    _, x, y = graph
    budget = Budget.fit(source, num_batches=10, percentile=30.0, num_rungs=1, growth=1.5)
    with Loader(source, budget, features=x, labels=y, overflow="grow") as loader:
        batches = list(loader.epoch(0))
        report = loader.report()
    grown = set()
    for i, b in enumerate(batches):
        sub = source.get(0, i)
        assert int(np.asarray(b.node_mask).sum()) == sub.num_nodes
        assert int(np.asarray(b.edge_mask).sum()) == sub.num_edges
        if budget.rung_for(*hop_counts(sub)) is None:
            grown.add(budget.grow(*hop_counts(sub)))
        _assert_same(_host(b), _expected(source, budget, x, y, 0, i))
    assert grown and set(report.grown) == grown and report.skipped == 0
    assert report.num_shapes == len({b.rung for b in batches})


def test_overflow_skip_drops_and_counts(graph, source):
    budget = Budget.fit(source, num_batches=10, percentile=50.0, num_rungs=1)
    fits = [budget.rung_for(*hop_counts(source.get(0, i))) is not None for i in range(10)]
    assert 0 < sum(fits) < 10
    with Loader(source, budget, overflow="skip", num_nodes=N) as loader:
        it = loader.epoch(0)
        batches = list(it)
    assert len(batches) == sum(fits) and it.report().skipped == 10 - sum(fits)
    assert it.position == 10
    kept = [i for i, ok in enumerate(fits) if ok]
    for i, b in zip(kept, batches):
        np.testing.assert_array_equal(
            np.asarray(b.n_id)[np.asarray(b.node_mask)], source.get(0, i).n_id
        )
        assert b.rung == budget.rungs[0]


def test_report_counts_padding_waste(graph, source):
    budget = Budget.fit(source, num_batches=10, percentile=80.0, num_rungs=2)
    with Loader(source, budget, num_nodes=N) as loader:
        batches = list(loader.epoch(0))
        report = loader.report()
    subs = [source.get(0, i) for i in range(10)]
    assert report.batches == 10 and report.skipped == 0
    assert report.real_nodes == sum(s.num_nodes for s in subs)
    assert report.real_edges == sum(s.num_edges for s in subs)
    assert report.padded_nodes == sum(b.num_nodes for b in batches)
    assert report.padded_edges == sum(b.num_edges for b in batches)
    assert report.node_waste == pytest.approx(report.padded_nodes / report.real_nodes)
    assert sum(c for _, c in report.rungs_used) == 10
    assert report.host_wait_s >= 0 and report.wall_s > 0 and report.sample_s > 0
    assert report.batches_per_s == pytest.approx(10 / report.wall_s)
    assert json.loads(json.dumps(report.as_dict()))["num_shapes"] == report.num_shapes


def test_state_save_and_restore_give_the_same_next_batches(graph, source):
    _, x, y = graph
    budget = Budget.fit(source, num_batches=10, percentile=70.0, num_rungs=2)
    kw = dict(features=x, labels=y, shuffle=True, seed=3, overflow="skip")
    with Loader(source, budget, **kw) as loader:
        it = loader.epoch(1)
        for _ in range(3):
            next(it)
        state = json.loads(json.dumps(it.get_state()))
        rest = [_host(b) for b in it]
        nxt = [_host(b) for b in loader.epoch(2)]
    with Loader(source, budget, **kw) as again:
        it = again.restore(state)
        assert it.epoch == 1 and it.position == state["position"]
        for a, b in zip(rest, it, strict=True):
            _assert_same(a, _host(b))
        for a, b in zip(nxt, again.epoch(2), strict=True):
            _assert_same(a, _host(b))
    with Loader(source, budget, features=x, labels=y, seed=4) as other:
        with pytest.raises(ValueError, match="seed"):
            other.restore(state)


def test_state_restores_in_a_fresh_process(graph, source, tmp_path):
    _, x, y = graph
    budget = Budget.fit(source, num_batches=10, percentile=70.0, num_rungs=2)
    with Loader(source, budget, features=x, labels=y, shuffle=True, seed=5) as loader:
        it = loader.epoch(0)
        for _ in range(4):
            next(it)
        state = it.get_state()
        want = [_host(next(it)) for _ in range(3)]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    (tmp_path / "state.json").write_text(
        json.dumps(
            {"state": state, "budget": budget.to_dict(), "edges": source.edge_index.tolist()}
        )
    )
    script = textwrap.dedent(f"""
        import json, numpy as np, jax
        from loader.loader_sources import HopSource
        from jgnn.loader import Budget, Loader
        d = json.load(open({str(tmp_path / "state.json")!r}))
        src = HopSource(np.array(d["edges"]), {N}, num_batches=10, seed=11)
        x, y = np.load({str(tmp_path / "x.npy")!r}), np.load({str(tmp_path / "y.npy")!r})
        with Loader(src, Budget.from_dict(d["budget"]), features=x, labels=y, shuffle=True,
                    seed=5) as loader:
            it = loader.restore(d["state"])
            out = {{}}
            for k in range(3):
                leaves = jax.tree_util.tree_leaves(next(it))
                out.update({{f"{{k}}_{{j}}": np.asarray(v) for j, v in enumerate(leaves)}})
        np.savez({str(tmp_path / "out.npz")!r}, **out)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    got = np.load(tmp_path / "out.npz")
    for k, b in enumerate(want):
        for j, leaf in enumerate(jax.tree_util.tree_leaves(b)):
            np.testing.assert_array_equal(got[f"{k}_{j}"], leaf)


def test_an_epoch_compiles_a_handful_of_shapes(graph):
    edges, x, _ = graph
    src = InducedSource(edges, N, num_batches=30, min_nodes=10, max_nodes=60, seed=2)
    sizes = {(s.num_nodes, s.num_edges) for s in (src.get(0, i) for i in range(30))}
    assert len(sizes) > 20  # unpadded, nearly every batch would be a new shape
    budget = Budget.fit(src, num_batches=30, percentile=90.0, num_rungs=3)

    @jax.jit
    def step(batch):
        h = jax.ops.segment_sum(batch.x[batch.senders], batch.receivers, batch.num_nodes)
        return jnp.sum(jnp.where(batch.node_mask[:, None], h, 0.0))

    with Loader(src, budget, features=x) as loader:
        with CompileCounter(match="jit(step)") as cc:
            totals = [float(step(b)) for b in loader.epoch(0)]
        report = loader.report()
    assert cc.count == report.num_shapes <= 4
    for i, total in enumerate(totals):  # and the step saw the real data
        sub = src.get(0, i)
        assert total == pytest.approx(float(x[sub.n_id[sub.senders]].sum()), rel=1e-4, abs=1e-4)


def test_errors_surface_in_process(graph):
    edges, x, _ = graph
    src = HopSource(edges, N, num_batches=6, fail="raise", fail_index=3)
    budget = Budget.fit(HopSource(edges, N, num_batches=3), num_batches=3)
    with Loader(src, budget, features=x) as loader:
        it = loader.epoch(0)
        got = [next(it) for _ in range(3)]
        with pytest.raises(KeyError, match="planted failure at batch 3"):
            next(it)
    assert len(got) == 3


def test_hang_in_process_times_out(graph):
    edges, x, _ = graph
    src = HopSource(edges, N, num_batches=6, fail="hang", fail_index=1, hang_s=3.0)
    budget = Budget.fit(HopSource(edges, N, num_batches=3), num_batches=3)
    with Loader(src, budget, features=x, timeout_s=0.5) as loader:
        it = loader.epoch(0)
        next(it)
        with pytest.raises(TimeoutError, match="within 0.5 s"), pytest.warns(RuntimeWarning):
            next(it)


def test_bad_arguments_raise(graph, source):
    _, x, _ = graph
    budget = Budget.fit(source, num_batches=2)
    with pytest.raises(TypeError, match="source"):
        Loader(object(), budget)
    with pytest.raises(TypeError, match="Budget"):
        Loader(source, {"rungs": []})
    with pytest.raises(ValueError, match="overflow"):
        Loader(source, budget, overflow="truncate")
    with pytest.raises(ValueError, match="labels"):
        Loader(source, budget, features=x, labels=np.zeros(3))
    with pytest.raises(ValueError, match="position"):
        Loader(source, budget).epoch(0, position=11)
    with pytest.raises(TypeError, match="epoch"):
        iter(Loader(source, budget))


def test_read_threads_and_epoch_chaining_keep_the_batches(graph, source):
    _, x, y = graph
    budget = Budget.fit(source, num_batches=10, percentile=70.0, num_rungs=2)
    with Loader(source, budget, features=x, labels=y, shuffle=True) as loader:
        want = [_host(b) for e in (0, 1) for b in loader.epoch(e)]
    with Loader(source, budget, features=x, labels=y, shuffle=True, num_threads=2) as loader:
        got = [_host(b) for b in loader.epoch(0)]
        engine = loader._engine[0]
        got += [_host(b) for b in loader.epoch(1)]
        assert loader._engine[0] is engine  # epoch 1 continued the running pipeline
    for a, b in zip(want, got, strict=True):
        _assert_same(a, b)


def test_shards_split_each_epoch_into_equal_disjoint_parts(graph):
    edges, _, _ = graph
    src = HopSource(edges, N, num_batches=11, seed=4)
    budget = Budget.fit(src, num_batches=11, percentile=100.0, num_rungs=1)
    seen = []
    for shard in range(3):
        with Loader(
            src, budget, shuffle=True, seed=9, shard_index=shard, num_shards=3, num_nodes=N
        ) as loader:
            assert len(loader) == 11 // 3
            seen.append([tuple(np.asarray(b.n_id)[:2]) for b in loader.epoch(1)])
    flat = [k for part in seen for k in part]
    assert len(set(flat)) == len(flat) == 9  # disjoint; the remainder of 2 batches is dropped
    assert set(flat) <= {tuple(src.get(1, i).n_id[:2]) for i in range(11)}
    with pytest.raises(ValueError, match="shard_index"):
        Loader(src, budget, shard_index=3, num_shards=3)
