"""Pallas GPU kernels for jgnn: CSR SpMM, SDDMM, edge-softmax aggregation and fused GAT/GATv2.

Every kernel is written for the Triton backend of Pallas (selected through
`jax.experimental.pallas.triton.CompilerParams`), runs on the CPU with `interpret=True`, and is
differentiable through a `jax.custom_vjp`. Each op has a pure-`jnp` `*_reference` oracle.

Layers (no module imports one above it): `_common`, `_blocks` and `_schedule` (plumbing);
the kernel bodies with their raw `*_call` launchers (`_spmm_kernel`, `_sddmm_kernel`,
`_softmax_kernel`, `_gatv2_grad_kernel`); the differentiable ops that combine them
(`_spmm`, `_sddmm`, `_attention`, `_edge_softmax`, `_gat`).
"""

from ._blocks import BlockSizes as BlockSizes
from ._blocks import choose_block_sizes as choose_block_sizes
from ._edge_softmax import edge_softmax_aggregate as edge_softmax_aggregate
from ._edge_softmax import (
    edge_softmax_aggregate_reference as edge_softmax_aggregate_reference,
)
from ._gat import gat_aggregate as gat_aggregate
from ._gat import gat_aggregate_reference as gat_aggregate_reference
from ._gat import gatv2_aggregate as gatv2_aggregate
from ._gat import gatv2_aggregate_reference as gatv2_aggregate_reference
from ._sddmm import sddmm as sddmm
from ._sddmm import sddmm_reference as sddmm_reference
from ._sddmm_kernel import SDDMM_OPS as SDDMM_OPS
from ._spmm import spmm as spmm
from ._spmm import spmm_reference as spmm_reference
from ._spmm_kernel import SPMM_REDUCES as SPMM_REDUCES

__all__ = [
    "SDDMM_OPS",
    "SPMM_REDUCES",
    "BlockSizes",
    "choose_block_sizes",
    "edge_softmax_aggregate",
    "edge_softmax_aggregate_reference",
    "gat_aggregate",
    "gat_aggregate_reference",
    "gatv2_aggregate",
    "gatv2_aggregate_reference",
    "sddmm",
    "sddmm_reference",
    "spmm",
    "spmm_reference",
]
