"""Principal Neighbourhood Aggregation of Corso et al., "Principal Neighbourhood Aggregation
for Graph Nets" (NeurIPS 2020).

``x'_i = lin(U([x_i, (S (x) A)_{j -> i} M(x_i, x_j, e_ji)]))`` where ``M`` (pre layers) and
``U`` (post layers) are per-tower MLPs, ``A`` is a list of aggregators (mean, min, max, std,
...) and ``S`` a list of degree scalers (identity, amplification ``log(d + 1) / delta``,
attenuation ``delta / log(d + 1)``, ...) normalised by the average degree ``delta`` of the
training graphs, which is read host-side from a degree histogram.

Pieces: :func:`degree_histogram` (host side), :func:`degree_scaler_aggregate` (the ``S (x) A``
reduction, usable as ``propagate``'s ``aggregate``), :func:`pna_conv` (the whole layer as a
pure function of its weights) and :class:`PNAConv`, which owns the parameters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from flax import nnx

from jgnn._checks import host_ints
from jgnn.message_passing import aggregate_messages, propagate
from jgnn.nn._attention import resolve_edge_attr
from jgnn.segment import segment_count
from jgnn.sparse import Graph, SparseTensor, graph_args

__all__ = ["PNAConv", "degree_histogram", "degree_scaler_aggregate", "pna_conv"]

Linear = tuple[jax.Array, jax.Array | None]  # (kernel, bias)

AGGREGATORS = ("mean", "min", "max", "std", "var", "sum")
SCALERS = ("identity", "amplification", "attenuation", "linear", "inverse_linear")


# --------------------------------------------------------------------------------------------
# Degree statistics (host side) and the degree-scaled aggregation
# --------------------------------------------------------------------------------------------


def _in_degrees(graph: Any) -> np.ndarray:
    fn = "degree_histogram"
    if not isinstance(graph, (jraph.GraphsTuple, SparseTensor)):
        raise TypeError(
            f"{fn} expects GraphsTuples or SparseTensor adj_t's, got {type(graph).__name__}"
        )
    args = graph_args(graph, require_counts=False, fn=fn)
    n = args.num_dst
    if n is None and graph.n_node is not None:
        n = int(np.sum(np.asarray(graph.n_node)))
    if n is None:
        raise ValueError(f"{fn}: a GraphsTuple needs nodes or n_node")
    return np.bincount(host_ints(args.dst, fn), minlength=n)


def degree_histogram(graphs: Any) -> np.ndarray:
    """Histogram of in-degrees over the nodes of one graph or of several (PyG's
    ``PNAConv.get_degree_histogram``).

    Host-side: not jittable. Count the training graphs without padding (padding nodes have
    degree 0 and would shift the averages).

    Args:
      graphs: a GraphsTuple or SparseTensor ``adj_t`` (a batch counts all its nodes), or an
        iterable of them.

    Returns:
      int64 ``[max_degree + 1]``: entry ``d`` counts the nodes with ``d`` incoming edges.

    Examples:
      >>> import jax.numpy as jnp, jgnn
      >>> g = jgnn.from_edge_index(jnp.array([[0, 1, 2], [1, 2, 1]]), 3)
      >>> degree_histogram(g).tolist()
      [1, 1, 1]
    """
    if isinstance(graphs, (jraph.GraphsTuple, SparseTensor)):
        graphs = [graphs]
    hist = np.zeros((1,), np.int64)
    for graph in graphs:
        counts = np.bincount(_in_degrees(graph))
        if counts.shape[0] > hist.shape[0]:
            counts[: hist.shape[0]] += hist
            hist = counts.astype(np.int64)
        else:
            hist[: counts.shape[0]] += counts
    return hist


def _degree_averages(deg: Any) -> tuple[float, float]:
    """``(mean degree, mean log(degree + 1))`` of a degree histogram (host side)."""
    hist = np.asarray(deg, np.float64)
    if hist.ndim != 1 or hist.size == 0 or hist.sum() <= 0 or (hist < 0).any():
        raise ValueError(
            "deg must be a non-empty 1-D histogram of node in-degrees with a positive total "
            f"(see degree_histogram), got {np.asarray(deg)!r}"
        )
    bins = np.arange(hist.shape[0], dtype=np.float64)
    total = hist.sum()
    return float((bins * hist).sum() / total), float((np.log(bins + 1.0) * hist).sum() / total)


def degree_scaler_aggregate(
    messages: jax.Array,
    index: jax.Array,
    num_segments: int,
    *,
    aggregators: Sequence[str],
    scalers: Sequence[str],
    avg_deg_lin: float | jax.Array,
    avg_deg_log: float | jax.Array,
) -> jax.Array:
    """PNA's ``S (x) A``: every aggregator, then every degree scaler, concatenated.

    The aggregators run through :func:`jgnn.message_passing.aggregate_messages` (the
    ``jgnn.ops`` segment reducers; population ``std``/``var``, 0 on nodes without in-edges).
    With ``d`` the in-degree, the scalers multiply by ``1`` (identity), ``log(d + 1) /
    avg_deg_log`` (amplification), ``avg_deg_log / log(max(d, 1) + 1)`` (attenuation),
    ``d / avg_deg_lin`` (linear) or ``avg_deg_lin / max(d, 1)`` (inverse_linear). Pass it to
    ``propagate`` as ``aggregate=functools.partial(degree_scaler_aggregate, ...)``.

    Args:
      messages: ``[E, *F]`` messages.
      index: ``[E]`` destination of each message.
      num_segments: number of destination nodes ``N`` (static).
      aggregators: names from ``("mean", "min", "max", "std", "var", "sum")``.
      scalers: names from ``("identity", "amplification", "attenuation", "linear",
        "inverse_linear")``.
      avg_deg_lin: average in-degree of the training graphs.
      avg_deg_log: average ``log(in-degree + 1)`` of the training graphs.

    Returns:
      ``[N, *F[:-1], len(scalers) * len(aggregators) * F[-1]]``, scaler-major (the blocks of
      one scaler are contiguous), as in PyG.
    """
    out = aggregate_messages(messages, index, num_segments, list(aggregators))
    deg = segment_count(index, num_segments, dtype=out.dtype)
    deg = deg.reshape((num_segments,) + (1,) * (out.ndim - 1))
    one = jnp.ones((), out.dtype)
    outs = []
    for scaler in scalers:
        if scaler == "identity":
            outs.append(out)
        elif scaler == "amplification":
            outs.append(out * (jnp.log(deg + one) / avg_deg_log))
        elif scaler == "attenuation":
            outs.append(out * (avg_deg_log / jnp.log(jnp.maximum(deg, one) + one)))
        elif scaler == "linear":
            outs.append(out * (deg / avg_deg_lin))
        elif scaler == "inverse_linear":
            outs.append(out * (avg_deg_lin / jnp.maximum(deg, one)))
        else:
            raise ValueError(f"unknown PNA scaler {scaler!r}; expected one of {SCALERS}")
    return outs[0] if len(outs) == 1 else jnp.concatenate(outs, axis=-1)


# --------------------------------------------------------------------------------------------
# The layer as a pure function
# --------------------------------------------------------------------------------------------


def _tower_linear(h: jax.Array, layer: Linear) -> jax.Array:
    """``[R, T, F] x [T, F, G] -> [R, T, G]`` (one weight per tower) plus ``[T, G]`` bias."""
    kernel, bias = layer
    out = jnp.einsum("rtf,tfg->rtg", h, kernel)
    return out if bias is None else out + bias


def _tower_mlp(h: jax.Array, layers: Sequence[Linear], act: Callable) -> jax.Array:
    for layer in layers:
        h = _tower_linear(act(h), layer)
    return h


def pna_conv(
    graph: Graph,
    x: jax.Array,
    *,
    pre: Sequence[Linear],
    post: Sequence[Linear],
    lin: Linear,
    aggregators: Sequence[str],
    scalers: Sequence[str],
    avg_deg_lin: float | jax.Array,
    avg_deg_log: float | jax.Array,
    edge_attr: jax.Array | None = None,
    edge_encoder: Linear | None = None,
    divide_input: bool = False,
    act: Callable[[jax.Array], jax.Array] = jax.nn.relu,
) -> jax.Array:
    """One PNA layer (see :class:`PNAConv`) as a pure function of its weights.

    The first pre layer acts on ``[x_i, x_j, e_ji]``; being linear, it is split into three
    blocks applied once per node (and per edge for ``e``) before the gather, so the messages
    never hold the ``[E, T, 3 F]`` concatenation. The remaining pre layers run per edge inside
    the message of :func:`jgnn.message_passing.propagate`, whose aggregate is
    :func:`degree_scaler_aggregate`. A SparseTensor ``adj_t`` is read through its COO view
    (the message depends on both endpoints, so no fused sparse product applies).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``.
      x: node features ``[N, F]``.
      pre: per-tower pre layers ``(kernel [T, a, b], bias [T, b])``; the first has
        ``a = (2 or 3) * F_in`` (``x_i``, ``x_j`` and, with edge features, ``e`` blocks).
      post: per-tower post layers; the first has ``a = (1 + |S| |A|) F_in``.
      lin: final ``(kernel [T * F_out, F_out'], bias)``.
      aggregators, scalers, avg_deg_lin, avg_deg_log: see :func:`degree_scaler_aggregate`.
      edge_attr: optional ``[E, D]`` edge features (the COO order for a SparseTensor).
      edge_encoder: ``(kernel [D, F_in], bias)``, required with ``edge_attr``.
      divide_input: split ``x`` into ``T`` chunks of ``F_in = F / T`` (else every tower sees
        all of ``x``).
      act: activation between the layers of each MLP.

    Returns:
      ``[N, F_out']``.
    """
    towers, first_in, f_in = pre[0][0].shape
    n = x.shape[0]
    if divide_input:
        xt = x.reshape(n, towers, f_in)
    else:
        xt = jnp.broadcast_to(x[:, None, :], (n, towers, f_in))
    k0, b0 = pre[0]
    p_dst = jnp.einsum("ntf,tfg->ntg", xt, k0[:, :f_in])
    p_src = jnp.einsum("ntf,tfg->ntg", xt, k0[:, f_in : 2 * f_in])
    e_term = None
    if edge_attr is not None:
        if edge_encoder is None or first_in != 3 * f_in:
            raise ValueError(
                "pna_conv: edge_attr needs edge_encoder and a first pre layer of 3 * F_in "
                f"= {3 * f_in} inputs, got {first_in}"
            )
        e = edge_attr @ edge_encoder[0]
        if edge_encoder[1] is not None:
            e = e + edge_encoder[1]
        e_term = jnp.einsum("ef,tfg->etg", e, k0[:, 2 * f_in :])
    if b0 is not None:
        p_dst = p_dst + b0

    def message(edges):
        h = edges.x_i + edges.x_j
        if e_term is not None:
            h = h + edges.edge_attr
        return _tower_mlp(h, pre[1:], act)

    aggregate = functools.partial(
        degree_scaler_aggregate,
        aggregators=aggregators,
        scalers=scalers,
        avg_deg_lin=avg_deg_lin,
        avg_deg_log=avg_deg_log,
    )
    out = propagate(graph, (p_src, p_dst), message=message, aggregate=aggregate, edge_attr=e_term)
    h = _tower_linear(jnp.concatenate([xt, out], axis=-1), post[0])
    h = _tower_mlp(h, post[1:], act)
    out = h.reshape(n, -1) @ lin[0]
    return out if lin[1] is None else out + lin[1]


# --------------------------------------------------------------------------------------------
# Module
# --------------------------------------------------------------------------------------------


class _TowerLinear(nnx.Module):
    """``T`` independent linear maps ``[F_in] -> [F_out]``, one per tower, stored stacked."""

    def __init__(self, towers: int, in_features: int, out_features: int, *, param_dtype, rngs):
        init = nnx.initializers.lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(0,))
        shape = (towers, in_features, out_features)
        self.kernel = nnx.Param(init(rngs.params(), shape, param_dtype))
        self.bias = nnx.Param(jnp.zeros((towers, out_features), param_dtype))

    def weights(self, dtype: Any) -> Linear:
        return self.kernel[...].astype(dtype), self.bias[...].astype(dtype)


class PNAConv(nnx.Module):
    """Principal Neighbourhood Aggregation layer (Corso et al., NeurIPS 2020).

    For each of ``T`` towers (``F_in = in_features / T`` features each with ``divide_input``,
    else all of them; ``F_out = out_features / T``):

    ``m_ji = MLP_pre([x_i, x_j, E(e_ji)])``, ``a_i = [s(d_i) * agg_{j -> i} m_ji for s in
    scalers for agg in aggregators]``, ``h_i = MLP_post([x_i, a_i])``; the towers' outputs are
    concatenated and mixed by a final linear layer. ``d_i`` is the in-degree; the scalers are
    normalised by the training graphs' average degree, read from ``deg``, a histogram of
    in-degrees computed host-side with :func:`degree_histogram`.

    Departures: from the paper, as in PyG, the pre/post networks are ``Linear (-> act ->
    Linear)*`` without a final activation, edge features go through a linear encoder, and a
    final linear layer follows the towers. From PyG: ``std`` is the exact population standard
    deviation of :func:`jgnn.ops.segment_std` (PyG clamps the variance at 1e-5 and zeroes
    results below ``sqrt(1e-5)``); weights are initialised as ``flax.nnx.Linear`` does.

    Parameters (PyG's names): ``edge_encoder`` (``nnx.Linear``), ``pre_nns[l]`` and
    ``post_nns[l]`` (the ``l``-th linear layer of every tower, ``kernel [T, in, out]``, ``bias
    [T, out]``; PyG's ``pre_nns[t][2 l].weight`` is ``kernel[t].T``), ``lin`` (``nnx.Linear``);
    with ``train_norm`` the averages ``avg_deg_lin``/``avg_deg_log`` are parameters too.

    Shapes:
      - input: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t`` with ``N``
        nodes and ``E`` edges; node features ``[N, in_features]``; edge features ``[E,
        edge_dim]`` when built with ``edge_dim`` (default: the SparseTensor's values or the
        GraphsTuple's ``edges``).
      - output: ``[N, out_features]``.

    Args:
      in_features: input feature size.
      out_features: output feature size (divisible by ``towers``).
      aggregators: names from ``("mean", "min", "max", "std", "var", "sum")``.
      scalers: names from ``("identity", "amplification", "attenuation", "linear",
        "inverse_linear")``.
      deg: in-degree histogram of the training graphs (:func:`degree_histogram`).
      edge_dim: edge feature size, or None.
      towers: number of towers.
      pre_layers: linear layers of the message network.
      post_layers: linear layers of the update network.
      divide_input: split the input features between the towers.
      act: activation inside the pre/post networks.
      train_norm: learn the degree averages.
      dtype: computation dtype (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: random number generators for initialisation (keyword-only).

    Raises:
      ValueError: unknown aggregators/scalers, sizes not divisible by ``towers``, fewer than
        one pre/post layer, or an invalid histogram.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> import jgnn
      >>> g = jgnn.from_edge_index(jnp.array([[0, 1, 2], [1, 2, 1]]), 3, nodes=jnp.ones((3, 4)))
      >>> conv = PNAConv(4, 8, ["mean", "max"], ["identity", "amplification"],
      ...                degree_histogram(g), rngs=nnx.Rngs(0))
      >>> conv(g, g.nodes).shape
      (3, 8)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        aggregators: Sequence[str],
        scalers: Sequence[str],
        deg: Any,
        *,
        edge_dim: int | None = None,
        towers: int = 1,
        pre_layers: int = 1,
        post_layers: int = 1,
        divide_input: bool = False,
        act: Callable[[jax.Array], jax.Array] = jax.nn.relu,
        train_norm: bool = False,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        aggregators = _names(aggregators, AGGREGATORS, "aggregator")
        scalers = _names(scalers, SCALERS, "scaler")
        if out_features % towers or (divide_input and in_features % towers):
            raise ValueError(
                f"PNAConv: out_features={out_features} (and in_features={in_features} with "
                f"divide_input) must be divisible by towers={towers}"
            )
        if pre_layers < 1 or post_layers < 1:
            raise ValueError(
                f"PNAConv needs pre_layers, post_layers >= 1, got {pre_layers}, {post_layers}"
            )
        self.in_features = in_features
        self.out_features = out_features
        self.aggregators = aggregators
        self.scalers = scalers
        self.edge_dim = edge_dim
        self.towers = towers
        self.divide_input = divide_input
        self.act = act
        self.dtype = dtype
        f_in = in_features // towers if divide_input else in_features
        f_out = out_features // towers
        lin_avg, log_avg = _degree_averages(deg)
        if train_norm:
            self.avg_deg_lin = nnx.Param(jnp.asarray(lin_avg, param_dtype))
            self.avg_deg_log = nnx.Param(jnp.asarray(log_avg, param_dtype))
        else:
            self.avg_deg_lin, self.avg_deg_log = lin_avg, log_avg
        kw = {"param_dtype": param_dtype, "rngs": rngs}
        self.edge_encoder = nnx.Linear(edge_dim, f_in, **kw) if edge_dim is not None else None
        first = (3 if edge_dim is not None else 2) * f_in
        self.pre_nns = nnx.List(
            [_TowerLinear(towers, first if i == 0 else f_in, f_in, **kw) for i in range(pre_layers)]
        )
        post_in = (len(aggregators) * len(scalers) + 1) * f_in
        self.post_nns = nnx.List(
            [
                _TowerLinear(towers, post_in if i == 0 else f_out, f_out, **kw)
                for i in range(post_layers)
            ]
        )
        self.lin = nnx.Linear(out_features, out_features, **kw)

    def __call__(self, graph: Graph, x: jax.Array, edge_attr: jax.Array | None = None) -> jax.Array:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"PNAConv expects node features [N, {self.in_features}], got {tuple(x.shape)}"
            )
        dtype = self.dtype or x.dtype
        edge_attr = resolve_edge_attr(graph, edge_attr, self.edge_dim, dtype, "PNAConv")

        def linear(layer: nnx.Linear) -> Linear:
            return layer.kernel[...].astype(dtype), layer.bias[...].astype(dtype)

        def avg(value: Any) -> Any:
            return value[...].astype(dtype) if isinstance(value, nnx.Param) else value

        return pna_conv(
            graph,
            x.astype(dtype),
            pre=[layer.weights(dtype) for layer in self.pre_nns],
            post=[layer.weights(dtype) for layer in self.post_nns],
            lin=linear(self.lin),
            aggregators=self.aggregators,
            scalers=self.scalers,
            avg_deg_lin=avg(self.avg_deg_lin),
            avg_deg_log=avg(self.avg_deg_log),
            edge_attr=edge_attr,
            edge_encoder=None if self.edge_encoder is None else linear(self.edge_encoder),
            divide_input=self.divide_input,
            act=self.act,
        )


def _names(values: Iterable[str], allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in values if v not in allowed]
    if not values or bad:
        raise ValueError(f"PNAConv: every {what} must be one of {allowed}, got {list(values)}")
    return values
