"""On Cora (``$JGNN_DATA``), GAS with exact histories equals full-batch GCN, GAT and GCNII."""

import numpy as np
import pytest
from flax import nnx
from history.gas_oracle import full_batch, gas_exact

from jgnn.models import GAT, GCN, GCNII


@pytest.mark.parametrize("name", ["gcn", "gat", "gcn2"])
def test_gas_equals_full_batch_on_cora(name, cora):
    ds, x = cora
    c = ds.num_classes
    build, normalize = {
        "gcn": (lambda: GCN(x.shape[1], 16, c, normalize=False, rngs=nnx.Rngs(0)), True),
        "gat": (lambda: GAT(x.shape[1], 64, c, heads=8, act=nnx.elu, rngs=nnx.Rngs(0)), False),
        "gcn2": (lambda: GCNII(x.shape[1], 64, c, num_layers=8, rngs=nnx.Rngs(0)), True),
    }[name]
    model = build()
    ref = full_batch(model, ds.graph, x, normalize)
    got, worst = gas_exact(model, ds.graph, x, num_parts=40, k=10)
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    assert worst <= 1e-5
