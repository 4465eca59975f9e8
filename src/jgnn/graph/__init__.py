"""jgnn.graph: graph construction, conversion, transforms, validation, padding and batching.

The graph type is :class:`jraph.GraphsTuple`; see ``ARCHITECTURE.md`` for the conventions.
"""

from jgnn.graph._batch import batch as batch
from jgnn.graph._batch import unbatch as unbatch
from jgnn.graph._compile import CompileCounter as CompileCounter
from jgnn.graph._construct import from_edge_index as from_edge_index
from jgnn.graph._construct import from_networkx as from_networkx
from jgnn.graph._construct import from_scipy as from_scipy
from jgnn.graph._construct import num_edges as num_edges
from jgnn.graph._construct import num_nodes as num_nodes
from jgnn.graph._construct import to_edge_index as to_edge_index
from jgnn.graph._construct import to_networkx as to_networkx
from jgnn.graph._construct import to_scipy as to_scipy
from jgnn.graph._padding import BucketPolicy as BucketPolicy
from jgnn.graph._padding import edge_mask as edge_mask
from jgnn.graph._padding import graph_mask as graph_mask
from jgnn.graph._padding import node_mask as node_mask
from jgnn.graph._padding import pad_graph as pad_graph
from jgnn.graph._padding import pad_to_bucket as pad_to_bucket
from jgnn.graph._padding import unpad as unpad
from jgnn.graph._transform import add_remaining_self_loops as add_remaining_self_loops
from jgnn.graph._transform import add_self_loops as add_self_loops
from jgnn.graph._transform import coalesce as coalesce
from jgnn.graph._transform import degree as degree
from jgnn.graph._transform import in_degree as in_degree
from jgnn.graph._transform import out_degree as out_degree
from jgnn.graph._transform import remove_self_loops as remove_self_loops
from jgnn.graph._transform import to_undirected as to_undirected
from jgnn.graph._validate import check_graph as check_graph
from jgnn.graph._validate import checkify_graph as checkify_graph

__all__ = [
    "BucketPolicy",
    "CompileCounter",
    "add_remaining_self_loops",
    "add_self_loops",
    "batch",
    "check_graph",
    "checkify_graph",
    "coalesce",
    "degree",
    "edge_mask",
    "from_edge_index",
    "from_networkx",
    "from_scipy",
    "graph_mask",
    "in_degree",
    "node_mask",
    "num_edges",
    "num_nodes",
    "out_degree",
    "pad_graph",
    "pad_to_bucket",
    "remove_self_loops",
    "to_edge_index",
    "to_networkx",
    "to_scipy",
    "to_undirected",
    "unbatch",
    "unpad",
]
