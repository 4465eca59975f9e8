"""train_minibatch_recipe for every loader, and ExactEvaluator against direct computation."""

import numpy as np
import pytest
from flax import nnx

from jgnn import datasets
from jgnn.models import RECIPES, APPNPNet, GraphSAGE
from jgnn.train import ExactEvaluator, SamplerConfig, train_minibatch_recipe


@pytest.fixture(scope="module")
def data():
    return datasets.contextual_sbm(num_nodes=600, num_classes=3, num_features=16, seed=2)


@pytest.mark.parametrize(
    ("model", "sampler"),
    [
        ("sage", SamplerConfig("neighbor", num_neighbors=(5, 3), batch_size=16, trim=True)),
        ("gcn", SamplerConfig("cluster", num_parts=6, parts_per_batch=2)),
        ("gcn", SamplerConfig("saint-node", batch_size=150, num_steps=3)),
        ("sage", SamplerConfig("saint-edge", batch_size=100, num_steps=3)),
        ("sage", SamplerConfig("saint-rw", batch_size=60, walk_length=2, num_steps=3)),
    ],
)
def test_every_loader_trains_and_reports(data, model, sampler, tmp_path):
    x = np.asarray(data.graph.nodes)
    result = train_minibatch_recipe(
        model, data, x, sampler, epochs=3, eval_every=2, seed=1, cache_dir=tmp_path
    )
    m = result.metrics
    assert m["loader"] == sampler.loader and m["sampler"]["seed"] == 1
    assert m["hidden"] == RECIPES[model].hidden and m["epochs"] == 3
    assert [h["epoch"] for h in result.history] == [0, 1, 2]
    assert "val_accuracy" in result.history[0] and "val_accuracy" not in result.history[1]
    assert 0.0 <= m["test_accuracy"] <= 1.0 and m["best_epoch"] in (0, 2)
    assert m["node_waste"] >= 1.0 and m["edge_waste"] >= 1.0
    report = m["loader_report"]
    assert report["batches"] + report["skipped"] == 3 * result.history[0]["batches"] + sum(
        h["skipped_batches"] for h in result.history
    )
    assert 1 <= m["num_shapes"] <= 3 + len(report["grown"])
    assert m["batches_per_s"] > 0 and m["sampled_edges_per_s"] > 0
    assert 0.0 <= m["host_wait_share"] < 1.0


def test_fanouts_must_match_the_layers(data):
    with pytest.raises(ValueError, match="3 hops but the GraphSAGE has 2 layers"):
        train_minibatch_recipe(
            "sage", data, data.graph.nodes, SamplerConfig("neighbor", num_neighbors=(2, 2, 2))
        )
    with pytest.raises(ValueError, match="train_recipe"):
        train_minibatch_recipe("sage", data, data.graph.nodes, SamplerConfig("full"))


def _direct(logits, data):
    pred = np.argmax(np.asarray(logits), -1)
    return {
        f"{k}_accuracy": float(np.mean(pred[m] == data.labels[m]))
        for k, m in (("val", data.val_mask), ("test", data.test_mask))
    }


def test_exact_evaluator_matches_the_full_graph_model(data):
    x = np.asarray(data.graph.nodes)
    edges = np.stack([data.graph.senders, data.graph.receivers])
    masks = {"val": data.val_mask, "test": data.test_mask}
    evaluate = ExactEvaluator(x, edges, data.labels, masks, batch_size=100)
    sage = GraphSAGE(16, 8, 3, rngs=nnx.Rngs(0))
    appnp = APPNPNet(16, 8, 3, rngs=nnx.Rngs(0))  # no `inference`: one full-graph pass
    for model in (sage, appnp):
        got = evaluate(model)
        assert got == pytest.approx(_direct(model(edges, x, deterministic=True), data), abs=1e-9)
    with pytest.raises(ValueError, match="labels"):
        ExactEvaluator(x, edges, data.labels[:-1], masks)
    with pytest.raises(ValueError, match="mask 'val'"):
        ExactEvaluator(x, edges, data.labels, {"val": data.val_mask[:-1]})
