"""fit_gas: GNNAutoScale training against full-batch training and across transfer modes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jgnn import datasets
from jgnn.models import GCN, GCNII
from jgnn.nn import gcn_norm
from jgnn.train import adam_l2, fit_gas, fit_node_classifier


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("JGNN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def ds():
    return datasets.contextual_sbm(
        num_nodes=600, num_classes=4, num_features=16, avg_degree=6.0, seed=11
    )


def _args(ds):
    x = np.asarray(ds.graph.nodes)
    return ds.graph, x, ds.labels, ds.train_mask, ds.val_mask, ds.test_mask


def _params(model):
    return jax.tree.leaves(nnx.state(model, nnx.Param))


def test_one_part_is_full_batch_training(ds):
    """One part and no dropout: the GAS step is the full-batch step, epoch for epoch."""
    x = np.asarray(ds.graph.nodes)

    def build():
        return GCN(x.shape[1], 16, ds.num_classes, dropout=0.0, normalize=False, rngs=nnx.Rngs(4))

    gas_model, full_model = build(), build()
    gas = fit_gas(
        gas_model, *_args(ds), tx=adam_l2(0.01, 5e-4), epochs=15, num_parts=1, parts_per_batch=1
    )
    graph = gcn_norm(jax.tree.map(jnp.asarray, ds.graph._replace(nodes=None)), num_nodes=600)
    full = fit_node_classifier(
        full_model, graph, jnp.asarray(x), ds.labels, ds.train_mask, ds.val_mask,
        ds.test_mask, tx=adam_l2(0.01, 5e-4), epochs=15, progress=False,
    )  # fmt: skip
    np.testing.assert_allclose(
        [r["loss"] for r in gas.history], [r["loss"] for r in full.history], rtol=1e-5
    )
    for k in ("train_accuracy", "val_accuracy", "test_accuracy"):
        np.testing.assert_allclose(
            [r[k] for r in gas.history], [r[k] for r in full.history], atol=1e-6
        )
    for a, b in zip(_params(gas_model), _params(full_model), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    assert gas.metrics["budget"][1] == 0  # one part: no halo


def test_transfer_modes_and_storages_train_identically(ds, tmp_path):
    """Async transfers (with forwarding), sync transfers, memory-mapped and device histories
    give the same training: the push-before-pull rule holds in every mode."""
    results = {}
    for storage, transfers in [("host", "sync"), ("host", "async"), ("memmap", "async"),
                               ("device", "async")]:  # fmt: skip
        x = np.asarray(ds.graph.nodes)
        model = GCNII(x.shape[1], 16, ds.num_classes, num_layers=3, dropout=0.2, rngs=nnx.Rngs(0))
        res = fit_gas(
            model, *_args(ds), tx=adam_l2(0.01, 5e-4), epochs=4, num_parts=8, parts_per_batch=2,
            storage=storage, transfers=transfers, histories_dir=tmp_path / storage,
        )  # fmt: skip
        results[(storage, transfers)] = (res, _params(model))
    ref, ref_params = results[("host", "sync")]
    assert ref.metrics["forwarded_rows"] == 0
    assert results[("host", "async")][0].metrics["forwarded_rows"] > 0
    for key, (res, params) in results.items():
        np.testing.assert_allclose(
            [r["loss"] for r in res.history], [r["loss"] for r in ref.history], rtol=1e-5,
            err_msg=str(key),
        )  # fmt: skip
        for a, b in zip(params, ref_params, strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5, err_msg=str(key))


def test_gas_learns_as_well_as_full_batch(ds):
    x = np.asarray(ds.graph.nodes)

    def build():
        return GCN(x.shape[1], 32, ds.num_classes, dropout=0.5, normalize=False, rngs=nnx.Rngs(1))

    gas = fit_gas(
        build(), *_args(ds), tx=adam_l2(0.01, 5e-4), epochs=40, num_parts=6, parts_per_batch=2
    )
    graph = gcn_norm(jax.tree.map(jnp.asarray, ds.graph._replace(nodes=None)), num_nodes=600)
    full = fit_node_classifier(
        build(), graph, jnp.asarray(x), ds.labels, ds.train_mask, ds.val_mask, ds.test_mask,
        tx=adam_l2(0.01, 5e-4), epochs=40, progress=False,
    )  # fmt: skip
    m = gas.metrics
    assert abs(m["test_accuracy"] - full.metrics["test_accuracy"]) <= 0.05
    for key in ("val_accuracy", "best_epoch", "final_train_loss", "epoch_time_ms",
                "compile_time_s", "peak_memory_bytes", "eval_time_ms", "step_temp_bytes",
                "pull_ms_per_step", "pulled_bytes_per_step"):  # fmt: skip
        assert key in m
    assert m["pulled_bytes_per_step"] > 0 and m["step_argument_bytes"] > 0


def test_bad_options_are_named(ds):
    model = GCN(16, 8, 4, normalize=False, rngs=nnx.Rngs(0))
    kw = dict(tx=adam_l2(0.01, 0.0), epochs=1, num_parts=4, parts_per_batch=2)
    with pytest.raises(ValueError, match="storage"):
        fit_gas(model, *_args(ds), storage="gpu", **kw)
    with pytest.raises(ValueError, match="histories_dir"):
        fit_gas(model, *_args(ds), storage="memmap", **kw)
    with pytest.raises(ValueError, match="transfers"):
        fit_gas(model, *_args(ds), storage="device", transfers="sync", **kw)
    with pytest.raises(ValueError, match="parts_per_batch"):
        fit_gas(model, *_args(ds), **{**kw, "parts_per_batch": 5})


def test_recipe_glue_is_fit_gas_with_the_recipe(ds):
    import optax

    from jgnn.models import RECIPES
    from jgnn.train import train_gas_recipe

    x = np.asarray(ds.graph.nodes)
    got = train_gas_recipe("gcn", ds, x, num_parts=4, parts_per_batch=2, epochs=3, grad_norm=1.0)
    r = RECIPES["gcn"]
    model = r.build(x.shape[1], ds.num_classes, r.hidden, r.dropout, nnx.Rngs(0))
    tx = optax.chain(optax.clip_by_global_norm(1.0), adam_l2(r.lr, r.weight_decay, r.decay_paths))
    want = fit_gas(model, *_args(ds), tx=tx, epochs=3, num_parts=4, parts_per_batch=2)
    assert [h["loss"] for h in got.history] == [h["loss"] for h in want.history]
    assert got.metrics["hidden"] == r.hidden and got.metrics["grad_norm"] == 1.0
    with pytest.raises(KeyError, match="unknown model"):
        train_gas_recipe("nope", ds, x, num_parts=4, parts_per_batch=2)
