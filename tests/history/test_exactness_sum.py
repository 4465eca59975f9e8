"""GIN and PNA (sum-type aggregators) under GAS equal the full-batch model to float32 precision."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from history.gas_oracle import PNA, full_batch, gas_exact

from jgnn.models import GIN
from jgnn.nn import degree_histogram


@pytest.mark.parametrize("name", ["gin", "pna"])
def test_sum_aggregators_match_to_float32_precision(name, csbm):
    x = np.asarray(csbm.graph.nodes)
    if name == "gin":
        model = GIN(x.shape[1], 16, csbm.num_classes, num_layers=3, rngs=nnx.Rngs(2))
    else:
        g = jax.tree.map(jnp.asarray, csbm.graph._replace(nodes=None))
        model = PNA(
            x.shape[1],
            16,
            csbm.num_classes,
            num_layers=2,
            deg=degree_histogram(g),
            rngs=nnx.Rngs(2),
        )
    ref = full_batch(model, csbm.graph, x, False)
    got, worst = gas_exact(model, csbm.graph, x, num_parts=8, k=2)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(got, ref, atol=1e-6 * scale, rtol=1e-5)
    assert worst <= 1e-5 * scale
