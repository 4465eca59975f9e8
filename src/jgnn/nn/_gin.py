"""Graph isomorphism networks: GIN of Xu et al., "How Powerful are Graph Neural Networks?"
(ICLR 2019) and its edge-feature variant GINE of Hu et al., "Strategies for Pre-training Graph
Neural Networks" (ICLR 2020).

``GIN:  x'_i = h((1 + eps) x_i + sum_{j -> i} x_j)``
``GINE: x'_i = h((1 + eps) x_i + sum_{j -> i} relu(x_j + W_e e_ji + b_e))``

The math is :func:`gin_conv` / :func:`gine_conv`, which take the inner network ``h`` as a
callable; the modules own ``h`` (any ``nnx.Module``, e.g. :class:`jgnn.nn.MLP`), ``eps`` and
GINE's edge projection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from jgnn import fn
from jgnn.message_passing import propagate
from jgnn.nn._features import NodeFeatures, prepare_x, split_x
from jgnn.nn._linear import linear_params
from jgnn.sparse import Graph, SparseTensor

__all__ = ["GINConv", "GINEConv", "gin_conv", "gine_conv"]

InnerNet = Callable[..., jax.Array]


def _root_update(eps: float | jax.Array) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """``update(aggr, x_i) = aggr + (1 + eps) x_i`` in the features' dtype."""
    one_plus_eps = 1.0 + jnp.reshape(jnp.asarray(eps, jnp.float32), ())
    return lambda aggr, x_i: aggr + one_plus_eps.astype(x_i.dtype) * x_i


def gin_conv(
    graph: Graph,
    x: NodeFeatures,
    nn: InnerNet | None = None,
    eps: float | jax.Array = 0.0,
) -> jax.Array:
    """One GIN layer as a pure function: ``nn((1 + eps) x_i + sum_{j -> i} x_j)``.

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t`` (its stored
        values are ignored, as in PyG); a SparseTensor takes the fused sparse-product path.
      x: node features ``[N, F]``, or ``(x_src [N_src, F], x_dst [N_dst, F])``.
      nn: the inner network ``[N_dst, F] -> [N_dst, F_out]`` (None: identity).
      eps: scalar ``eps`` (a float or a 0-d/``[1]`` array).

    Returns:
      ``[N_dst, F_out]``.
    """
    x_src, x_dst, bipartite = split_x(x, "gin_conv")
    out = propagate(
        graph,
        (x_src, x_dst) if bipartite else x_src,
        message=fn.copy_u,
        update=_root_update(eps),
    )
    return out if nn is None else nn(out)


def gine_conv(
    graph: Graph,
    x: NodeFeatures,
    edge_attr: jax.Array,
    nn: InnerNet | None = None,
    eps: float | jax.Array = 0.0,
    *,
    edge_kernel: jax.Array | None = None,
    edge_bias: jax.Array | None = None,
) -> jax.Array:
    """One GINE layer as a pure function (see :class:`GINEConv` for the maths).

    Args:
      graph: a GraphsTuple, an edge index ``[2, E]`` or a SparseTensor ``adj_t``.
      x: node features ``[N, F]``, or ``(x_src [N_src, F], x_dst [N_dst, F])``.
      edge_attr: ``[E, D]`` edge features in the graph's edge order (COO order for a
        SparseTensor); ``D = F`` without ``edge_kernel``.
      nn: the inner network ``[N_dst, F] -> [N_dst, F_out]`` (None: identity).
      eps: scalar ``eps``.
      edge_kernel: optional ``[D, F]`` projection of the edge features.
      edge_bias: optional ``[F]``.

    Returns:
      ``[N_dst, F_out]``.

    Raises:
      ValueError: the (projected) edge features do not have the node feature size.
    """
    x_src, x_dst, bipartite = split_x(x, "gine_conv")
    edge_attr = jnp.asarray(edge_attr)
    if edge_attr.ndim == 1:
        edge_attr = edge_attr[:, None]
    if edge_kernel is not None:
        edge_attr = edge_attr @ edge_kernel
        if edge_bias is not None:
            edge_attr = edge_attr + edge_bias
    if edge_attr.shape[-1] != x_src.shape[-1]:
        raise ValueError(
            f"gine_conv: edge features have size {edge_attr.shape[-1]} but node features have "
            f"size {x_src.shape[-1]}; build GINEConv with edge_dim={edge_attr.shape[-1]} (or pass "
            "edge_kernel) to project them"
        )
    out = propagate(
        graph,
        (x_src, x_dst) if bipartite else x_src,
        message=lambda edges: jax.nn.relu(edges.x_j + edges.edge_attr),
        edge_attr=edge_attr.astype(x_src.dtype),
        update=_root_update(eps),
    )
    return out if nn is None else nn(out)


