"""Shared oracle of the exactness tests: the full-batch model vs GAS with exact histories."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jgnn.history import (
    GASBatches,
    GASData,
    GASModel,
    History,
    MiniInference,
    gas_forward,
    init_history,
    pull,
)
from jgnn.models import BasicGNN
from jgnn.nn import PNAConv, gcn_norm


class PNA(BasicGNN):
    """A PNA stack (Corso et al., 2020) on the BasicGNN base, as a user would write it."""

    def __init__(self, *args, deg, **kwargs):
        self._deg = deg
        super().__init__(*args, **kwargs)

    def make_conv(self, in_features, out_features, index, num_layers, **kwargs):
        return PNAConv(
            in_features,
            out_features,
            ["mean", "max", "std"],
            ["identity", "amplification"],
            self._deg,
            **kwargs,
        )


def full_batch(model, graph, x, normalize):
    g = jax.tree.map(jnp.asarray, graph._replace(nodes=None))
    if normalize:
        g = gcn_norm(g, num_nodes=x.shape[0])
    return np.asarray(nnx.jit(lambda m, g, x: m(g, x, deterministic=True))(model, g, x))


def gas_exact(model, graph, x, num_parts, k, storage="host"):
    """Exact GAS logits (original numbering) and the max error of training-batch forwards."""
    gm = GASModel(model, x.shape[1])
    data = GASData(graph, num_parts=num_parts, normalize=gm.program.normalize)
    xs = data.permute(x)
    n = data.num_nodes
    hists = [init_history(n, f, storage=storage) for f in gm.history_sizes]
    ctx = None if gm.context_size is None else init_history(n, gm.context_size, storage=storage)
    logits, hists, ctx = MiniInference(gm, data, xs, parts_per_batch=k)(model, hists, ctx)
    source = GASBatches(data, k, shuffle=True, seed=5)
    forward = nnx.jit(lambda m, b, h: gas_forward(gm.program, m, b, h, deterministic=True))
    worst = 0.0
    for i in range(len(source)):
        batch = source.pad(source.get(0, i))
        batch = batch.replace(x=pull(History(xs), batch.n_id))
        num_b = batch.node_blocks[0]
        halos = [jnp.asarray(pull(History(np.asarray(h.emb)), batch.n_id[num_b:])) for h in hists]
        out, pushed = forward(model, jax.device_put(batch), halos)
        ids = batch.n_id[:num_b]
        real = ids < n
        worst = max(worst, float(np.abs(np.asarray(out)[real] - logits[ids[real]]).max()))
        for p, h in zip(pushed, hists, strict=True):  # pushed rows are the exact embeddings
            np.testing.assert_allclose(np.asarray(p)[real], np.asarray(h.emb)[ids[real]], atol=1e-5)
    return data.unpermute(logits), worst
