"""The attention ops' shared machinery (edge softmax, GAT, GATv2): one `jax.custom_vjp` around
the online-softmax kernel, block sizes, checks, and the recompute-based backward that combines
the SpMM kernel's passes.

Op layer, like `_spmm.py`: it launches kernels and holds no kernel body. Each op (in
`_edge_softmax.py`, `_gat.py`) supplies its logit sources and its backward function.

Backward of `out[i] = sum_e a_e x[col_e]` with `a = softmax over row i of the logits` and the
forward's log-sum-exp `lse` saved: `a_e = exp(logit_e - lse[row_e])` is recomputed per edge
(`[nnz, H]` only), then ONE SpMM pass over the CSC view gathers `g[row_e]` per edge and gives
both `dx[j] = sum_{e: col_e = j} a_e g[row_e]` and the fused dot `<g[row_e], x[col_e]>`, from
which `dlogit_e = a_e (<g[row_e], x[col_e]> - <g[row_e], out[row_e]>)`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from . import _blocks, _common
from ._softmax_kernel import softmax_aggregate_call
from ._spmm_kernel import spmm_call


class AttentionCfg(NamedTuple):
    """Static configuration of an attention op (a `custom_vjp` non-differentiable argument)."""

    mode: str  # the softmax kernel's logit source
    backward: Callable[..., Any]  # (cfg, Saved, g) -> (dx, {name: d source})
    fwd: _blocks.BlockSizes  # the softmax kernel's
    bwd: _blocks.BlockSizes  # the backward SpMM's, over the columns
    sums: _blocks.BlockSizes  # per-node sums of per-edge scalars (GAT)
    negative_slope: float
    interpret: bool


class Saved(NamedTuple):
    """Residuals of an attention op: its inputs, output and per-row log-sum-exp.

    In the backward `row` and `transpose` are always set (built in-graph when not stored).
    """

    rowptr: jax.Array
    col: jax.Array
    x: jax.Array
    sources: dict[str, jax.Array]
    row: jax.Array | None
    transpose: tuple[jax.Array, jax.Array, jax.Array] | None
    out: jax.Array
    lse: jax.Array


def _forward(cfg: AttentionCfg, rowptr, col, x, sources):
    return softmax_aggregate_call(
        rowptr,
        col,
        x,
        sources,
        mode=cfg.mode,
        blocks=cfg.fwd,
        negative_slope=cfg.negative_slope,
        interpret=cfg.interpret,
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def attention(cfg: AttentionCfg, rowptr, col, x, sources, row, transpose) -> jax.Array:
    """Differentiable online-softmax aggregation; `sources` is the mode's dict of logit inputs."""
    del row, transpose
    return _forward(cfg, rowptr, col, x, sources)[0]


def _attention_fwd(cfg, rowptr, col, x, sources, row, transpose):
    out, lse = _forward(cfg, rowptr, col, x, sources)
    return out, Saved(rowptr, col, x, sources, row, transpose, out, lse)


def _attention_bwd(cfg, saved, g):
    dx, dsources = cfg.backward(cfg, with_csr_views(saved), g)
    return None, None, dx, dsources, None, None


attention.defvjp(_attention_fwd, _attention_bwd)


def attention_cfg(
    mode: str,
    backward: Callable[..., Any],
    blocks: _blocks.BlockSizes | None,
    block_e: int | None,
    block_f: int | None,
    *,
    num_rows: int,
    num_cols: int,
    nnz: int,
    num_heads: int,
    num_features: int,
    negative_slope: float = 0.2,
    interpret: bool = False,
) -> AttentionCfg:
    """The op's configuration: its mode and backward, and the block sizes of every pass.

    The caller's `blocks` (and shortcuts) size the softmax kernel; `block_e`, `block_f` and
    `sort_rows` carry over to the backward SpMM (the rule fills in the rest), except GATv2's
    `block_f`, which covers all of F in its forward.

    Raises:
        ValueError: on bad block sizes, or a GATv2 `block_f` smaller than F.
    """
    kernel = "gatv2" if mode == "gatv2" else "softmax"
    fwd = _blocks.resolve_block_sizes(
        blocks,
        block_e=block_e,
        block_f=block_f,
        num_features=num_features,
        num_rows=num_rows,
        nnz=nnz,
        num_heads=num_heads,
        kernel=kernel,
    )
    if kernel == "gatv2" and fwd.block_f < num_features:
        raise ValueError(
            f"GATv2 computes its logit over all of F = {num_features} in one program: block_f "
            f"must be >= F, got {fwd.block_f}."
        )
    user = blocks or _blocks.BlockSizes()
    carried = _blocks.BlockSizes(
        block_e=block_e if block_e is not None else user.block_e,
        block_f=None if kernel == "gatv2" else (block_f if block_f is not None else user.block_f),
        sort_rows=fwd.sort_rows,
    )
    bwd = _blocks.resolve_block_sizes(
        carried, num_features=num_features, num_rows=num_cols, nnz=nnz
    )
    sums = _blocks.resolve_block_sizes(
        carried._replace(block_f=None), num_features=1, num_rows=num_cols, nnz=nnz
    )
    return AttentionCfg(mode, backward, fwd, bwd, sums, float(negative_slope), interpret)


