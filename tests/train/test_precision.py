"""Mixed precision: policies, loss scaling, and Cora accuracy against float32."""

import doctest
import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jgnn.graph import from_edge_index
from jgnn.models import GAT, GCN, GCNII, GraphSAGE
from jgnn.nn import gcn_norm
from jgnn.train import (
    FullGraphBatch,
    Policy,
    adam_l2,
    all_finite,
    apply_policy,
    dynamic_loss_scale,
    fit_full_graph,
    fit_node_classifier,
    full_graph_loss,
    init_train_state,
    make_train_step,
    no_loss_scale,
    precision_policy,
    static_loss_scale,
)

N, F, C = 120, 12, 4


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    edge_index = jnp.asarray(rng.integers(0, N, (2, 600)), jnp.int32)
    x = jnp.asarray(rng.normal(size=(N, F)), jnp.float32)
    y = jnp.asarray(rng.integers(0, C, N), jnp.int32)
    mask = jnp.asarray(rng.random(N) < 0.5)
    return edge_index, x, y, mask


def test_named_policies():
    assert precision_policy("bf16").compute_dtype == jnp.bfloat16
    assert precision_policy("bfloat16") is precision_policy("bf16")
    assert precision_policy("fp16").compute_dtype == jnp.float16
    for name in ("fp32", "tf32", "bf16", "fp16"):
        p = precision_policy(name)
        assert p.param_dtype == jnp.float32 and p.output_dtype == jnp.float32
    assert precision_policy("fp32").matmul_precision == "highest"
    assert precision_policy("tf32").matmul_precision == "tensorfloat32"
    custom = Policy(compute_dtype="bfloat16", output_dtype="bfloat16")
    assert precision_policy(custom) is custom
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        precision_policy("fp8")
    with pytest.raises(TypeError, match="`compute_dtype` must be a floating dtype, got int32"):
        Policy(compute_dtype=jnp.int32)
    with pytest.raises(ValueError, match="`matmul_precision` must be one of"):
        Policy(matmul_precision="fastest")


def test_casts_touch_floating_leaves_only():
    p = precision_policy("bf16")
    tree = {
        "x": jnp.ones(3),
        "ids": jnp.arange(3),
        "mask": jnp.ones(3, bool),
        "key": jax.random.key(0),
        "half": jnp.ones(2, jnp.float16),
    }
    out = p.cast_to_compute(tree)
    assert out["x"].dtype == jnp.bfloat16 and out["half"].dtype == jnp.bfloat16
    assert out["ids"].dtype == tree["ids"].dtype and out["mask"].dtype == jnp.bool_
    assert out["key"].dtype == tree["key"].dtype
    assert p.cast_to_output(out)["x"].dtype == jnp.float32


@pytest.mark.parametrize(
    "name, text",
    [("fp32", "precision = [HIGHEST, HIGHEST]"), ("tf32", "precision = [HIGH, HIGH]")],
)
def test_matmul_precision_reaches_the_compiled_step(toy, name, text):
    edge_index, x, y, mask = toy
    graphdef, state = init_train_state(GCN(F, 8, C, rngs=nnx.Rngs(0)), optax.sgd(0.1))
    step = make_train_step(graphdef, full_graph_loss, policy=name)
    lowered = jax.jit(step).lower(state, FullGraphBatch(edge_index, x, y, mask)).as_text()
    dots = [line for line in lowered.splitlines() if "dot_general" in line]
    assert dots and all(text in line for line in dots)


def _models():
    rngs = nnx.Rngs(0)
    return {
        "gcn": GCN(F, 16, C, rngs=rngs),
        "gat": GAT(F, 16, C, heads=2, rngs=rngs),
        "sage_layer_norm_jk": GraphSAGE(F, 16, C, norm="layer_norm", jk="cat", rngs=rngs),
        "gcnii": GCNII(F, 16, C, num_layers=4, alpha=0.1, theta=0.5, rngs=rngs),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_apply_policy_computes_low_and_stores_float32(toy, name):
    edge_index, x, _, _ = toy
    graph = edge_index
    if name == "gcnii":  # GCNII expects a graph normalised once (normalize=False)
        graph = gcn_norm(from_edge_index(edge_index, N), num_nodes=N)
    reference = _models()[name]
    want = reference(graph, x, deterministic=True)
    model = apply_policy(_models()[name], "bf16")
    layers = [m for _, m in nnx.iter_modules(model) if hasattr(m, "dtype")]
    assert layers and all(m.dtype == jnp.bfloat16 for m in layers)
    params = jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))
    assert {p.dtype for p in params} == {jnp.dtype(jnp.float32)}
    got = model(graph, x, deterministic=True)
    assert got.dtype == jnp.bfloat16  # computed in bf16 ...
    # ... and within bf16 rounding of the float32 model (8 mantissa bits, a few layers).
    scale = float(jnp.max(jnp.abs(want)))
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want), atol=0.05 * scale)


