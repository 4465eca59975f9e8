"""jgnn.sparse: the ``SparseTensor`` adjacency type, sparse products, and the graph forms.

``SparseTensor`` follows torch_sparse (COO/CSR/CSC views, a free transpose); :func:`spmm`
multiplies it with a dense array under a sum/mean/max/min reduce; :func:`spspmm` multiplies
two sparse matrices. Aggregation uses the transposed adjacency: ``to_adj_t(graph) @ x``.

This floor also owns the decisions every message-passing function defers to: the graph forms
(:data:`Graph`, :func:`graph_args`, the one coercion), the implementation (:func:`resolve_impl`,
the only place that resolves ``impl="auto"``), whether a step is one sparse product
(:func:`use_sparse_product`), and GCN's degree normalisation (:func:`gcn_norm`).
"""

from jgnn.sparse import _methods  # noqa: F401 - attaches SparseTensor's operator methods
from jgnn.sparse._adj_t import to_adj_t as to_adj_t
from jgnn.sparse._dispatch import IMPLS as IMPLS
from jgnn.sparse._dispatch import REDUCES as REDUCES
from jgnn.sparse._dispatch import resolve_impl as resolve_impl
from jgnn.sparse._dispatch import sparse_product_form as sparse_product_form
from jgnn.sparse._dispatch import use_fused_attention as use_fused_attention
from jgnn.sparse._dispatch import use_sparse_product as use_sparse_product
from jgnn.sparse._graph_like import Graph as Graph
from jgnn.sparse._graph_like import GraphArgs as GraphArgs
from jgnn.sparse._graph_like import NumNodes as NumNodes
from jgnn.sparse._graph_like import as_graph as as_graph
from jgnn.sparse._graph_like import endpoints as endpoints
from jgnn.sparse._graph_like import graph_args as graph_args
from jgnn.sparse._normalize import col_normalize as col_normalize
from jgnn.sparse._normalize import gcn_norm as gcn_norm
from jgnn.sparse._normalize import row_normalize as row_normalize
from jgnn.sparse._normalize import symmetric_norm as symmetric_norm
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
    "Graph",
    "GraphArgs",
    "NumNodes",
    "SparseTensor",
    "as_graph",
    "col_normalize",
    "endpoints",
    "gcn_norm",
    "graph_args",
    "index_select",
    "reduce_mean",
    "reduce_sum",
    "remove_diag",
    "resolve_impl",
    "row_normalize",
    "set_diag",
    "sparse_product_form",
    "spmm",
    "spspmm",
    "symmetric_norm",
    "to_adj_t",
    "use_fused_attention",
    "use_sparse_product",
]