def run_attention(
    mode: str,
    backward: Callable[..., Any],
    rowptr: jax.Array,
    col: jax.Array,
    x: jax.Array,
    sources: dict[str, jax.Array | None],
    *,
    transpose,
    row,
    blocks: _blocks.BlockSizes | None,
    block_e: int | None,
    block_f: int | None,
    negative_slope: float = 0.2,
    interpret: bool = False,
) -> jax.Array:
    """Configures and runs `attention` on checked arguments (None sources are left out)."""
    n, num_heads, num_features = x.shape
    cfg = attention_cfg(
        mode,
        backward,
        blocks,
        block_e,
        block_f,
        num_rows=rowptr.shape[0] - 1,
        num_cols=n,
        nnz=col.shape[0],
        num_heads=num_heads,
        num_features=num_features,
        negative_slope=negative_slope,
        interpret=interpret,
    )
    sources = {k: v for k, v in sources.items() if v is not None}
    return attention(cfg, rowptr, col, x, sources, row, transpose)


def check_csr(rowptr, col, transpose, row, num_cols):
    """Checks `rowptr`, `col` and the optional stored `transpose` view and `row` ids."""
    rowptr = _common.check_rowptr(rowptr)
    col = _common.check_index("col", col)
    nnz = col.shape[0]
    transpose = _common.check_transpose(transpose, num_cols, nnz)
    return rowptr, col, transpose, _common.check_row(row, nnz)


def with_csr_views(saved: Saved) -> Saved:
    """`saved` with the row ids and the CSC view set: the stored ones, else built in-graph."""
    row, transpose = saved.row, saved.transpose
    if row is None:
        row = _common.row_ids(saved.rowptr, saved.col.shape[0])
    if transpose is None:
        transpose = _common.csc_view(saved.rowptr, saved.col, saved.x.shape[0], row)
    return saved._replace(row=row, transpose=transpose)


def attention_backward(
    cfg: AttentionCfg, att: jax.Array, g: jax.Array, saved: Saved
) -> tuple[jax.Array, jax.Array]:
    """`(dx [N, H, F], dlogit [nnz, H])` from the recomputed attention `att [nnz, H]`.

    One SpMM kernel pass over the CSC view (values `att` read through `csr2csc`, fused dot with
    the column's own `x`); `dlogit` is elementwise on `[nnz, H]`.
    """
    x = saved.x
    acc = _common.accum_dtype(x.dtype)
    colptr, row_t, perm = saved.transpose
    g32 = g.astype(acc)
    res = spmm_call(
        colptr,
        row_t,
        att,
        g32,
        reduce="sum",
        blocks=cfg.bwd,
        perm=perm,
        y=x,
        interpret=cfg.interpret,
    )
    dlogit = att * (res.dot - output_dot(g32, saved.out)[saved.row])
    return res.out.astype(x.dtype), dlogit


def output_dot(g: jax.Array, out: jax.Array) -> jax.Array:
    """`<g[i, h], out[i, h]>` per row and head, `[M, H]` (the softmax backward's shift)."""
    return jnp.sum(g * out.astype(g.dtype), axis=-1)


def segment_sums(
    cfg: AttentionCfg, ptr: jax.Array, index: jax.Array | None, values: jax.Array
) -> jax.Array:
    """Deterministic per-segment sums of per-edge `values [nnz, H]` (SpMM kernel, F = 1).

    Segment `s` owns positions `ptr[s]:ptr[s+1]`; position `k` holds `values[index[k]]`
    (`index` None: `values[k]`).
    """
    nnz = values.shape[0]
    if index is None:
        index = jnp.arange(nnz, dtype=jnp.int32)
    res = spmm_call(
        ptr, index, None, values[:, :, None], reduce="sum", blocks=cfg.sums, interpret=cfg.interpret
    )
    return res.out[:, :, 0]
