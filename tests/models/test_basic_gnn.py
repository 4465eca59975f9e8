"""BasicGNN models against layer-by-layer recomputation."""

import jax
import jax.numpy as jnp
import pytest
from flax import nnx
from nn.layer_checks import assert_close, check_padding_invariance, random_graph

from jgnn.models import GAT, GCN, RECIPES


def manual_forward(model, graph, x):
    """Deterministic forward recomputed from the model's own layers."""
    xs = []
    for i, conv in enumerate(model.convs):
        h = model.apply_conv(conv, graph, x, True)
        if i < model.num_layers - 1 or model.jk:
            h = model.act(h)
            if model.residual and h.shape == x.shape:
                h = h + x
        x = h
        xs.append(x)
    return xs


@pytest.mark.parametrize("jk", [None, "last", "cat", "max"])
def test_jumping_knowledge_combines_layer_outputs(jk):
    graph, x, _ = random_graph(seed=0)
    model = GCN(8, 16, 3, num_layers=3, jk=jk, rngs=nnx.Rngs(0))
    out = model(graph, x, deterministic=True)
    xs = manual_forward(model, graph, x)
    if jk is None:
        expect = xs[-1]
    else:
        combined = {
            "last": xs[-1],
            "cat": jnp.concatenate(xs, -1),
            "max": jnp.max(jnp.stack(xs), 0),
        }[jk]
        expect = model.lin(combined)
    assert out.shape == (12, 3)
    assert_close(out, expect)


def test_residual_adds_inputs_where_shapes_agree():
    graph, x, _ = random_graph(seed=1)
    model = GCN(8, 8, 8, num_layers=3, residual=True, rngs=nnx.Rngs(0))
    assert_close(model(graph, x, deterministic=True), manual_forward(model, graph, x)[-1])


def test_batch_norm_uses_running_stats_in_eval():
    graph, x, _ = random_graph(seed=2)
    model = GCN(8, 16, 3, num_layers=2, norm="batch_norm", rngs=nnx.Rngs(0))
    before = model(graph, x, deterministic=True)
    model(graph, x, deterministic=False)  # updates the running statistics
    after = model(graph, x, deterministic=True)
    assert not jnp.allclose(before, after)
    assert_close(after, model(graph, x, deterministic=True))


def test_gat_model_heads_and_padding():
    graph, x, _ = random_graph(seed=3)
    model = GAT(8, 16, 3, heads=4, dropout=0.5, act=nnx.elu, rngs=nnx.Rngs(0))
    assert model.convs[0].heads == 4 and model.convs[-1].heads == 1
    call = lambda g, x, ea: model(g, x, deterministic=True)
    check_padding_invariance(call, graph, x, None)
    with pytest.raises(ValueError, match="divisible"):
        GAT(8, 10, 3, heads=4, rngs=nnx.Rngs(0))


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="jk"):
        GCN(8, 16, 3, jk="lstm", rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="num_layers"):
        GCN(8, 16, 3, num_layers=0, rngs=nnx.Rngs(0))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipes_build_models_that_run(name):
    recipe = RECIPES[name]
    graph, x, _ = random_graph(seed=4)
    from jgnn.models import prepare_graph

    model = recipe.build(8, 3, recipe.hidden, recipe.dropout, nnx.Rngs(0))
    out = jax.jit(lambda g, x: model(g, x, deterministic=True))(prepare_graph(graph, 12, recipe), x)
    assert out.shape == (12, 3) and bool(jnp.all(jnp.isfinite(out)))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_prepared_sparse_features_give_the_dense_result(name):
    from jgnn.models import prepare_features, prepare_graph
    from jgnn.sparse import SparseTensor

    recipe = RECIPES[name]
    graph, x, _ = random_graph(seed=5)
    x = jnp.where(x >= jnp.sort(x.ravel())[-6], x, 0.0)  # 6 of 96 non-zero, like bag-of-words
    feats = prepare_features(x, recipe)
    assert isinstance(feats, SparseTensor) == recipe.sparse_features
    model = recipe.build(8, 3, recipe.hidden, recipe.dropout, nnx.Rngs(0))
    g = prepare_graph(graph, 12, recipe)
    run = jax.jit(lambda g, f: model(g, f, deterministic=True))
    assert_close(run(g, feats), run(g, x))


def test_residual_with_sparse_input_features():
    from jgnn.sparse import SparseTensor

    graph, x, _ = random_graph(seed=6)
    x = jnp.where(x > 1.0, x, 0.0)
    model = GCN(8, 8, 8, num_layers=2, residual=True, rngs=nnx.Rngs(0))
    run = lambda f: model(graph, f, deterministic=True)
    assert_close(run(SparseTensor.from_dense(x)), run(x))


@pytest.mark.parametrize("name", [n for n in sorted(RECIPES) if RECIPES[n].sparse_adjacency])
def test_prepared_sparse_adjacency_gives_the_edge_list_result(name):
    import dataclasses

    from jgnn.models import prepare_graph
    from jgnn.sparse import SparseTensor

    recipe = RECIPES[name]
    graph, x, _ = random_graph(seed=7)
    adj_t = prepare_graph(graph, 12, recipe)
    edges = prepare_graph(graph, 12, dataclasses.replace(recipe, sparse_adjacency=False))
    assert isinstance(adj_t, SparseTensor) and not isinstance(edges, SparseTensor)
    model = recipe.build(8, 3, recipe.hidden, recipe.dropout, nnx.Rngs(0))
    run = jax.jit(lambda g, f: model(g, f, deterministic=True))
    assert_close(run(adj_t, x), run(edges, x))
