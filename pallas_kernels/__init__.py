"""Pallas GPU kernels for jgnn: fused CSR SpMM, SDDMM and edge-softmax aggregation.

Every kernel is written for the Triton backend of Pallas (selected through
`jax.experimental.pallas.triton.CompilerParams`), runs on the CPU with `interpret=True`, and is
differentiable through a `jax.custom_vjp`. Each has a pure-`jnp` `*_reference` oracle.
"""

from ._edge_softmax import edge_softmax_aggregate as edge_softmax_aggregate
from ._edge_softmax import (
    edge_softmax_aggregate_reference as edge_softmax_aggregate_reference,
)
from ._sddmm import sddmm as sddmm
from ._sddmm import sddmm_reference as sddmm_reference
from ._spmm import spmm as spmm
from ._spmm import spmm_reference as spmm_reference

__all__ = [
    "edge_softmax_aggregate",
    "edge_softmax_aggregate_reference",
    "sddmm",
    "sddmm_reference",
    "spmm",
    "spmm_reference",
]
