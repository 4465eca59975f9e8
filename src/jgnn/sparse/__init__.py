"""jgnn.sparse: the ``SparseTensor`` adjacency type and sparse-dense products.

``SparseTensor`` follows torch_sparse (COO/CSR/CSC views, a free transpose); :func:`spmm`
multiplies it with a dense array under a sum/mean/max/min reduce, choosing the implementation in
:func:`resolve_impl` (the only place that resolves ``impl="auto"``); :func:`spspmm` multiplies
two sparse matrices. Aggregation uses the transposed adjacency: ``to_adj_t(graph) @ x``.
"""

from jgnn.sparse._adj_t import to_adj_t as to_adj_t
from jgnn.sparse._dispatch import IMPLS as IMPLS
from jgnn.sparse._dispatch import REDUCES as REDUCES
from jgnn.sparse._dispatch import resolve_impl as resolve_impl
from jgnn.sparse._normalize import col_normalize as col_normalize
from jgnn.sparse._normalize import gcn_norm as gcn_norm
from jgnn.sparse._normalize import row_normalize as row_normalize
from jgnn.sparse._ops import index_select as index_select
from jgnn.sparse._ops import reduce_mean as reduce_mean
from jgnn.sparse._ops import reduce_sum as reduce_sum
from jgnn.sparse._ops import remove_diag as remove_diag
from jgnn.sparse._ops import set_diag as set_diag
from jgnn.sparse._spmm import spmm as spmm
from jgnn.sparse._spspmm import spspmm as spspmm
from jgnn.sparse._tensor import SparseTensor as SparseTensor

__all__ = [
    "IMPLS",
    "REDUCES",
    "SparseTensor",
    "col_normalize",
    "gcn_norm",
    "index_select",
    "reduce_mean",
    "reduce_sum",
    "remove_diag",
    "resolve_impl",
    "row_normalize",
    "set_diag",
    "spmm",
    "spspmm",
    "to_adj_t",
]
