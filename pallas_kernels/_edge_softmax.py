"""Fused edge softmax + aggregation (the attention core), differentiable, and its oracle.

Op layer: `edge_softmax_aggregate` (a jitted wrapper around `_attention.attention`, the
`jax.custom_vjp` over the online-softmax kernel, with `mode="logits"`), and the pure-`jnp` reference
`edge_softmax_aggregate_reference`, which the GAT references reuse. The backward is
`_attention.attention_backward`: attention recomputed from the saved log-sum-exp, one SpMM
kernel pass over the CSC view.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from . import _attention, _blocks, _common


def _backward(cfg: _attention.AttentionCfg, saved: _attention.Saved, g: jax.Array):
    """`(dx, {"logits": dlogits})`: attention recomputed from the saved log-sum-exp."""
    logits = saved.sources["logits"]
    acc = _common.accum_dtype(saved.x.dtype)
    att = jnp.exp(logits.astype(acc) - saved.lse[saved.row])  # 0 for rows with lse = +inf
    dx, dlogits = _attention.attention_backward(cfg, att, g, saved)
    return dx, {"logits": dlogits.astype(logits.dtype)}


@functools.partial(jax.jit, static_argnames=("blocks", "block_f", "block_e", "interpret"))
def edge_softmax_aggregate(
    rowptr: jax.Array,
    col: jax.Array,
    logits: jax.Array,
    x: jax.Array,
    *,
    transpose: tuple[jax.Array, jax.Array, jax.Array] | None = None,
    row: jax.Array | None = None,
    blocks: _blocks.BlockSizes | None = None,
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> jax.Array:
    """Fused `out[i, h] = sum_{e in row i} softmax_e(logits[e, h]) * x[col[e], h]`.

    The softmax runs over the nonzeros of each CSR row (destination node), per head, online
    (running max and sum, as in flash attention), all heads in one program, so `[E, H, F]` is
    never built. float32 accumulation, returns `x.dtype`. Empty rows, and rows whose logits
    are all -inf, give 0.

    Gradients (a `jax.custom_vjp`): the forward saves `out` and the per-row log-sum-exp; the
    backward recomputes the attention per edge (`[nnz, H]`) and runs ONE pass of the SpMM
    kernel over the CSC view for `dx` and `dlogits` (built in-graph with one argsort of `col`
    when `transpose` is None).

    Args:
        rowptr: `[M+1]` int row pointers of the destination-major (adj_t) CSR.
        col: `[nnz]` int source node of each edge, in `[0, N)`.
        logits: `[nnz, H]` float attention logits, in CSR order.
        x: `[N, H, F]` float source features.
        transpose: optional stored CSC view `(colptr [N+1], row_t [nnz], csr2csc [nnz])`.
        row: optional stored CSR row ids `[nnz]` (else recomputed from `rowptr`).
        blocks: a `BlockSizes` (None fields: the rule, `kernel="softmax"`).
        block_f: shortcut for `blocks.block_f`.
        block_e: shortcut for `blocks.block_e`.
        interpret: run the Pallas interpreter on the CPU.

    Returns:
        `[M, H, F]` in `x.dtype`.

    Raises:
        TypeError: on non-integer indices or non-float `logits`/`x`.
        ValueError: on shape mismatches or a bad block size.

    Examples:
        >>> import jax.numpy as jnp
        >>> rowptr = jnp.array([0, 2], jnp.int32)
        >>> col = jnp.array([0, 1], jnp.int32)
        >>> logits = jnp.zeros((2, 1))
        >>> x = jnp.array([[[1.0]], [[3.0]]])
        >>> edge_softmax_aggregate(rowptr, col, logits, x, interpret=True).tolist()
        [[[2.0]]]
    """
    x = _common.check_float("x", x, (3,))
    rowptr, col, transpose, row = _attention.check_csr(rowptr, col, transpose, row, x.shape[0])
    nnz = col.shape[0]
    logits = _common.check_float("logits", logits, (2,))
    _common.check_shape("logits", logits, (nnz, x.shape[1]), "(nnz, H)")
    return _attention.run_attention(
        "logits",
        _backward,
        rowptr,
        col,
        x,
        {"logits": logits},
        transpose=transpose,
        row=row,
        blocks=blocks,
        block_e=block_e,
        block_f=block_f,
        interpret=interpret,
    )


def edge_softmax_aggregate_reference(
    rowptr: jax.Array, col: jax.Array, logits: jax.Array, x: jax.Array
) -> jax.Array:
    """Pure-`jnp` oracle: segment_max -> exp -> segment_sum -> weighted segment_sum.

    Materialises `[nnz, H, F]`; float32 accumulation; empty rows and all -inf rows give 0.

    Args:
        rowptr: `[M+1]` int row pointers.
        col: `[nnz]` int source ids.
        logits: `[nnz, H]` float.
        x: `[N, H, F]` float.

    Returns:
        `[M, H, F]` in `x.dtype`.
    """
    rowptr = jnp.asarray(rowptr).astype(jnp.int32)
    m = rowptr.shape[0] - 1
    nnz = col.shape[0]
    acc = _common.accum_dtype(x.dtype)
    row = _common.row_ids(rowptr, nnz)
    lg = logits.astype(acc)
    mx = jax.ops.segment_max(lg, row, m)
    mx = lax.stop_gradient(jnp.where(jnp.isfinite(mx), mx, 0.0))  # shift-invariant
    p = jnp.exp(lg - mx[row])
    s = jax.ops.segment_sum(p, row, m)
    att = p / jnp.where(s > 0, s, 1.0)[row]
    out = jax.ops.segment_sum(att[:, :, None] * x.astype(acc)[col], row, m)
    return out.astype(x.dtype)
