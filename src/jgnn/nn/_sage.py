"""GraphSAGE of Hamilton, Ying & Leskovec, "Inductive Representation Learning on Large Graphs"
(NeurIPS 2017): ``x'_i = W_l aggr_{j -> i} x_j + W_r x_i + b``, optionally L2-normalised.

The math is :func:`sage_conv`; :class:`SAGEConv` only owns the parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn import fn
from jgnn.nn._features import NodeFeatures, as_pair, prepare_x, split_x
from jgnn.nn._linear import apply_linear, linear_params
from jgnn.nn._neighborhood import aggregate_linear, check_aggregate
from jgnn.sparse import Graph

__all__ = ["SAGEConv", "sage_conv"]

_AGGREGATES = ("mean", "max", "sum")


def _check_aggr(aggr: str | Sequence[str], layer: str) -> str | tuple[str, ...]:
    """One aggregate, or a non-empty sequence of them (results concatenated)."""
    if isinstance(aggr, str):
        return check_aggregate(aggr, _AGGREGATES, layer)
    aggr = tuple(aggr)
    if not aggr:
        raise ValueError(f"{layer}: aggr must be a name or a non-empty list of names, got []")
    return tuple(check_aggregate(a, _AGGREGATES, layer) for a in aggr)


def l2_normalize(x: jax.Array, eps: float = 1e-12) -> jax.Array:
    """``x / max(||x||_2, eps)`` over the last axis (PyG's ``F.normalize``), finite at 0."""
    sq = jnp.sum(jnp.square(x.astype(jnp.float32)), axis=-1, keepdims=True)
    return (x * jax.lax.rsqrt(jnp.maximum(sq, eps * eps)).astype(x.dtype)).astype(x.dtype)


def sage_conv(
    graph: Graph,
    x: NodeFeatures,
    kernel: jax.Array,
    bias: jax.Array | None = None,
    *,
    root_kernel: jax.Array | None = None,
    project_kernel: jax.Array | None = None,
    project_bias: jax.Array | None = None,
    aggr: str | Sequence[str] = "mean",
    normalize: bool = False,
) -> jax.Array:
    """One GraphSAGE layer as a pure function (see :class:`SAGEConv` for the maths).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t`` (its stored
        values are ignored, as in PyG: every edge counts once).
      x: node features ``[N, F]`` (dense, or a ``SparseTensor`` with a sum/mean aggregate:
        the neighbours are then projected by a sparse product before aggregating), or
        ``(x_src [N_src, F_src], x_dst [N_dst, F_dst])``.
      kernel: ``[A * F_src, F_out]`` applied to the aggregated neighbours (``A`` aggregates).
      bias: optional ``[F_out]``.
      root_kernel: optional ``[F_dst, F_out]`` applied to the node itself.
      project_kernel: optional ``[F_src, F_src]``: neighbours become
        ``relu(x_j @ project_kernel + project_bias)`` before aggregation.
      project_bias: optional ``[F_src]``.
      aggr: ``"mean"``, ``"max"``, ``"sum"`` (alias ``"add"``) or a list of those (results
        concatenated on the feature axis, PyG's multi-aggregation).
      normalize: L2-normalise each output row.

    Returns:
      ``[N_dst, F_out]``.
    """
    aggr = _check_aggr(aggr, "sage_conv")
    x_src, x_dst, bipartite = split_x(x, "sage_conv", allow_sparse=True)
    if project_kernel is not None:
        x_src = jax.nn.relu(apply_linear(x_src, project_kernel, project_bias))
        bipartite = True  # x_src no longer is x_dst
    out = aggregate_linear(
        graph, x_src, x_dst, kernel, bipartite=bipartite, aggregate=aggr, message=fn.copy_u
    )
    if bias is not None:
        out = out + bias
    if root_kernel is not None:
        out = out + x_dst @ root_kernel
    return l2_normalize(out) if normalize else out


class SAGEConv(nnx.Module):
    """GraphSAGE layer (Hamilton et al., NeurIPS 2017), in the layout of PyG's ``SAGEConv``.

    ``x'_i = W_l aggr_{j in N(i)} x_j + W_r x_i + b``, then ``x'_i / ||x'_i||_2`` when
    ``normalize``. ``W_l`` (with the bias) is ``lin_l``, ``W_r`` is ``lin_r`` and the optional
    projection ``relu(W x_j + b)`` of the paper's pooling aggregator is ``lin``, PyG's names.

    Departures from the paper: the root term has its own weight added to the aggregate instead
    of being concatenated with it (an equivalent parametrisation, PyG's); ``aggr="sum"`` and
    aggregate lists are PyG's extensions; the LSTM aggregator is not provided. For sum/mean
    with ``out_features < in_features`` the neighbours are projected before aggregation (exact
    up to rounding, cheaper). A ``SparseTensor`` ``adj_t`` takes the fused sparse-product path
    (one aggregate); its stored values are ignored, as in PyG.

    Shapes:
      - input: a GraphsTuple, edge index ``[2, E]`` or ``SparseTensor`` ``adj_t``; node
        features ``[N, in_features]`` (dense, or a ``SparseTensor`` with sum/mean) or
        ``([N_src, F_src], [N_dst, F_dst])`` (e.g. a sampled bipartite block).
      - output: ``[N_dst, out_features]``.

    Args:
      in_features: input size, or ``(F_src, F_dst)`` for bipartite inputs.
      out_features: output size.
      aggr: ``"mean"``, ``"max"``, ``"sum"`` (alias ``"add"``), or a list of those.
      normalize: L2-normalise the output rows.
      root_weight: add the transformed root features ``W_r x_i``.
      project: project the neighbours with ``relu(W x_j + b)`` before aggregating.
      use_bias: learn an additive bias.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: random number generators for initialisation (keyword-only).

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> conv = SAGEConv(4, 2, rngs=nnx.Rngs(0))
      >>> conv(jnp.array([[0, 1], [1, 2]]), jnp.ones((3, 4))).shape
      (3, 2)
    """

    def __init__(
        self,
        in_features: int | tuple[int, int],
        out_features: int,
        *,
        aggr: str | Sequence[str] = "mean",
        normalize: bool = False,
        root_weight: bool = True,
        project: bool = False,
        use_bias: bool = True,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.aggr = _check_aggr(aggr, "SAGEConv")
        self.in_features = as_pair(in_features)
        self.out_features = out_features
        self.normalize = normalize
        self.dtype = dtype
        in_src, in_dst = self.in_features
        n_aggr = 1 if isinstance(self.aggr, str) else len(self.aggr)
        kw = dict(param_dtype=param_dtype, rngs=rngs)
        self.lin = nnx.Linear(in_src, in_src, **kw) if project else None
        self.lin_l = nnx.Linear(n_aggr * in_src, out_features, use_bias=use_bias, **kw)
        self.lin_r = nnx.Linear(in_dst, out_features, use_bias=False, **kw) if root_weight else None

    def __call__(self, graph: Graph, x: NodeFeatures) -> jax.Array:
        x, dtype = prepare_x(x, self.in_features, self.dtype, "SAGEConv", allow_sparse=True)
        kernel, bias = linear_params(self.lin_l, dtype)
        root_kernel, _ = linear_params(self.lin_r, dtype)
        project_kernel, project_bias = linear_params(self.lin, dtype)
        return sage_conv(
            graph,
            x,
            kernel,
            bias,
            root_kernel=root_kernel,
            project_kernel=project_kernel,
            project_bias=project_bias,
            aggr=self.aggr,
            normalize=self.normalize,
        )
