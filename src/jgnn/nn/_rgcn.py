"""Relational graph convolution of Schlichtkrull et al., "Modeling Relational Data with Graph
Convolutional Networks" (ESWC 2018).

``x'_i = W_root x_i + sum_r agg_{j in N_r(i)} W_r x_j + b``: one weight per relation (edge
type), optionally regularised by a basis decomposition ``W_r = sum_b a_rb V_b`` or a
block-diagonal one ``W_r = diag(Q_r1, ..., Q_rB)``.

Every relation's transform is applied to every source node first (``[N, R, F_out]``), then one
message-passing step gathers row ``(j, r_e)`` for each edge ``e = j -> i`` and reduces each
relation separately (the paper's ``1 / |N_r(i)|`` normalisation for ``aggr="mean"``). That is
a single gather/scatter over the edges whatever the number of relations, with no per-relation
loop or edge masking, so it stays jittable with static shapes; the price is the ``N R F_out``
projection, which is cheap for the usual handful of relations. ``max``/``min`` are not linear,
so there (as in PyG) the raw features are reduced per ``(destination, relation)`` first and
transformed after. :func:`rgcn_conv` holds the math; :class:`RGCNConv` only owns the
parameters.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jgnn._checks import is_traced
from jgnn.message_passing import propagate
from jgnn.segment import segment_count, segment_max, segment_min
from jgnn.sparse import Graph, SparseTensor, endpoints

__all__ = ["RGCNConv", "rgcn_conv"]

NodeFeatures = jax.Array | tuple[jax.Array, jax.Array] | None
AGGRS = ("mean", "sum", "add", "max", "min")


def _relation_projection(
    x: jax.Array | None, weight: jax.Array, comp: jax.Array | None
) -> jax.Array:
    """``H[n, r] = W_r x_n`` (``x`` ``[N, F_in]``) or ``W_r x_nr`` (``x`` ``[N, R, F_in]``), as
    ``[N, R, F_out]``, for the three weight layouts.

    ``x=None`` means one-hot node ids (featureless nodes): ``H[n, r]`` is row ``n`` of ``W_r``.
    """
    if x is None:
        if comp is not None:
            return jnp.einsum("rb,bno->nro", comp, weight)
        return weight.transpose(1, 0, 2)
    rel = "r" if x.ndim == 3 else ""
    if comp is not None:  # bases V [B, F_in, F_out], coefficients a [R, B]
        return jnp.einsum(f"n{rel}i,rb,bio->nro", x, comp, weight)
    if weight.ndim == 4:  # blocks Q [R, B, F_in / B, F_out / B]
        r, b, bi, bo = weight.shape
        xb = x.reshape(*x.shape[:-1], b, bi)
        return jnp.einsum(f"n{rel}bi,rbio->nrbo", xb, weight).reshape(x.shape[0], r, b * bo)
    return jnp.einsum(f"n{rel}i,rio->nro", x, weight)


def _check_edge_type(edge_type: jax.Array, num_edges: int, num_relations: int) -> jax.Array:
    edge_type = jnp.asarray(edge_type)
    if edge_type.shape not in ((num_edges,), (num_edges, 1)):
        raise ValueError(
            f"edge_type must have shape ({num_edges},), one relation id per edge, got "
            f"{edge_type.shape}"
        )
    if not is_traced(edge_type):  # values are only checkable outside jit
        types = np.asarray(edge_type)
        if types.size and (
            types.min() < 0 or types.max() >= num_relations or (types != np.round(types)).any()
        ):
            raise ValueError(
                f"edge_type values must be integers in [0, {num_relations}), got values in "
                f"[{types.min()}, {types.max()}]"
            )
    return edge_type.reshape(-1).astype(jnp.int32)


def rgcn_conv(
    graph: Graph,
    x: NodeFeatures,
    edge_type: jax.Array,
    weight: jax.Array,
    *,
    comp: jax.Array | None = None,
    root: jax.Array | None = None,
    bias: jax.Array | None = None,
    aggr: str = "mean",
    num_nodes: int | tuple[int, int] | None = None,
) -> jax.Array:
    """One R-GCN layer as a pure function (see :class:`RGCNConv`).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t`` (read through
        its COO view: the message ``W_r x_j`` depends on the edge's type, so it is not one
        sparse-dense product).
      x: node features ``[N, F_in]``, a bipartite pair ``(x_src, x_dst)``, or None for
        featureless nodes (one-hot ids; then ``N = F_in`` and ``root`` rows are gathered).
      edge_type: ``[E]`` integer relation of each edge, in the graph's edge order.
      weight: ``[R, F_in, F_out]``; ``[B, F_in, F_out]`` bases with ``comp``; or
        ``[R, B, F_in / B, F_out / B]`` diagonal blocks.
      comp: ``[R, B]`` basis coefficients.
      root: optional ``[F_in_dst, F_out]`` self-connection weight.
      bias: optional ``[F_out]``.
      aggr: ``"mean"`` (per relation, the paper's ``1 / |N_r(i)|``), ``"sum"``/``"add"``,
        ``"max"`` or ``"min"`` (of the raw features per relation, then transformed and
        summed over relations, as in PyG).
      num_nodes: static ``N`` or ``(N_src, N_dst)``, needed only when ``x`` is None and the
        graph is not a SparseTensor with ``N_dst != N_src``.

    Returns:
      ``[N_dst, F_out]``.

    Raises:
      ValueError: an unknown ``aggr``, badly shaped or (outside ``jit``) out-of-range edge
        types, block decomposition without features.
    """
    if aggr not in AGGRS:
        raise ValueError(f"aggr must be one of {AGGRS}, got {aggr!r}")
    num_relations = comp.shape[0] if comp is not None else weight.shape[0]
    if isinstance(x, tuple):
        x_src, x_dst = x
    else:
        x_src = x_dst = x
    if x_src is None and weight.ndim == 4:
        raise ValueError("RGCN's block-diagonal decomposition needs node features, got x=None")
    n_src = x_src.shape[0] if x_src is not None else weight.shape[-2]
    if isinstance(graph, SparseTensor):
        n_dst = graph.sparse_sizes()[0]
    elif x_dst is not None:
        n_dst = x_dst.shape[0]
    elif isinstance(num_nodes, tuple):
        n_dst = num_nodes[1]
    else:
        n_dst = n_src if num_nodes is None else num_nodes
    src, dst = endpoints(graph)
    edge_type = _check_edge_type(edge_type, src.shape[0], num_relations)

    key = dst * num_relations + edge_type  # the (destination, relation) segment of each edge
    if aggr in ("max", "min") and x_src is not None:
        # As PyG: reduce the raw features per relation, then transform (max is not linear).
        reduce = segment_max if aggr == "max" else segment_min

        def per_relation(messages, index, num_segments):
            out = reduce(messages, key, num_segments * num_relations)
            return out.reshape(num_segments, num_relations, -1)

        # The edge list (a SparseTensor's values are the types, not weights to apply).
        edges = jnp.stack([src, dst])
        z = propagate(edges, (x_src, None), aggregate=per_relation, num_nodes=(n_src, n_dst))
        out = _relation_projection(z, weight, comp).sum(axis=1)
    else:
        h = _relation_projection(x_src, weight, comp).reshape(n_src * num_relations, -1)
        # Edge j -> i of relation r reads row (j, r) of the projection.
        rel_graph = jnp.stack([src * num_relations + edge_type, dst])
        counts = (n_src * num_relations, n_dst)
        if aggr == "mean":
            count = segment_count(key, n_dst * num_relations, dtype=h.dtype)
            norm = 1.0 / jnp.maximum(count[key], jnp.ones((), h.dtype))
            out = propagate(rel_graph, (h, None), edge_attr=norm, num_nodes=counts)
        elif aggr in ("sum", "add"):
            out = propagate(rel_graph, (h, None), num_nodes=counts)
        else:  # featureless max/min: over the rows W_r[j] (PyG's choice too)
            reduce = segment_max if aggr == "max" else segment_min

            def per_relation_sum(messages, index, num_segments):
                out = reduce(messages, key, num_segments * num_relations)
                return out.reshape(num_segments, num_relations, -1).sum(axis=1)

            out = propagate(rel_graph, (h, None), aggregate=per_relation_sum, num_nodes=counts)
    if root is not None:
        out = out + (root[:n_dst] if x_dst is None else x_dst @ root)
    return out if bias is None else out + bias


class RGCNConv(nnx.Module):
    """Relational graph convolution (Schlichtkrull et al., ESWC 2018).

    ``x'_i = W_root x_i + sum_r (1 / |N_r(i)|) sum_{j in N_r(i)} W_r x_j + b`` where
    ``N_r(i)`` are the in-neighbours of ``i`` through edges of relation ``r``. With
    ``num_bases`` the relation weights share ``B`` bases (``W_r = sum_b a_rb V_b``); with
    ``num_blocks`` they are block-diagonal. ``aggr`` may also be ``"sum"``, or ``"max"``/
    ``"min"`` (``sum_r W_r max_{j in N_r(i)} x_j``: raw features reduced per relation, then
    transformed, as in PyG).

    Departures: the paper's self-connection and bias are optional (``root_weight``,
    ``use_bias``), as in PyG. Computation order for mean/sum: all relation transforms are
    applied to the source nodes first and each edge gathers its relation's row (one pass over
    the edges; see the module docstring), where PyG loops over relations; the results agree.
    Edge types outside ``[0, num_relations)`` raise outside ``jit`` and give wrong results
    under it.

    Parameters (PyG's names and layouts, no transposes): ``weight`` ``[R, in, out]`` (or bases
    ``[B, in, out]`` with ``comp`` ``[R, B]``, or blocks ``[R, B, in / B, out / B]``),
    ``root`` ``[in_dst, out]``, ``bias`` ``[out]``.

    Shapes:
      - input: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t`` with
        ``N`` nodes and ``E`` edges; node features ``[N, in_features]`` (or a bipartite pair,
        or None for featureless nodes with ``N = in_features``); edge types ``[E]`` int (for
        a SparseTensor, by default its values, PyG's convention).
      - output: ``[N_dst, out_features]``.

    Args:
      in_features: input size, or ``(in_src, in_dst)`` for bipartite inputs; for featureless
        nodes, the number of nodes.
      out_features: output size.
      num_relations: number of relations ``R``.
      num_bases: use a basis decomposition with this many bases.
      num_blocks: use a block-diagonal decomposition with this many blocks.
      aggr: ``"mean"`` (default), ``"sum"``/``"add"``, ``"max"``, ``"min"``.
      root_weight: add ``W_root x_i``.
      use_bias: add a learnable bias.
      dtype: computation dtype (None: from the inputs, float32 for featureless nodes).
      param_dtype: parameter storage dtype.
      rngs: random number generators for initialisation (keyword-only).

    Raises:
      ValueError: both decompositions, sizes not divisible by ``num_blocks``, or an unknown
        ``aggr``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> conv = RGCNConv(4, 8, num_relations=3, num_bases=2, rngs=nnx.Rngs(0))
      >>> edge_index, edge_type = jnp.array([[0, 1, 2], [1, 2, 0]]), jnp.array([0, 2, 1])
      >>> conv(edge_index, jnp.ones((3, 4)), edge_type).shape
      (3, 8)
    """

    def __init__(
        self,
        in_features: int | tuple[int, int],
        out_features: int,
        num_relations: int,
        *,
        num_bases: int | None = None,
        num_blocks: int | None = None,
        aggr: str = "mean",
        root_weight: bool = True,
        use_bias: bool = True,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        if num_bases is not None and num_blocks is not None:
            raise ValueError(
                "RGCNConv takes num_bases or num_blocks (one decomposition), got both: "
                f"num_bases={num_bases}, num_blocks={num_blocks}"
            )
        if aggr not in AGGRS:
            raise ValueError(f"aggr must be one of {AGGRS}, got {aggr!r}")
        in_src, in_dst = in_features if isinstance(in_features, tuple) else (in_features,) * 2
        self.in_features = in_features
        self.out_features = out_features
        self.num_relations = num_relations
        self.num_bases = num_bases
        self.num_blocks = num_blocks
        self.aggr = aggr
        self.dtype = dtype
        glorot = nnx.initializers.glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(0,))
        key = rngs.params
        if num_bases is not None:
            shape = (num_bases, in_src, out_features)
            self.comp = nnx.Param(
                nnx.initializers.glorot_uniform()(key(), (num_relations, num_bases), param_dtype)
            )
        elif num_blocks is not None:
            if in_src % num_blocks or out_features % num_blocks:
                raise ValueError(
                    f"RGCNConv: in_features={in_src} and out_features={out_features} must be "
                    f"divisible by num_blocks={num_blocks}"
                )
            shape = (num_relations, num_blocks, in_src // num_blocks, out_features // num_blocks)
            glorot = nnx.initializers.glorot_uniform(in_axis=-2, out_axis=-1, batch_axis=(0, 1))
            self.comp = None
        else:
            shape = (num_relations, in_src, out_features)
            self.comp = None
        self.weight = nnx.Param(glorot(key(), shape, param_dtype))
        self.root = (
            nnx.Param(nnx.initializers.glorot_uniform()(key(), (in_dst, out_features), param_dtype))
            if root_weight
            else None
        )
        self.bias = nnx.Param(jnp.zeros((out_features,), param_dtype)) if use_bias else None

    def __call__(
        self, graph: Graph, x: NodeFeatures, edge_type: jax.Array | None = None
    ) -> jax.Array:
        in_src, in_dst = (
            self.in_features if isinstance(self.in_features, tuple) else (self.in_features,) * 2
        )
        pair = x if isinstance(x, tuple) else (x, x)
        for name, value, size in (("x_src", pair[0], in_src), ("x_dst", pair[1], in_dst)):
            if value is not None and (value.ndim != 2 or value.shape[1] != size):
                raise ValueError(
                    f"RGCNConv expects {name if isinstance(x, tuple) else 'x'} [N, {size}], "
                    f"got {tuple(value.shape)}"
                )
        if edge_type is None:
            if not isinstance(graph, SparseTensor) or graph.coo()[2] is None:
                raise ValueError(
                    "RGCNConv needs edge_type [E] (or a SparseTensor adj_t whose values are the "
                    "edge types)"
                )
            edge_type = graph.coo()[2]
        ref = pair[0] if pair[0] is not None else pair[1]
        dtype = self.dtype or (ref.dtype if ref is not None else self.weight[...].dtype)

        def cast(v: Any) -> Any:
            return None if v is None else v.astype(dtype)

        return rgcn_conv(
            graph,
            (cast(pair[0]), cast(pair[1])),
            edge_type,
            self.weight[...].astype(dtype),
            comp=None if self.comp is None else self.comp[...].astype(dtype),
            root=None if self.root is None else self.root[...].astype(dtype),
            bias=None if self.bias is None else self.bias[...].astype(dtype),
            aggr=self.aggr,
        )
