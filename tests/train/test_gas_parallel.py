"""Data-parallel GNNAutoScale with shared histories against single-device GAS on 4 devices."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jgnn import datasets
from jgnn.history import GASBatches, GASData, GASModel, History, gas_forward, pull, push
from jgnn.models import GCN, GCNII
from jgnn.train import (
    GASParallelStep,
    adam_l2,
    data_mesh,
    fit_gas,
    fit_gas_parallel,
    replicate,
)

D = 4


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def ds():
    return datasets.contextual_sbm(
        num_nodes=1200, num_classes=4, num_features=16, avg_degree=6.0, seed=5
    )


def _args(ds):
    return ds.graph, np.asarray(ds.graph.nodes), ds.labels, ds.train_mask, ds.val_mask, ds.test_mask


def _model(kind, ds, seed=0):
    f, c = np.asarray(ds.graph.nodes).shape[1], ds.num_classes
    if kind == "gcn":
        return GCN(f, 16, c, num_layers=3, dropout=0.0, normalize=False, rngs=nnx.Rngs(seed))
    return GCNII(f, 16, c, num_layers=3, dropout=0.0, rngs=nnx.Rngs(seed))


def _setup(ds, kind, tmp_path):
    """A model, its data, 4 labelled host batches of disjoint parts, random host histories."""
    model = _model(kind, ds)
    x = np.asarray(ds.graph.nodes, np.float32)
    gm = GASModel(model, x.shape[1])
    data = GASData(ds.graph, num_parts=16, normalize=gm.program.normalize, cache_dir=tmp_path)
    source = GASBatches(data, 2, shuffle=True, seed=3, epochs=1)
    xs = data.permute(x)
    y = np.where(data.permute(ds.train_mask), data.permute(ds.labels), -1).astype(np.int32)
    batches, parts = [], []
    for i in range(D):
        b = source.pad(source.get(0, i))
        n_id = np.asarray(b.n_id)
        batches.append(b.replace(x=pull(History(xs), n_id), y=y[np.minimum(n_id, len(y) - 1)]))
        parts.append(source.parts(0, i))
    rng = np.random.default_rng(0)
    tables = [rng.normal(size=(data.num_nodes, f)).astype(np.float32) for f in gm.history_sizes]
    return model, gm, data, batches, parts, tables


def _oracle(model, gm, batches, tables):
    """Single-device losses, gradients and pushed rows of each batch, count-weighted."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss_fn(p, batch, halos):
        m = nnx.merge(graphdef, p, rest)
        logits, pushed = gas_forward(gm.program, m, batch, halos, deterministic=False)
        num_b = batch.node_blocks[0]
        y = batch.y[:num_b]
        rows = (y >= 0) & batch.seed_mask[:num_b]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, jnp.maximum(y, 0))
        count = jnp.sum(rows.astype(ce.dtype))
        return jnp.where(rows, ce, 0.0).sum() / jnp.maximum(count, 1.0), (pushed, count)

    vg = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))
    losses, grads, counts, pushes = [], [], [], []
    for b in batches:
        halos = tuple(pull(History(t), np.asarray(b.n_id)[b.node_blocks[0] :]) for t in tables)
        (loss, (pushed, count)), g = vg(params, b, halos)
        losses.append(float(loss))
        grads.append(g)
        counts.append(float(count))
        pushes.append(pushed)
    w = np.array(counts) / sum(counts)
    loss = float(np.dot(w, losses))
    grad = jax.tree.map(lambda *gs: sum(wi * gi for wi, gi in zip(w, gs, strict=True)), *grads)
    return [np.array(p) for p in jax.tree.leaves(params)], loss, grad, pushes