class _GINBase(nnx.Module):
    """``nn`` and ``eps`` (a Param when ``train_eps``, else a constant), shared by both."""

    def __init__(self, nn: InnerNet, eps: float, train_eps: bool, param_dtype: Any):
        if not callable(nn):
            raise TypeError(f"nn must be callable (e.g. a jgnn.nn.MLP), got {type(nn).__name__}")
        self.nn = nn
        self.eps = nnx.Param(jnp.asarray(eps, param_dtype)) if train_eps else float(eps)

    def _eps(self) -> float | jax.Array:
        return self.eps[...] if isinstance(self.eps, nnx.Param) else self.eps

    def _inner(self, nn_kwargs: dict[str, Any]) -> InnerNet:
        return lambda h: self.nn(h, **nn_kwargs)


class GINConv(_GINBase):
    """Graph isomorphism layer (Xu et al., ICLR 2019), in the layout of PyG's ``GINConv``.

    ``x'_i = nn((1 + eps) x_i + sum_{j in N(i)} x_j)``. The paper's ``h`` is an MLP; any
    callable works. With ``train_eps`` the scalar ``eps`` is a learnable ``nnx.Param`` (the
    paper's GIN-eps), else a constant (GIN-0 for ``eps=0``). A ``SparseTensor`` ``adj_t``
    takes the fused sparse-product path; its stored values are ignored (PyG does the same), so
    a multigraph counts each distinct edge once there but every copy on the edge list.

    Shapes:
      - input: a GraphsTuple, edge index ``[2, E]`` or ``SparseTensor`` ``adj_t``; node
        features ``[N, F]`` or ``([N_src, F], [N_dst, F])``.
      - output: ``[N_dst, F_out]``, whatever ``nn`` returns.

    Args:
      nn: the inner network applied to the aggregated features, e.g.
        ``jgnn.nn.MLP([F, H, F_out], rngs=rngs)``; extra keyword arguments of a call are
        forwarded to it (``mask=``, ``deterministic=``).
      eps: (initial) ``eps``.
      train_eps: learn ``eps``.
      param_dtype: storage dtype of a learnable ``eps``.

    Examples:
      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> from jgnn.nn import MLP
      >>> conv = GINConv(MLP([4, 8, 2], rngs=nnx.Rngs(0)), train_eps=True)
      >>> conv(jnp.array([[0, 1], [1, 2]]), jnp.ones((3, 4))).shape
      (3, 2)
    """

    def __init__(
        self,
        nn: InnerNet,
        *,
        eps: float = 0.0,
        train_eps: bool = False,
        param_dtype: jnp.dtype = jnp.float32,
    ):
        super().__init__(nn, eps, train_eps, param_dtype)

    def __call__(self, graph: Graph, x: NodeFeatures, **nn_kwargs: Any) -> jax.Array:
        return gin_conv(graph, x, self._inner(nn_kwargs), self._eps())


def _inner_in_features(nn: Any) -> int | None:
    """The input size of ``nn`` when it says so (MLP, nnx.Linear, nnx.Sequential)."""
    if isinstance(nn, nnx.Sequential) and nn.layers:
        nn = nn.layers[0]
    size = getattr(nn, "in_features", None)
    return size if isinstance(size, int) else None