def test_apply_policy_brings_low_precision_storage_back_to_float32():
    model = GCN(F, 16, C, param_dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    before = jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))
    assert {p.dtype for p in before} == {jnp.dtype(jnp.bfloat16)}
    apply_policy(model, "bf16")
    after = jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))
    assert {p.dtype for p in after} == {jnp.dtype(jnp.float32)}
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(np.asarray(b, np.float32), np.asarray(a))
    with pytest.raises(TypeError, match="`model` must be an nnx.Module"):
        apply_policy("gcn", "bf16")


def _reference_scales(flags, initial, interval, factor, lo, hi):
    """Brute-force oracle of the dynamic loss-scale schedule."""
    scale, good, out = initial, 0, []
    for ok in flags:
        out.append(scale)
        if ok:
            good += 1
            if good == interval:
                scale, good = min(scale * factor, hi), 0
        else:
            scale, good = max(scale / factor, lo), 0
    out.append(scale)
    return out


def test_dynamic_loss_scale_follows_the_schedule():
    flags = [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1]
    ls = dynamic_loss_scale(8.0, growth_interval=3, factor=2.0, min_scale=1.0, max_scale=32.0)
    update = jax.jit(ls.update)
    state, scales = ls.init(), []
    for ok in flags:
        scales.append(float(state.scale))
        grads = {"w": jnp.array([2.0, -4.0]) * state.scale, "b": jnp.array(1.0 if ok else jnp.inf)}
        unscaled, finite, state = update(grads, state)
        assert bool(finite) == bool(ok)
        if ok:
            np.testing.assert_allclose(np.asarray(unscaled["w"]), [2.0, -4.0])
    scales.append(float(state.scale))
    assert scales == _reference_scales(flags, 8.0, 3, 2.0, 1.0, 32.0)
    assert state.scale.dtype == jnp.float32 and state.good_steps.dtype == jnp.int32


def test_static_and_no_loss_scale():
    s = static_loss_scale(4.0)
    state = s.init()
    assert float(s.scale(jnp.asarray(2.0), state)) == 8.0
    grads, ok, state2 = s.update({"w": jnp.array([8.0])}, state)
    assert float(grads["w"][0]) == 2.0 and bool(ok) and float(state2.scale) == 4.0
    _, ok, _ = s.update({"w": jnp.array([jnp.nan])}, state)
    assert not bool(ok)
    n = no_loss_scale()
    assert not n.guarded and float(n.scale(jnp.asarray(3.0), n.init())) == 3.0
    assert bool(all_finite({"a": jnp.ones(2), "i": jnp.arange(2)}))
    assert not bool(all_finite([jnp.array([1.0, jnp.inf])]))
    with pytest.raises(ValueError, match="`initial_scale` must be a positive number"):
        dynamic_loss_scale(0.0)
    with pytest.raises(ValueError, match="`factor` must be > 1"):
        dynamic_loss_scale(factor=1.0)
    with pytest.raises(ValueError, match="min_scale <= initial_scale <= max_scale"):
        dynamic_loss_scale(2.0**30, max_scale=2.0**24)
    with pytest.raises(TypeError, match="`growth_interval` must be an int"):
        dynamic_loss_scale(growth_interval=1.5)


