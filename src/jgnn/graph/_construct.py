"""Graph constructors, conversions and static size accessors.

The graph type is :class:`jraph.GraphsTuple` with int32 ``senders`` (message sources, PyG's
``edge_index[0]``) and ``receivers`` (destinations, ``edge_index[1]``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from jgnn._checks import is_traced, static_int
from jgnn._host import to_device
from jgnn.graph._validate import check_graph

__all__ = [
    "from_edge_index",
    "from_networkx",
    "from_scipy",
    "num_edges",
    "num_nodes",
    "to_edge_index",
    "to_networkx",
    "to_scipy",
]


def num_nodes(graph: jraph.GraphsTuple) -> int:
    """Returns the total number of nodes as a static Python int (works under ``jit``).

    Read from the leading dimension of the first leaf of ``graph.nodes``; for a batched or
    padded graph this is the total over all graphs, padding included.

    Args:
        graph: A graph whose ``nodes`` is an array or a pytree of arrays ``[N, ...]``.

    Returns:
        ``N``.

    Raises:
        ValueError: If ``graph.nodes`` is ``None`` or has no leaves; pass ``num_nodes=``
            explicitly to the function that needs it in that case.

    Examples:
        >>> import jax.numpy as jnp
        >>> num_nodes(from_edge_index(jnp.array([[0], [1]]), 2, nodes=jnp.ones((2, 3))))
        2
    """
    if graph.nodes is None:
        raise ValueError(
            "Cannot read a static node count: `graph.nodes` is None. Pass `num_nodes=` "
            "explicitly (a Python int), or give the graph node features."
        )
    leaves = jax.tree_util.tree_leaves(graph.nodes)
    if not leaves:
        raise ValueError(
            "Cannot read a static node count: `graph.nodes` has no array leaves. Pass "
            "`num_nodes=` explicitly (a Python int)."
        )
    shape = jnp.shape(leaves[0])
    if not shape:
        raise ValueError(
            f"`graph.nodes` leaves must have a leading node dimension, got shape {shape}."
        )
    return int(shape[0])


def num_edges(graph: jraph.GraphsTuple) -> int:
    """Returns the total number of edges as a static Python int (works under ``jit``).

    Read from the length of ``graph.senders``; padding edges are included.

    Args:
        graph: A graph with a 1-D ``senders`` array ``[E]``.

    Returns:
        ``E``.

    Raises:
        ValueError: If ``graph.senders`` is ``None``.

    Examples:
        >>> import jax.numpy as jnp
        >>> num_edges(from_edge_index(jnp.array([[0, 1], [1, 0]]), 2))
        2
    """
    if graph.senders is None:
        raise ValueError("Cannot read a static edge count: `graph.senders` is None.")
    return int(jnp.shape(graph.senders)[0])


def _resolve_num_nodes(graph: jraph.GraphsTuple, num_nodes_: int | None) -> int:
    """Static node count: explicit argument, then ``nodes``, then concrete ``sum(n_node)``."""
    if num_nodes_ is not None:
        return int(num_nodes_)
    if graph.nodes is not None and jax.tree_util.tree_leaves(graph.nodes):
        return num_nodes(graph)
    if graph.n_node is not None and not is_traced(graph.n_node):
        return int(np.asarray(graph.n_node).sum())
    return num_nodes(graph)  # raises the ValueError asking for `num_nodes=`


def _as_edge_index(edge_index: Any) -> jax.Array | np.ndarray:
    if not isinstance(edge_index, jax.Array | np.ndarray):
        edge_index = np.asarray(edge_index)
        if edge_index.size == 0:
            edge_index = edge_index.astype(np.int32).reshape(2, 0)
    shape = jnp.shape(edge_index)
    if len(shape) != 2 or shape[0] != 2:
        raise ValueError(f"`edge_index` must have shape [2, E], got shape {tuple(shape)}.")
    dtype = edge_index.dtype
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"`edge_index` must be an integer array, got dtype {dtype}.")
    return edge_index


def from_edge_index(
    edge_index: Any,
    num_nodes: int,
    *,
    nodes: Any = None,
    edges: Any = None,
    globals: Any = None,
    check: bool = True,
) -> jraph.GraphsTuple:
    """Builds a single graph from a ``[2, E]`` edge index.

    Row 0 holds sources (``senders``), row 1 targets (``receivers``). Jittable when
    ``edge_index`` is traced (``num_nodes`` must stay a Python int); the value check is skipped
    while tracing.

    Args:
        edge_index: Integer array ``[2, E]``.
        num_nodes: Number of nodes ``N`` (static Python int).
        nodes: Optional node features, an array or pytree of arrays ``[N, ...]``.
        edges: Optional edge features, an array or pytree of arrays ``[E, ...]``.
        globals: Optional graph features, leading dimension 1 (``[1, ...]``).
        check: If True and the inputs are concrete, run :func:`check_graph`.

    Returns:
        A ``GraphsTuple`` with int32 ``senders``/``receivers`` ``[E]``, ``n_node = [N]`` and
        ``n_edge = [E]`` (int32, shape ``[1]``).

    Raises:
        ValueError: If ``edge_index`` is not ``[2, E]`` or (with ``check``) the graph is invalid.
        TypeError: If ``edge_index`` is not an integer array.

    Examples:
        >>> g = from_edge_index([[0, 1, 2], [1, 2, 0]], 3)
        >>> g.senders.tolist(), g.receivers.tolist(), g.n_node.tolist()
        ([0, 1, 2], [1, 2, 0], [3])
    """
    edge_index = _as_edge_index(edge_index)
    n_edge_total = int(jnp.shape(edge_index)[1])
    num_nodes = static_int(num_nodes, "from_edge_index: `num_nodes`")
    if check and not is_traced(edge_index):
        arr = np.asarray(edge_index)
        for row, name in ((0, "senders"), (1, "receivers")):
            bad = np.flatnonzero((arr[row] < 0) | (arr[row] >= num_nodes))
            if bad.size:
                pos = int(bad[0])
                raise ValueError(
                    f"`{name}` (edge_index[{row}]) has id {int(arr[row, pos])} at edge position "
                    f"{pos}, out of range [0, {num_nodes}); the graph has {num_nodes} nodes."
                )
    if is_traced(edge_index):
        ids = jnp.asarray(edge_index).astype(jnp.int32)
        senders, receivers = ids[0], ids[1]
    else:  # NumPy slicing avoids compiling a tiny XLA program per edge count
        ids = np.asarray(edge_index).astype(np.int32)
        senders, receivers = to_device(ids[0]), to_device(ids[1])
    graph = jraph.GraphsTuple(
        nodes=nodes,
        edges=edges,
        senders=senders,
        receivers=receivers,
        globals=globals,
        n_node=to_device(np.array([num_nodes], np.int32)),
        n_edge=to_device(np.array([n_edge_total], np.int32)),
    )
    if check and not is_traced(graph):
        check_graph(graph)
    return graph


def to_edge_index(graph: jraph.GraphsTuple) -> jax.Array:
    """Returns the ``[2, E]`` edge index ``[senders; receivers]`` (jittable).

    Args:
        graph: A graph with ``senders`` and ``receivers`` ``[E]``.

    Returns:
        Integer array ``[2, E]`` with the dtype of ``senders``.

    Examples:
        >>> to_edge_index(from_edge_index([[0, 1], [1, 0]], 2)).tolist()
        [[0, 1], [1, 0]]
    """
    if graph.senders is None or graph.receivers is None:
        raise ValueError("The graph must have `senders` and `receivers` arrays, got None.")
    if is_traced(graph.senders, graph.receivers):
        return jnp.stack([graph.senders, graph.receivers])
    return to_device(np.stack([np.asarray(graph.senders), np.asarray(graph.receivers)]))


def from_scipy(matrix: Any, *, nodes: Any = None, check: bool = True) -> jraph.GraphsTuple:
    """Builds a single graph from a square SciPy sparse (or dense NumPy) adjacency matrix.

    Host-side: not jittable. ``A[s, r] != 0`` is an edge ``s -> r``; edges are listed in
    row-major order (sorted by sender, then receiver) and the stored values become ``edges``
    of shape ``[E]``. Explicitly stored zeros are dropped; duplicate entries are summed.

    Args:
        matrix: ``scipy.sparse`` matrix/array or 2-D array of shape ``[N, N]``.
        nodes: Optional node features ``[N, ...]``.
        check: If True, run :func:`check_graph` on the result.

    Returns:
        A single graph with ``edges`` ``[E]`` holding the matrix values.

    Raises:
        ValueError: If the matrix is not square 2-D.

    Examples:
        >>> import scipy.sparse as sp
        >>> g = from_scipy(sp.coo_array(([2.0, 3.0], ([0, 1], [1, 0])), shape=(2, 2)))
        >>> g.senders.tolist(), g.edges.tolist()
        ([0, 1], [2.0, 3.0])
    """
    import scipy.sparse as sp

    coo = sp.coo_array(matrix)
    if coo.ndim != 2 or coo.shape[0] != coo.shape[1]:
        raise ValueError(f"Adjacency matrix must be square [N, N], got shape {coo.shape}.")
    csr = sp.csr_array(coo)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    coo = csr.tocoo()
    n = int(coo.shape[0])
    edge_index = np.stack([coo.row, coo.col]).astype(np.int32)
    return from_edge_index(edge_index, n, nodes=nodes, edges=to_device(coo.data), check=check)


def to_scipy(
    graph: jraph.GraphsTuple, edge_weight: Any = None, *, num_nodes: int | None = None
) -> Any:
    """Returns the ``[N, N]`` adjacency as a ``scipy.sparse.coo_array`` (``A[s, r]`` per edge).

    Host-side: not jittable. Duplicate edges stay as duplicate COO entries (SciPy sums them on
    conversion to CSR or dense).

    Args:
        graph: The graph.
        edge_weight: Optional values ``[E]``; defaults to ``graph.edges`` when that is a 1-D
            array of length E, otherwise ones (float32).
        num_nodes: Node count; defaults to :func:`num_nodes` or ``sum(n_node)``.

    Returns:
        ``scipy.sparse.coo_array`` of shape ``[N, N]``.

    Raises:
        ValueError: If ``edge_weight`` is not ``[E]``.

    Examples:
        >>> to_scipy(from_edge_index([[0], [1]], 2)).toarray().tolist()
        [[0.0, 1.0], [0.0, 0.0]]
    """
    import scipy.sparse as sp

    n = _resolve_num_nodes(graph, num_nodes)
    s = np.asarray(graph.senders)
    r = np.asarray(graph.receivers)
    e = s.shape[0]
    if edge_weight is None:
        edges = graph.edges
        if edges is not None and not isinstance(edges, dict | list | tuple):
            if np.shape(edges) == (e,):
                edge_weight = edges
    if edge_weight is None:
        w = np.ones(e, np.float32)
    else:
        w = np.asarray(edge_weight)
        if w.shape != (e,):
            raise ValueError(f"`edge_weight` must have shape ({e},), got {w.shape}.")
    return sp.coo_array((w, (s, r)), shape=(n, n))


def from_networkx(g: Any, *, node_attr: str | None = None, edge_attr: str | None = None):
    """Builds a single graph from a NetworkX graph.

    Host-side: not jittable. Nodes are numbered in ``g.nodes`` iteration order. Undirected
    graphs give both directions of every edge (``u -> v`` then ``v -> u``, a self loop once);
    directed graphs keep ``g.edges`` order. Multigraph parallel edges are kept.

    Args:
        g: A ``networkx`` graph (``Graph``, ``DiGraph``, ``MultiGraph`` or ``MultiDiGraph``).
        node_attr: Optional node attribute name stacked into ``nodes`` ``[N, ...]``.
        edge_attr: Optional edge attribute name stacked into ``edges`` ``[E, ...]`` (an empty
            float32 ``[0]`` array when the graph has no edges).

    Returns:
        A single graph.

    Raises:
        ValueError: If a requested attribute is missing on some node or edge.

    Examples:
        >>> import networkx as nx
        >>> from_networkx(nx.path_graph(3)).senders.tolist()
        [0, 1, 1, 2]
    """
    nodes_list = list(g.nodes)
    index = {u: i for i, u in enumerate(nodes_list)}
    directed = g.is_directed()
    send, recv, feats = [], [], []
    for u, v, data in g.edges(data=True):
        pairs = [(u, v)] if directed or u == v else [(u, v), (v, u)]
        for a, b in pairs:
            send.append(index[a])
            recv.append(index[b])
            if edge_attr is not None:
                if edge_attr not in data:
                    raise ValueError(f"Edge ({u!r}, {v!r}) has no attribute {edge_attr!r}.")
                feats.append(np.asarray(data[edge_attr]))
    nodes = None
    if node_attr is not None:
        vals = []
        for u in nodes_list:
            if node_attr not in g.nodes[u]:
                raise ValueError(f"Node {u!r} has no attribute {node_attr!r}.")
            vals.append(np.asarray(g.nodes[u][node_attr]))
        nodes = to_device(np.stack(vals)) if vals else None
    edges = None
    if edge_attr is not None:
        # Without edges the trailing feature shape is unknown: an empty [0] float32 array.
        edges = to_device(np.stack(feats) if feats else np.zeros((0,), np.float32))
    edge_index = np.array([send, recv], dtype=np.int32).reshape(2, -1)
    return from_edge_index(edge_index, len(nodes_list), nodes=nodes, edges=edges)


def to_networkx(
    graph: jraph.GraphsTuple, *, num_nodes: int | None = None, multigraph: bool = True
) -> Any:
    """Returns a directed NetworkX graph with nodes ``0..N-1`` and one edge per graph edge.

    Host-side: not jittable. Array node/edge features are attached as the ``"x"`` node
    attribute and the ``"edge_attr"`` edge attribute (NumPy values).

    Args:
        graph: The graph.
        num_nodes: Node count; defaults to :func:`num_nodes` or ``sum(n_node)``.
        multigraph: If True (default) return a ``MultiDiGraph`` so duplicate edges survive;
            otherwise a ``DiGraph`` (duplicates collapse, the last feature wins).

    Returns:
        ``networkx.MultiDiGraph`` or ``networkx.DiGraph``.

    Examples:
        >>> sorted(to_networkx(from_edge_index([[0, 1], [1, 2]], 3)).edges())
        [(0, 1), (1, 2)]
    """
    import networkx as nx

    n = _resolve_num_nodes(graph, num_nodes)
    out = nx.MultiDiGraph() if multigraph else nx.DiGraph()
    x = graph.nodes if isinstance(graph.nodes, jax.Array | np.ndarray) else None
    x = None if x is None else np.asarray(x)
    for i in range(n):
        if x is None:
            out.add_node(i)
        else:
            out.add_node(i, x=x[i])
    ea = graph.edges if isinstance(graph.edges, jax.Array | np.ndarray) else None
    ea = None if ea is None else np.asarray(ea)
    s = np.asarray(graph.senders).tolist()
    r = np.asarray(graph.receivers).tolist()
    for k, (a, b) in enumerate(zip(s, r, strict=True)):
        if ea is None:
            out.add_edge(a, b)
        else:
            out.add_edge(a, b, edge_attr=ea[k])
    return out
