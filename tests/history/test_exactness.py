"""With exact histories, GAS equals the full-batch model (the models themselves are the oracle).

``MiniInference`` fills every history layer by layer; then (1) its logits and (2) the GAS
forward of shuffled training batches, whose halo rows come from the histories, must both equal
the full-batch forward of the same model on the whole graph.
"""

import numpy as np
import pytest
from flax import nnx
from history.gas_oracle import full_batch, gas_exact

from jgnn.models import GAT, GCN, GCNII, APPNPNet, GraphSAGE

MODELS = {
    "gcn": (lambda f, c, r: GCN(f, 32, c, num_layers=3, normalize=False, rngs=r), True),
    "gat": (lambda f, c, r: GAT(f, 32, c, heads=4, num_layers=3, act=nnx.elu, rngs=r), False),
    "gcn2": (lambda f, c, r: GCNII(f, 16, c, num_layers=6, rngs=r), True),
    "appnp": (lambda f, c, r: APPNPNet(f, 16, c, k=4, rngs=r), False),
    "sage": (lambda f, c, r: GraphSAGE(f, 16, c, num_layers=2, rngs=r), False),
    "gcn_jk_bn_res": (
        lambda f, c, r: GCN(
            f,
            16,
            c,
            num_layers=3,
            normalize=False,
            jk="cat",
            norm="batch_norm",
            residual=True,
            rngs=r,
        ),
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_gas_equals_full_batch_on_a_random_graph(name, csbm):
    build, normalize = MODELS[name]
    x = np.asarray(csbm.graph.nodes)
    model = build(x.shape[1], csbm.num_classes, nnx.Rngs(1))
    ref = full_batch(model, csbm.graph, x, normalize)
    got, worst = gas_exact(model, csbm.graph, x, num_parts=8, k=3)
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    assert worst <= 1e-5


def test_device_histories_give_the_same_result(csbm):
    x = np.asarray(csbm.graph.nodes)
    model = GCNII(x.shape[1], 16, csbm.num_classes, num_layers=3, rngs=nnx.Rngs(0))
    host, _ = gas_exact(model, csbm.graph, x, num_parts=8, k=4)
    dev, worst = gas_exact(model, csbm.graph, x, num_parts=8, k=4, storage="device")
    np.testing.assert_allclose(dev, host, atol=1e-6)
    assert worst <= 1e-5


def test_a_single_layer_needs_no_history(csbm):
    x = np.asarray(csbm.graph.nodes)
    model = GCN(x.shape[1], 16, csbm.num_classes, num_layers=1, normalize=False, rngs=nnx.Rngs(3))
    ref = full_batch(model, csbm.graph, x, True)
    got, worst = gas_exact(model, csbm.graph, x, num_parts=4, k=2)
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    assert worst <= 1e-5