def test_fp16_overflow_skips_the_update_and_backs_off(toy):
    """A scale of 2**40 overflows float16's backward pass: the step leaves the model state
    unchanged and halves the scale until the gradients are finite, then training proceeds."""
    edge_index, x, y, mask = toy
    ls = dynamic_loss_scale(2.0**40, growth_interval=10_000, max_scale=2.0**40)
    model = apply_policy(GCN(F, 16, C, rngs=nnx.Rngs(0)), "fp16")
    graphdef, state = init_train_state(model, optax.adam(0.01), loss_scale=ls)
    step = jax.jit(make_train_step(graphdef, full_graph_loss, policy="fp16", loss_scale=ls))
    batch = FullGraphBatch(edge_index, x, y, mask)
    skipped, losses = 0, []
    for _ in range(40):
        new, m = step(state, batch)
        if not bool(m["finite"]):
            skipped += 1
            for a, b in zip(
                jax.tree_util.tree_leaves(new.model), jax.tree_util.tree_leaves(state.model)
            ):
                if not jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
                    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
            assert float(new.loss_scale.scale) == float(state.loss_scale.scale) / 2
        else:
            losses.append(float(m["loss"]))
        state = new
    assert skipped >= 1 and 2.0**40 / float(state.loss_scale.scale) == 2.0**skipped
    assert len(losses) >= 10 and np.isfinite(losses).all() and losses[-1] < losses[0]
    params = jax.tree_util.tree_leaves(nnx.state(nnx.merge(graphdef, state.model)[0], nnx.Param))
    assert {p.dtype for p in params} == {jnp.dtype(jnp.float32)}


def test_fit_full_graph_fp32_matches_fit_node_classifier(toy):
    edge_index, x, y, mask = toy
    args = (edge_index, x, y, mask, ~mask, ~mask)
    tx = adam_l2(0.01, 5e-4)
    want = fit_node_classifier(
        GCN(F, 16, C, dropout=0.5, rngs=nnx.Rngs(3)), *args, tx=tx, epochs=8, progress=False
    )
    got = fit_full_graph(GCN(F, 16, C, dropout=0.5, rngs=nnx.Rngs(3)), *args, tx=tx, epochs=8)
    for w, g in zip(want.history, got.history, strict=True):
        for key in ("loss", "train_accuracy", "val_accuracy", "test_accuracy"):
            np.testing.assert_allclose(g[key], w[key], rtol=1e-6, atol=1e-7)
    assert got.metrics["test_accuracy"] == want.metrics["test_accuracy"]
    assert got.metrics["best_epoch"] == want.metrics["best_epoch"]


@pytest.fixture(scope="module")
def cora():
    if not os.environ.get("JGNN_DATA"):
        pytest.skip("JGNN_DATA is not set")
    from jgnn.datasets import load_planetoid, normalize_features
    from jgnn.models import RECIPES, prepare_features, prepare_graph

    data = load_planetoid("cora", download=False)
    recipe = RECIPES["gcn"]
    x = normalize_features(np.asarray(data.graph.nodes))
    graph = prepare_graph(data.graph, len(x), recipe)
    return data, recipe, graph, prepare_features(x, recipe), x.shape[1]


def _cora_run(cora, seed, policy):
    data, recipe, graph, x, num_features = cora
    model = recipe.build(
        num_features, data.num_classes, recipe.hidden, recipe.dropout, nnx.Rngs(seed)
    )
    tx = adam_l2(recipe.lr, recipe.weight_decay, decay_paths=recipe.decay_paths)
    masks = (data.train_mask, data.val_mask, data.test_mask)
    result = fit_full_graph(
        model, graph, x, data.labels, *masks, tx=tx, epochs=recipe.epochs, policy=policy
    )
    return model, result


def test_cora_gcn_low_precision_matches_float32(cora):
    seeds = (0, 1)
    runs = {p: [_cora_run(cora, s, p) for s in seeds] for p in ("fp32", "bf16", "fp16")}
    acc = {p: np.mean([r.metrics["test_accuracy"] for _, r in v]) for p, v in runs.items()}
    assert acc["fp32"] > 0.79  # the paper's GCN reaches 81.5%
    assert abs(acc["bf16"] - acc["fp32"]) <= 0.005, acc
    # float16 with dynamic loss scaling does not diverge: every loss finite, same accuracy.
    for model, result in runs["fp16"]:
        assert np.isfinite([h["loss"] for h in result.history]).all()
        assert result.history[-1]["loss"] < 0.6 * result.history[0]["loss"]
    assert abs(acc["fp16"] - acc["fp32"]) <= 0.005, acc
    for p in ("bf16", "fp16"):
        for model, _ in runs[p]:
            params = jax.tree_util.tree_leaves(nnx.state(model, nnx.Param))
            assert {a.dtype for a in params} == {jnp.dtype(jnp.float32)}


@pytest.mark.parametrize("module", ["_precision", "_loss_scale"])
def test_docstring_examples(module):
    result = doctest.testmod(
        importlib.import_module(f"jgnn.train.{module}"), optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.attempted > 0 and result.failed == 0
