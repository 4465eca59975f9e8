"""train_recipe: the CLI's and the benchmark's glue equals the explicit composition."""

import numpy as np
import pytest
from flax import nnx

from jgnn import datasets
from jgnn.models import RECIPES, prepare_features, prepare_graph
from jgnn.train import adam_l2, fit_node_classifier, train_recipe


@pytest.mark.parametrize("model", ["gcn", "sage"])
def test_train_recipe_equals_the_explicit_composition(model):
    data = datasets.load("synthetic", num_nodes=300, num_classes=3, num_features=8, seed=1)
    x = np.asarray(data.graph.nodes)
    recipe = RECIPES[model]
    got = train_recipe(model, data, x, seed=2, epochs=5, hidden=8)
    net = recipe.build(x.shape[1], data.num_classes, 8, recipe.dropout, nnx.Rngs(2))
    want = fit_node_classifier(
        net,
        prepare_graph(data.graph, len(x), recipe),
        prepare_features(x, recipe),
        data.labels,
        data.train_mask,
        data.val_mask,
        data.test_mask,
        tx=adam_l2(recipe.lr, recipe.weight_decay, decay_paths=recipe.decay_paths),
        epochs=5,
        progress=False,
    )
    assert [h["loss"] for h in got.history] == [h["loss"] for h in want.history]
    assert got.metrics["test_accuracy"] == want.metrics["test_accuracy"]
    assert got.metrics["hidden"] == 8 and got.metrics["lr"] == recipe.lr
    assert got.metrics["epochs"] == 5


def test_unknown_recipe_is_named():
    data = datasets.load("synthetic", num_nodes=50, num_classes=2, num_features=4)
    with pytest.raises(KeyError, match="unknown model 'mlp'"):
        train_recipe("mlp", data, np.asarray(data.graph.nodes))
