"""Fused GAT and GATv2 attention aggregation, differentiable, and their pure-`jnp` oracles.

Op layer over the online-softmax kernel of `_softmax_kernel.py`, which computes the logits
itself, for all heads in one program, so they never touch memory in the forward:

* `gat_aggregate` (GAT, Velickovic et al. 2018):
  `logit[e, h] = leaky_relu(alpha_src[col_e, h] + alpha_dst[i, h] (+ edge_logits[e, h]))`,
  where `alpha_src = <a_src, x_j>` and `alpha_dst = <a_dst, x_i>` are the per-node scalars a
  GAT layer computes once per node.
* `gatv2_aggregate` (GATv2, Brody et al. 2022):
  `logit[e, h] = sum_f att[h, f] * leaky_relu(x_src[col_e, h, f] + x_dst[i, h, f]
  (+ edge_x[e, h, f]))`.

Both return `out[i, h] = sum_{e in row i} softmax_e(logit[e, h]) x_src[col_e, h]` (PyG's
message `x_j`). Attention dropout is not applied (the kernels have no RNG): callers that train
with attention dropout need the unfused path.

Backward (`jax.custom_vjp`, recompute-based: only the forward's output and per-row log-sum-exp
are saved). GAT: the `[nnz, H]` logits are recomputed in XLA from the per-node scalars and
`_attention.attention_backward` gives `dx` and `dlogit` in one SpMM pass over the CSC view;
`d alpha_src`/`d alpha_dst` are per-node sums of `dlogit * leaky_relu'` (SpMM kernel, F = 1,
deterministic). GATv2: the row-pass kernel of `_gatv2_grad_kernel.py` recomputes each edge's
`[H, F]` pre-activation and gives `d x_dst`, `d att` and the per-edge `dz` (`[nnz, H, F]`,
materialised: it is also the edge-feature gradient); `d x_src` is two SpMM passes over the CSC
view (`sum a * g[row]` and `sum dz`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from . import _attention, _blocks, _common
from ._edge_softmax import edge_softmax_aggregate_reference
from ._gatv2_grad_kernel import gatv2_grad_call
from ._spmm_kernel import spmm_call


def _gat_logits(col, row, alpha_src, alpha_dst, edge_logits):
    """Pre-activation `z [nnz, H]` (accumulation dtype) of the GAT logits, in XLA."""
    acc = _common.accum_dtype(alpha_src.dtype)
    z = alpha_src.astype(acc)[col] + alpha_dst.astype(acc)[row]
    return z if edge_logits is None else z + edge_logits.astype(acc)


def _gat_backward(cfg: _attention.AttentionCfg, saved: _attention.Saved, g: jax.Array):
    """`(dx, {a_src, a_dst[, edge]} gradients)`: `[nnz, H]` logits recomputed in XLA."""
    src = saved.sources
    z = _gat_logits(saved.col, saved.row, src["a_src"], src["a_dst"], src.get("edge"))
    att = jnp.exp(_common.leaky_relu(z, cfg.negative_slope) - saved.lse[saved.row])
    dx, dlogit = _attention.attention_backward(cfg, att, g, saved)
    dz = dlogit * _common.leaky_relu_grad(z, cfg.negative_slope)  # [nnz, H]
    colptr, _, perm = saved.transpose
    grads = {
        "a_src": _attention.segment_sums(cfg, colptr, perm, dz),
        "a_dst": _attention.segment_sums(cfg, saved.rowptr, None, dz),
        "edge": dz,
    }
    return dx, {k: grads[k].astype(v.dtype) for k, v in src.items()}


def _check_heads(name: str, a, shape, meaning: str):
    a = _common.check_float(name, a, (len(shape),))
    _common.check_shape(name, a, shape, meaning)
    return a


@functools.partial(
    jax.jit, static_argnames=("negative_slope", "blocks", "block_f", "block_e", "interpret")
)
def gat_aggregate(
    rowptr: jax.Array,
    col: jax.Array,
    x: jax.Array,
    alpha_src: jax.Array,
    alpha_dst: jax.Array,
    edge_logits: jax.Array | None = None,
    *,
    negative_slope: float = 0.2,
    transpose: tuple[jax.Array, jax.Array, jax.Array] | None = None,
    row: jax.Array | None = None,
    blocks: _blocks.BlockSizes | None = None,
    block_f: int | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> jax.Array:
    """Fused GAT attention: softmax of `leaky_relu(alpha_src[j] + alpha_dst[i] (+ e))` over
    each destination row, then the weighted sum of `x[j]`, per head.

    See the module docstring for the math and the backward. float32 accumulation; returns
    `x.dtype`; an empty row gives 0.

    Args:
        rowptr: `[M+1]` int row pointers of the destination-major (adj_t) CSR.
        col: `[nnz]` int source node of each edge, in `[0, N)`.
        x: `[N, H, F]` float source features (already projected).
        alpha_src: `[N, H]` float source terms `<a_src[h], x[j, h]>`.
        alpha_dst: `[M, H]` float destination terms `<a_dst[h], x_dst[i, h]>`.
        edge_logits: optional `[nnz, H]` float per-edge term (CSR order), e.g. GAT's
            `<a_edge[h], W_e e_ij>`.
        negative_slope: leaky ReLU slope (PyG's default 0.2).
        transpose: optional stored CSC view `(colptr [N+1], row_t [nnz], csr2csc [nnz])`.
        row: optional stored CSR row ids `[nnz]`.
        blocks: a `BlockSizes` (None fields: the rule, `kernel="softmax"`).
        block_f: shortcut for `blocks.block_f`.
        block_e: shortcut for `blocks.block_e`.
        interpret: run the Pallas interpreter on the CPU.

    Returns:
        `[M, H, F]` in `x.dtype`.

    Raises:
        TypeError: on non-integer indices or non-float inputs.
        ValueError: on shape mismatches or bad block sizes.

    Examples:
        >>> import jax.numpy as jnp
        >>> rowptr, col = jnp.array([0, 2], jnp.int32), jnp.array([0, 1], jnp.int32)
        >>> x = jnp.array([[[1.0]], [[3.0]]])
        >>> a_src, a_dst = jnp.zeros((2, 1)), jnp.zeros((1, 1))
        >>> gat_aggregate(rowptr, col, x, a_src, a_dst, interpret=True).tolist()
        [[[2.0]]]
    """
    x = _common.check_float("x", x, (3,))
    n, num_heads, num_features = x.shape
    rowptr, col, transpose, row = _attention.check_csr(rowptr, col, transpose, row, n)
    m, nnz = rowptr.shape[0] - 1, col.shape[0]
    alpha_src = _check_heads("alpha_src", alpha_src, (n, num_heads), "(N, H)")
    alpha_dst = _check_heads("alpha_dst", alpha_dst, (m, num_heads), "(M, H)")
    if edge_logits is not None:
        edge_logits = _check_heads("edge_logits", edge_logits, (nnz, num_heads), "(nnz, H)")
    sources = {"a_src": alpha_src, "a_dst": alpha_dst, "edge": edge_logits}
    return _attention.run_attention(
        "gat",
        _gat_backward,
        rowptr,
        col,
        x,
        sources,
        transpose=transpose,
        row=row,
        blocks=blocks,
        block_e=block_e,
        block_f=block_f,
        negative_slope=negative_slope,
        interpret=interpret,
    )


def _gatv2_backward(cfg: _attention.AttentionCfg, saved: _attention.Saved, g: jax.Array):
    """`(dx_src, {x_dst, att[, edge]} gradients)`: the row-pass kernel, then two SpMM passes."""
    src = saved.sources
    g32 = g.astype(_common.accum_dtype(saved.x.dtype))
    grads = gatv2_grad_call(
        saved.rowptr,
        saved.col,
        saved.x,
        src["x_dst"],
        src["att"],
        src.get("edge"),
        g32,
        saved.lse,
        _attention.output_dot(g32, saved.out),
        blocks=cfg.fwd,
        negative_slope=cfg.negative_slope,
        interpret=cfg.interpret,
    )
    colptr, row_t, perm = saved.transpose
    kw = dict(reduce="sum", blocks=cfg.bwd, interpret=cfg.interpret)
    dx = spmm_call(colptr, row_t, grads.a, g32, perm=perm, **kw).out
    dx = dx + spmm_call(colptr, perm, None, grads.dz, **kw).out
    d = {"x_dst": grads.dx_dst, "att": jnp.sum(grads.datt, axis=0), "edge": grads.dz}
    return dx.astype(saved.x.dtype), {k: d[k].astype(v.dtype) for k, v in src.items()}


@functools.partial(jax.jit, static_argnames=("negative_slope", "blocks", "block_e", "interpret"))
def gatv2_aggregate(
    rowptr: jax.Array,
    col: jax.Array,
    x_src: jax.Array,
    x_dst: jax.Array,
    att: jax.Array,
    edge_x: jax.Array | None = None,
    *,
    negative_slope: float = 0.2,
    transpose: tuple[jax.Array, jax.Array, jax.Array] | None = None,
    row: jax.Array | None = None,
    blocks: _blocks.BlockSizes | None = None,
    block_e: int | None = None,
    interpret: bool = False,
) -> jax.Array:
    """Fused GATv2 attention: softmax of `<att[h], leaky_relu(x_src[j] + x_dst[i] (+ e))>` over
    each destination row, then the weighted sum of `x_src[j]`, per head.

    See the module docstring for the math and the backward. The forward kernel holds all of F
    of every head in one program (`block_f` is the next power of two of F). float32
    accumulation; returns `x_src.dtype`; an empty row gives 0.

    Args:
        rowptr: `[M+1]` int row pointers of the destination-major (adj_t) CSR.
        col: `[nnz]` int source node of each edge, in `[0, N)`.
        x_src: `[N, H, F]` float source features (PyG's `x_l`, also the message).
        x_dst: `[M, H, F]` float destination features (PyG's `x_r`), same dtype.
        att: `[H, F]` float attention vector.
        edge_x: optional `[nnz, H, F]` float projected edge features (CSR order).
        negative_slope: leaky ReLU slope (PyG's default 0.2).
        transpose: optional stored CSC view `(colptr [N+1], row_t [nnz], csr2csc [nnz])`.
        row: optional stored CSR row ids `[nnz]`.
        blocks: a `BlockSizes` (None fields: the rule, `kernel="gatv2"`).
        block_e: shortcut for `blocks.block_e`.
        interpret: run the Pallas interpreter on the CPU.

    Returns:
        `[M, H, F]` in `x_src.dtype`.

    Raises:
        TypeError: on non-integer indices, non-float inputs or mismatched feature dtypes.
        ValueError: on shape mismatches or bad block sizes (`block_f < F`).
    """
    x_src = _common.check_float("x_src", x_src, (3,))
    n, num_heads, num_features = x_src.shape
    rowptr, col, transpose, row = _attention.check_csr(rowptr, col, transpose, row, n)
    m, nnz = rowptr.shape[0] - 1, col.shape[0]
    x_dst = _check_heads("x_dst", x_dst, (m, num_heads, num_features), "(M, H, F)")
    att = _check_heads("att", att, (num_heads, num_features), "(H, F)")
    if edge_x is not None:
        edge_x = _check_heads("edge_x", edge_x, (nnz, num_heads, num_features), "(nnz, H, F)")
    if x_dst.dtype != x_src.dtype:
        raise TypeError(
            f"`x_src` and `x_dst` must have the same dtype, got {x_src.dtype} and {x_dst.dtype}."
        )
    return _attention.run_attention(
        "gatv2",
        _gatv2_backward,
        rowptr,
        col,
        x_src,
        {"x_dst": x_dst, "att": att, "edge": edge_x},
        transpose=transpose,
        row=row,
        blocks=blocks,
        block_e=block_e,
        block_f=None,
        negative_slope=negative_slope,
        interpret=interpret,
    )


def gat_aggregate_reference(
    rowptr: jax.Array,
    col: jax.Array,
    x: jax.Array,
    alpha_src: jax.Array,
    alpha_dst: jax.Array,
    edge_logits: jax.Array | None = None,
    *,
    negative_slope: float = 0.2,
) -> jax.Array:
    """Pure-`jnp` oracle for `gat_aggregate`: `[nnz, H]` logits, then the edge-softmax oracle.

    Args:
        rowptr: `[M+1]` int row pointers.
        col: `[nnz]` int source ids.
        x: `[N, H, F]`.
        alpha_src: `[N, H]`.
        alpha_dst: `[M, H]`.
        edge_logits: optional `[nnz, H]`.
        negative_slope: leaky ReLU slope.

    Returns:
        `[M, H, F]` in `x.dtype`.
    """
    rowptr = jnp.asarray(rowptr).astype(jnp.int32)
    col = jnp.asarray(col).astype(jnp.int32)
    row = _common.row_ids(rowptr, col.shape[0])
    z = _gat_logits(col, row, alpha_src, alpha_dst, edge_logits)
    return edge_softmax_aggregate_reference(rowptr, col, _common.leaky_relu(z, negative_slope), x)


def gatv2_aggregate_reference(
    rowptr: jax.Array,
    col: jax.Array,
    x_src: jax.Array,
    x_dst: jax.Array,
    att: jax.Array,
    edge_x: jax.Array | None = None,
    *,
    negative_slope: float = 0.2,
) -> jax.Array:
    """Pure-`jnp` oracle for `gatv2_aggregate` (materialises `[nnz, H, F]`).

    Args:
        rowptr: `[M+1]` int row pointers.
        col: `[nnz]` int source ids.
        x_src: `[N, H, F]`.
        x_dst: `[M, H, F]`.
        att: `[H, F]`.
        edge_x: optional `[nnz, H, F]`.
        negative_slope: leaky ReLU slope.

    Returns:
        `[M, H, F]` in `x_src.dtype`.
    """
    rowptr = jnp.asarray(rowptr).astype(jnp.int32)
    col = jnp.asarray(col).astype(jnp.int32)
    row = _common.row_ids(rowptr, col.shape[0])
    acc = _common.accum_dtype(x_src.dtype)
    z = x_src.astype(acc)[col] + x_dst.astype(acc)[row]
    if edge_x is not None:
        z = z + edge_x.astype(acc)
    logits = jnp.sum(_common.leaky_relu(z, negative_slope) * att.astype(acc), axis=-1)
    return edge_softmax_aggregate_reference(rowptr, col, logits, x_src)