class GINEConv(_GINBase):
    """GIN with edge features (Hu et al., ICLR 2020), in the layout of PyG's ``GINEConv``.

    ``x'_i = nn((1 + eps) x_i + sum_{j in N(i)} relu(x_j + e'_ji))`` with ``e'_ji = e_ji``, or
    ``e'_ji = W_e e_ji + b_e`` (``lin``, PyG's name) when ``edge_dim`` is set. The message
    reads both a node and an edge, so it is built per edge on every graph form (a SparseTensor
    ``adj_t`` is read through its COO view and its stored values are the edge features unless
    ``edge_attr`` is passed). Departure from the paper: Hu et al. embed categorical edge
    attributes; here (as in PyG) continuous edge features are projected linearly.

    Shapes:
      - input: a GraphsTuple, edge index ``[2, E]`` or ``SparseTensor`` ``adj_t``; node
        features ``[N, F]`` or ``([N_src, F], [N_dst, F])``; edge features
        ``[E, edge_dim]`` (``[E, F]`` without ``edge_dim``).
      - output: ``[N_dst, F_out]``, whatever ``nn`` returns.

    Args:
      nn: the inner network (see :class:`GINConv`).
      eps: (initial) ``eps``.
      train_eps: learn ``eps``.
      edge_dim: size of the edge features to project to the node size (None: no projection).
      in_features: node feature size ``F`` for the projection; read from ``nn.in_features``
        (``jgnn.nn.MLP``, ``nnx.Linear``, the first layer of an ``nnx.Sequential``) when
        omitted.
      dtype: computation dtype of the edge projection (None: from the inputs).
      param_dtype: parameter storage dtype.
      rngs: random number generators; needed with ``edge_dim`` (keyword-only).

    Raises:
      ValueError: ``edge_dim`` is set but the node feature size is unknown or ``rngs`` is
        missing.
    """

    def __init__(
        self,
        nn: InnerNet,
        *,
        eps: float = 0.0,
        train_eps: bool = False,
        edge_dim: int | None = None,
        in_features: int | None = None,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs | None = None,
    ):
        super().__init__(nn, eps, train_eps, param_dtype)
        self.edge_dim = edge_dim
        self.dtype = dtype
        lin = None
        if edge_dim is not None:
            size = in_features if in_features is not None else _inner_in_features(nn)
            if size is None:
                raise ValueError(
                    f"GINEConv with edge_dim={edge_dim} projects edges to the node feature size, "
                    f"which cannot be read from nn ({type(nn).__name__}); pass in_features="
                )
            if rngs is None:
                raise ValueError("GINEConv with edge_dim needs rngs= to initialise `lin`")
            lin = nnx.Linear(edge_dim, size, param_dtype=param_dtype, rngs=rngs)
        self.lin = lin

    def __call__(
        self,
        graph: Graph,
        x: NodeFeatures,
        edge_attr: jax.Array | None = None,
        **nn_kwargs: Any,
    ) -> jax.Array:
        if edge_attr is None:
            if isinstance(graph, SparseTensor):
                edge_attr = graph.coo()[2]
            elif isinstance(graph, jraph.GraphsTuple):
                edge_attr = graph.edges
        if edge_attr is None:
            raise ValueError(
                "GINEConv needs edge features: pass edge_attr [E, D] (or store them in the "
                "graph's edges / the SparseTensor's values)"
            )
        x, dtype = prepare_x(x, None, self.dtype, "GINEConv")
        edge_kernel, edge_bias = linear_params(self.lin, dtype)
        return gine_conv(
            graph,
            x,
            jnp.asarray(edge_attr).astype(dtype),
            self._inner(nn_kwargs),
            self._eps(),
            edge_kernel=edge_kernel,
            edge_bias=edge_bias,
        )
