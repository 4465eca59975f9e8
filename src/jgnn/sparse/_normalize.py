"""Degree normalisation of a ``SparseTensor``: row, column and symmetric (GCN).

All three are jittable when no self loops are added: degrees are segment sums of the stored
values and the pattern does not change. Zero-degree rows/columns get a zero scale (their
entries, if any, become 0) instead of ``inf``/``nan``.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from jgnn.sparse._ops import reduce_sum, set_diag
from jgnn.sparse._tensor import SparseTensor

__all__ = ["col_normalize", "gcn_norm", "row_normalize"]


def _safe_pow(deg: Array, p: float) -> Array:
    """``deg ** p`` with 0 where ``deg`` is 0 (no inf)."""
    zero = deg == 0
    out = jnp.where(zero, jnp.ones((), deg.dtype), deg) ** p
    return jnp.where(zero, jnp.zeros((), deg.dtype), out)


def _float_values(adj: SparseTensor) -> SparseTensor:
    if adj.value is None:
        return adj.fill_value(1.0)
    if not jnp.issubdtype(adj.value.dtype, jnp.inexact):
        return adj.set_value(adj.value.astype(jnp.float32))
    return adj


def _edge_scale(scale: Array, ids: Array, value: Array) -> Array:
    """``scale[ids]`` shaped to broadcast against ``value [nnz, *D]``."""
    s = jnp.take(scale, ids, axis=0)
    return s.reshape(s.shape + (1,) * (value.ndim - s.ndim))


def row_normalize(adj: SparseTensor) -> SparseTensor:
    """``D_row^-1 A``: each row's stored values divided by the row sum (jittable).

    With ``adj_t`` (rows = receivers) this makes ``adj_t @ x`` a weighted mean of neighbours.

    Args:
      adj: ``[M, N]`` sparse matrix; missing values count as 1.

    Returns:
      A ``SparseTensor`` with the same pattern and float values.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[1.0, 3.0], [0.0, 2.0]]))
      >>> row_normalize(adj).to_dense()
      Array([[0.25, 0.75],
             [0.  , 1.  ]], dtype=float32)
    """
    adj = _float_values(adj)
    inv = _safe_pow(reduce_sum(adj, 1), -1.0)
    return adj.set_value(adj.value * _edge_scale(inv, adj.row, adj.value))


def col_normalize(adj: SparseTensor) -> SparseTensor:
    """``A D_col^-1``: each column's stored values divided by the column sum (jittable).

    Args:
      adj: ``[M, N]`` sparse matrix; missing values count as 1.

    Returns:
      A ``SparseTensor`` with the same pattern and float values.

    Examples:
      >>> adj = SparseTensor.from_dense(jnp.array([[1.0, 3.0], [0.0, 1.0]]))
      >>> col_normalize(adj).to_dense()
      Array([[1.  , 0.75],
             [0.  , 0.25]], dtype=float32)
    """
    adj = _float_values(adj)
    inv = _safe_pow(reduce_sum(adj, 0), -1.0)
    return adj.set_value(adj.value * _edge_scale(inv, adj.col, adj.value))


def gcn_norm(
    adj: SparseTensor, *, add_self_loops: bool = True, fill_value: float = 1.0
) -> SparseTensor:
    """Symmetric GCN normalisation ``D^-1/2 (A + fill_value I) D^-1/2`` (Kipf & Welling, 2017).

    Follows PyG's ``gcn_norm`` for a ``SparseTensor`` ``adj_t``: missing values become 1, the
    diagonal is *replaced* by ``fill_value`` (``torch_sparse.fill_diag``), and ``D`` holds the
    row sums (in-degrees of ``adj_t``). Jittable when ``add_self_loops=False``; adding self
    loops changes the pattern and is host-side.

    Args:
      adj: square ``[N, N]`` sparse matrix (``adj_t`` for aggregation).
      add_self_loops: set the diagonal to ``fill_value`` first.
      fill_value: the self-loop weight (2.0 gives the "improved" GCN).

    Returns:
      The normalised ``SparseTensor``.

    Raises:
      ValueError: ``adj`` is not square while ``add_self_loops`` is set.

    Examples:
      >>> adj = SparseTensor.from_edge_index(jnp.array([[0, 1], [1, 0]]))
      >>> gcn_norm(adj).to_dense().round(4)
      Array([[0.5, 0.5],
             [0.5, 0.5]], dtype=float32)
    """
    adj = _float_values(adj)
    if add_self_loops:
        m, n = adj.sparse_sizes()
        if m != n:
            raise ValueError(f"gcn_norm with add_self_loops needs a square matrix, got {m} x {n}.")
        adj = set_diag(adj, jnp.full((n,), fill_value, adj.value.dtype))
    dis = _safe_pow(reduce_sum(adj, 1), -0.5)
    value = adj.value * _edge_scale(dis, adj.row, adj.value) * _edge_scale(dis, adj.col, adj.value)
    return adj.set_value(value)