@pytest.mark.parametrize(
    ("kind", "storage"), [("gcn", "host"), ("gcn", "device"), ("gcnii", "host")]
)
def test_step_equals_single_device_batches(ds, tmp_path, kind, storage):
    """Loss, gradients (SGD with lr 1: the update is -grad) and the shared histories after one
    4-device step equal single-device GAS on the same 4 batches."""
    model, gm, data, batches, parts, tables = _setup(ds, kind, tmp_path)
    params, want_loss, want_grad, pushes = _oracle(model, gm, batches, tables)
    expected = [t.copy() for t in tables]
    for p, pushed in zip(parts, pushes, strict=True):
        for t, rows in zip(expected, pushed, strict=True):
            push(History(t), np.asarray(rows), ranges=data.ranges(p))

    mesh = data_mesh(D)
    optimizer = nnx.Optimizer(model, optax.sgd(1.0), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    step = GASParallelStep.create(gm, graphdef, data, mesh, device_histories=storage == "device")
    hists = [History(t.copy()) for t in tables]
    if storage == "device":
        hists = [History(jax.device_put(h.emb)) for h in hists]
    new_state, loss, hists = step(replicate(state, mesh), batches, parts, hists)

    np.testing.assert_allclose(float(loss), want_loss, rtol=1e-5)
    nnx.update((model, optimizer), jax.device_get(new_state))
    after = jax.tree.leaves(nnx.state(model, nnx.Param))
    for b, a, want in zip(params, after, jax.tree.leaves(want_grad), strict=True):
        np.testing.assert_allclose(b - np.asarray(a), np.asarray(want), rtol=1e-4, atol=2e-7)
    for h, want in zip(hists, expected, strict=True):
        np.testing.assert_allclose(np.asarray(h.emb), want, atol=1e-6)
    assert any(not np.array_equal(h.emb, t) for h, t in zip(hists, tables, strict=True))


def test_filler_batch_counts_for_nothing(ds, tmp_path):
    """Three real batches plus a filler (no labels, nothing pushed) equal the three alone."""
    from jgnn.train._gas_parallel import _filler

    model, gm, data, batches, parts, tables = _setup(ds, "gcn", tmp_path)
    _, want_loss, _, _ = _oracle(model, gm, batches[:3], tables)
    mesh = data_mesh(D)
    optimizer = nnx.Optimizer(model, optax.sgd(1.0), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    step = GASParallelStep.create(gm, graphdef, data, mesh)
    hists = [History(t.copy()) for t in tables]
    batches[3] = _filler(batches[3], data.num_nodes)
    _, loss, hists = step(replicate(state, mesh), batches, [*parts[:3], None], hists)
    np.testing.assert_allclose(float(loss), want_loss, rtol=1e-5)
    rows = data.nodes(parts[3])
    for h, t in zip(hists, tables, strict=True):
        np.testing.assert_array_equal(h.emb[rows], t[rows])


@pytest.fixture(scope="module")
def single(ds):
    f = np.asarray(ds.graph.nodes).shape[1]
    model = GCN(f, 32, ds.num_classes, dropout=0.5, normalize=False, rngs=nnx.Rngs(1))
    return fit_gas(model, *_args(ds), tx=adam_l2(0.01, 5e-4), epochs=30, num_parts=16,
                   parts_per_batch=2)  # fmt: skip


@pytest.mark.parametrize("storage", ["host", "device"])
def test_parallel_training_learns_like_single_device(ds, single, storage):
    """4 devices, 2 steps per epoch (single-device fit_gas: 8): the loss falls and the test
    accuracy is within 3 points of fit_gas with the same settings (chance: 25%)."""
    kw = dict(tx=adam_l2(0.01, 5e-4), epochs=30, num_parts=16, parts_per_batch=2)

    def build():
        f = np.asarray(ds.graph.nodes).shape[1]
        return GCN(f, 32, ds.num_classes, dropout=0.5, normalize=False, rngs=nnx.Rngs(1))

    par = fit_gas_parallel(build(), *_args(ds), mesh=data_mesh(D), storage=storage, **kw)
    losses = [r["loss"] for r in par.history]
    assert losses[-1] < 0.5 * losses[0]
    assert par.metrics["num_devices"] == D and par.metrics["steps_per_epoch"] == 2
    assert par.metrics["test_accuracy"] > 0.5  # chance is 0.25
    assert abs(par.metrics["test_accuracy"] - single.metrics["test_accuracy"]) <= 0.03


def test_bad_input_is_named(ds, tmp_path):
    model, gm, data, batches, parts, tables = _setup(ds, "gcn", tmp_path)
    mesh = data_mesh(D)
    optimizer = nnx.Optimizer(model, optax.sgd(1.0), wrt=nnx.Param)
    graphdef, state = nnx.split((model, optimizer))
    state = replicate(state, mesh)
    step = GASParallelStep.create(gm, graphdef, data, mesh)
    hists = [History(t) for t in tables]
    with pytest.raises(ValueError, match="exactly 4 batches"):
        step(state, batches[:3], parts[:3], hists)
    with pytest.raises(ValueError, match="disjoint parts"):
        step(state, batches, [parts[0], parts[0], parts[2], parts[3]], hists)
    with pytest.raises(ValueError, match="needs 2 histories"):
        step(state, batches, parts, hists[:1])
    with pytest.raises(ValueError, match="mismatched hidden sizes"):
        step(state, batches, parts, [History(np.zeros((data.num_nodes, 8), np.float32))] * 2)
    with pytest.raises(ValueError, match="device history"):
        dev = GASParallelStep.create(gm, graphdef, data, mesh, device_histories=True)
        dev(state, batches, parts, hists)
    with pytest.raises(TypeError, match="GASModel"):
        GASParallelStep.create(model, graphdef, data, mesh)
    with pytest.raises(ValueError, match="4 devices but an epoch has 2 batches"):
        fit_gas_parallel(
            _model("gcn", ds), *_args(ds), tx=adam_l2(0.01, 0.0), epochs=1, num_parts=4,
            parts_per_batch=2, mesh=mesh,
        )  # fmt: skip
