"""``CSCGraph``: the host graph store every sampler reads (CSC, built once, shareable).

For each destination node the store keeps the sorted list of its in-neighbour sources (the
compressed sparse column layout of the adjacency ``A[src, dst]``), the original edge id of each
entry and optional float32 edge weights. Samplers walk in-edges, so sampling the neighbours of
``v`` is one contiguous slice ``indices[indptr[v]:indptr[v + 1]]``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jgnn.sampling._checks import as_host_array, check_int
from jgnn.sampling._shared import SharedArrays

__all__ = ["CSCGraph", "as_csc_graph"]

_INT32_MAX = np.iinfo(np.int32).max


def _offset_dtype(num_edges: int) -> type[np.integer]:
    """int32 offsets and edge ids up to ``2**31 - 1`` edges, int64 beyond."""
    return np.int32 if num_edges <= _INT32_MAX else np.int64


def _edge_ids_from(value: Any, name: str, num_nodes: int) -> np.ndarray:
    """A 1-D integer id array checked against ``[0, num_nodes)``."""
    arr = as_host_array(value, name)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"`{name}` must be an integer array, got dtype {arr.dtype}.")
    if arr.ndim != 1:
        raise ValueError(f"`{name}` must be 1-D, got shape {arr.shape}.")
    bad = np.flatnonzero((arr < 0) | (arr >= num_nodes))
    if bad.size:
        pos = int(bad[0])
        raise ValueError(
            f"`{name}` has id {int(arr[pos])} at edge position {pos}, out of range "
            f"[0, {num_nodes}); the graph has {num_nodes} nodes."
        )
    return arr


def _weights_from(value: Any, num_edges: int, name: str = "edge_weight") -> np.ndarray | None:
    """Optional per-edge weights as float32 ``[E]``."""
    if value is None:
        return None
    arr = as_host_array(value, name)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"`{name}` must be a real-valued array, got dtype {arr.dtype}.")
    if arr.shape != (num_edges,):
        raise ValueError(f"`{name}` must have shape ({num_edges},), got {arr.shape}.")
    return arr.astype(np.float32)


def _num_nodes_from(num_nodes: Any, src: np.ndarray, dst: np.ndarray) -> int:
    if num_nodes is None:
        return int(max(src.max(initial=-1), dst.max(initial=-1))) + 1
    num_nodes = check_int(num_nodes, "num_nodes", minimum=0)
    if num_nodes > _INT32_MAX:
        raise ValueError(f"`num_nodes` must fit in int32, got {num_nodes}.")
    return num_nodes


class CSCGraph:
    """In-edges of every node in compressed sparse column order, on the host.

    Build it with :func:`as_csc_graph` or a ``from_*`` constructor; every sampler accepts one
    (or anything :func:`as_csc_graph` accepts). Call :meth:`share` before handing a sampler to
    worker processes: the shared store pickles to its file name and layout only.

    Attributes:
      indptr: int32 ``[N + 1]`` column pointers (int64 when ``E > 2**31 - 1``); the in-edges
        of ``v`` are entries ``indptr[v]:indptr[v + 1]``.
      indices: int32 ``[E]`` source node of every entry, sorted within each column.
      edge_ids: ``[E]`` (dtype of ``indptr``) original edge id of every entry (its position in
        the input edge list).
      weight: float32 ``[E]`` edge weights in entry order, or None.
      num_nodes: ``N``.

    Examples:
      >>> g = CSCGraph.from_edge_index(np.array([[1, 2, 0], [0, 0, 2]]))
      >>> g.indptr.tolist(), g.indices.tolist(), g.edge_ids.tolist()
      ([0, 2, 2, 3], [1, 2, 0], [0, 1, 2])
    """

    __slots__ = ("indptr", "indices", "edge_ids", "weight", "num_nodes", "max_in_degree", "_shared")

    def __init__(
        self,
        indptr: Any,
        indices: Any,
        edge_ids: Any = None,
        weight: Any = None,
        *,
        check: bool = True,
    ) -> None:
        """Wraps existing CSC arrays (``edge_ids`` default ``arange(E)``).

        Host-side: not jittable.

        Args:
            indptr: Integer ``[N + 1]`` column pointers, non-decreasing from 0 to ``E``.
            indices: Integer ``[E]`` source ids, sorted within each column.
            edge_ids: Integer ``[E]`` original edge ids, or None for ``arange(E)``.
            weight: Real ``[E]`` edge weights, or None.
            check: Validate the arrays (shapes, dtypes, ranges, sortedness).

        Raises:
            TypeError: If an id array is not integer-valued.
            ValueError: If the arrays are inconsistent.
        """
        indptr = as_host_array(indptr, "indptr")
        indices = as_host_array(indices, "indices")
        if check:
            for arr, name in ((indptr, "indptr"), (indices, "indices")):
                if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
                    raise TypeError(
                        f"`{name}` must be a 1-D integer array, got {arr.dtype} {arr.shape}."
                    )
            if indptr.size == 0 or indptr[0] != 0 or indptr[-1] != indices.size:
                raise ValueError(
                    f"`indptr` must start at 0 and end at len(indices) = {indices.size}, got "
                    f"{indptr[:1].tolist()} ... {indptr[-1:].tolist()}."
                )
            if np.any(np.diff(indptr) < 0):
                raise ValueError("`indptr` must be non-decreasing.")
        num_nodes = int(indptr.size) - 1
        num_edges = int(indices.size)
        if check:
            if num_nodes > _INT32_MAX:
                raise ValueError(f"The graph must have at most 2**31 - 1 nodes, got {num_nodes}.")
            _edge_ids_from(indices, "indices", num_nodes)
            new_column = np.zeros(num_edges, bool)
            new_column[indptr[1:-1][indptr[1:-1] < num_edges]] = True
            if num_edges and np.any((np.diff(indices.astype(np.int64)) < 0) & ~new_column[1:]):
                raise ValueError("`indices` must be sorted within each column of `indptr`.")
        odt = _offset_dtype(num_edges)
        if edge_ids is None:
            edge_ids = np.arange(num_edges, dtype=odt)
        else:
            edge_ids = as_host_array(edge_ids, "edge_ids")
            if check:
                if edge_ids.dtype == np.bool_ or not np.issubdtype(edge_ids.dtype, np.integer):
                    raise TypeError(f"`edge_ids` must be integers, got dtype {edge_ids.dtype}.")
                if edge_ids.shape != (num_edges,) or np.any(edge_ids < 0):
                    raise ValueError(
                        f"`edge_ids` must be non-negative with shape ({num_edges},), got shape "
                        f"{edge_ids.shape}."
                    )
        self.indptr = indptr.astype(odt, copy=False)
        self.indices = indices.astype(np.int32, copy=False)
        self.edge_ids = edge_ids.astype(odt, copy=False)
        self.weight = _weights_from(weight, num_edges, "weight") if check else weight
        self.num_nodes = num_nodes
        self.max_in_degree = int(np.diff(self.indptr).max(initial=0))
        self._shared: SharedArrays | None = None

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def from_edges(
        cls,
        src: Any,
        dst: Any,
        num_nodes: int | None = None,
        edge_weight: Any = None,
        *,
        edge_ids: Any = None,
    ) -> CSCGraph:
        """Builds the store from parallel source/destination id arrays.

        Host-side: not jittable. Entries are sorted by ``(dst, src)``; duplicates are kept
        (in input order), so multigraphs sample each parallel edge separately.

        Args:
            src: Integer ``[E]`` source ids (messages flow ``src -> dst``).
            dst: Integer ``[E]`` destination ids.
            num_nodes: ``N``; default ``max(id) + 1``.
            edge_weight: Optional real ``[E]`` weights.
            edge_ids: Optional integer ``[E]`` ids to record per edge (default: the position).

        Returns:
            A :class:`CSCGraph`.

        Raises:
            TypeError: If ids are not integers or weights are not real.
            ValueError: If shapes disagree or an id is out of range.
        """
        src = as_host_array(src, "senders")
        dst = as_host_array(dst, "receivers")
        for arr, name in ((src, "senders"), (dst, "receivers")):
            if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
                raise TypeError(f"`{name}` must be an integer array, got dtype {arr.dtype}.")
        if src.ndim != 1 or src.shape != dst.shape:
            raise ValueError(
                f"`senders` and `receivers` must be 1-D of equal length, got shapes {src.shape} "
                f"and {dst.shape}."
            )
        n = _num_nodes_from(num_nodes, src, dst)
        _edge_ids_from(src, "senders", n)
        _edge_ids_from(dst, "receivers", n)
        weight = _weights_from(edge_weight, src.size)
        e = int(src.size)
        odt = _offset_dtype(e)
        order = np.argsort(dst.astype(np.int64) * max(n, 1) + src, kind="stable").astype(odt)
        indptr = np.zeros(n + 1, odt)
        np.cumsum(np.bincount(dst, minlength=n), out=indptr[1:])
        ids = order if edge_ids is None else as_host_array(edge_ids, "edge_ids")[order]
        return cls(
            indptr,
            src[order].astype(np.int32),
            ids,
            None if weight is None else weight[order],
            check=False,
        )

    @classmethod
    def from_edge_index(
        cls, edge_index: Any, num_nodes: int | None = None, edge_weight: Any = None
    ) -> CSCGraph:
        """Builds the store from a ``[2, E]`` edge index (row 0 sources, row 1 targets).

        Host-side: not jittable. Accepts NumPy or JAX arrays.

        Args:
            edge_index: Integer ``[2, E]``.
            num_nodes: ``N``; default ``max(id) + 1``.
            edge_weight: Optional real ``[E]``.

        Returns:
            A :class:`CSCGraph` whose ``edge_ids`` are column positions in ``edge_index``.

        Raises:
            TypeError: If ``edge_index`` is not integer-valued.
            ValueError: If it is not ``[2, E]`` or an id is out of range.
        """
        ei = as_host_array(edge_index, "edge_index")
        if ei.ndim != 2 or ei.shape[0] != 2:
            raise ValueError(f"`edge_index` must have shape [2, E], got {ei.shape}.")
        if ei.dtype == np.bool_ or not np.issubdtype(ei.dtype, np.integer):
            raise TypeError(f"`edge_index` must be an integer array, got dtype {ei.dtype}.")
        return cls.from_edges(ei[0], ei[1], num_nodes, edge_weight)

    @classmethod
    def from_graphs_tuple(cls, graph: Any, edge_weight: Any = None) -> CSCGraph:
        """Builds the store from a ``jraph.GraphsTuple`` (``senders -> receivers``).

        Host-side: not jittable. ``N = sum(n_node)``; a batch of graphs becomes one disjoint
        union. Weights default to ``graph.edges`` when that is a 1-D ``[E]`` array (the rule of
        :func:`jgnn.graph.to_scipy`).

        Args:
            graph: A ``GraphsTuple`` with concrete ``senders``, ``receivers`` and ``n_node``.
            edge_weight: Optional real ``[E]``.

        Returns:
            A :class:`CSCGraph` whose ``edge_ids`` index the graph's edges.

        Raises:
            ValueError: If ``senders``/``receivers``/``n_node`` are missing.
        """
        if graph.senders is None or graph.receivers is None or graph.n_node is None:
            raise ValueError("`graph` must have `senders`, `receivers` and `n_node` arrays.")
        n = int(as_host_array(graph.n_node, "graph.n_node").sum())
        e = int(np.shape(graph.senders)[0])
        if edge_weight is None and graph.edges is not None:
            if not isinstance(graph.edges, dict | list | tuple) and np.shape(graph.edges) == (e,):
                edge_weight = graph.edges
        return cls.from_edges(graph.senders, graph.receivers, n, edge_weight)

    @classmethod
    def from_sparse_tensor(cls, adj_t: Any) -> CSCGraph:
        """Builds the store from a ``jgnn.sparse.SparseTensor`` ``adj_t`` (rows = destinations).

        Host-side: not jittable. ``adj_t``'s CSR is the graph's CSC, so no sort is needed; the
        edge ids are positions in ``adj_t``'s (row-major) storage, as in PyG. A 1-D ``value``
        becomes the edge weights.

        Args:
            adj_t: A square ``SparseTensor`` whose entry ``(i, j)`` is an edge ``j -> i``.

        Returns:
            A :class:`CSCGraph`.

        Raises:
            ValueError: If ``adj_t`` is not square.
        """
        m, n = adj_t.sparse_sizes()
        if m != n:
            raise ValueError(f"`adj_t` must be square [N, N], got sparse sizes ({m}, {n}).")
        rowptr, col, value = adj_t.csr()
        weight = None
        if value is not None and np.ndim(value) == 1:
            weight = np.asarray(value)
        return cls(np.asarray(rowptr), np.asarray(col), None, weight, check=True)

    @classmethod
    def from_scipy(cls, matrix: Any) -> CSCGraph:
        """Builds the store from a square SciPy sparse matrix (``A[i, j] != 0``: edge ``i -> j``).

        Host-side: not jittable. Duplicates are summed and explicit zeros dropped, and the
        edge ids index the edges of :func:`jgnn.graph.from_scipy` on the same matrix (row-major
        order); the stored values become the edge weights, as in PyG's
        ``from_scipy_sparse_matrix``.

        Args:
            matrix: A ``scipy.sparse`` matrix or array of shape ``[N, N]``.

        Returns:
            A :class:`CSCGraph` with weights.

        Raises:
            TypeError: If ``matrix`` is not a SciPy sparse matrix.
            ValueError: If it is not square.
        """
        import scipy.sparse as sp

        if not sp.issparse(matrix):
            raise TypeError(f"`matrix` must be a scipy.sparse matrix, got {type(matrix).__name__}.")
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError(f"`matrix` must be square [N, N], got shape {matrix.shape}.")
        csr = sp.csr_array(matrix)
        csr.sum_duplicates()
        csr.eliminate_zeros()
        csr.sort_indices()
        coo = csr.tocoo()
        return cls.from_edges(coo.row, coo.col, int(matrix.shape[0]), coo.data)

    # -- views -------------------------------------------------------------------------------

    @property
    def num_edges(self) -> int:
        """``E``."""
        return int(self.indices.shape[0])

    def in_degree(self) -> np.ndarray:
        """In-degree ``[N]`` (dtype of ``indptr``)."""
        return np.diff(self.indptr)

    def destinations(self) -> np.ndarray:
        """int32 ``[E]`` destination of every entry (entry order)."""
        return np.repeat(np.arange(self.num_nodes, dtype=np.int32), self.in_degree())

    def to_edge_index(self) -> np.ndarray:
        """int64 ``[2, E]`` edges in original edge-id order (row 0 sources).

        Host-side: not jittable. Inverts the CSC sort when ``edge_ids`` is a permutation of
        ``arange(E)`` (always, unless the store was built with explicit ``edge_ids``).

        Returns:
            ``ei`` with ``ei[:, edge_ids[k]] = (indices[k], destination of k)``.
        """
        out = np.empty((2, self.num_edges), np.int64)
        out[0, self.edge_ids] = self.indices
        out[1, self.edge_ids] = self.destinations()
        return out

    # -- sharing -----------------------------------------------------------------------------

    @property
    def is_shared(self) -> bool:
        """Whether the arrays live in a shared memory-mapped file (pickles by name)."""
        return self._shared is not None

    def share(self, directory: str | os.PathLike[str] | None = None) -> CSCGraph:
        """Returns a copy whose arrays live in shared memory (see :class:`SharedArrays`).

        Host-side. Pickling the result sends the file name and layout only, so worker
        processes map the same pages instead of copying the graph. Keep the returned object
        alive while workers start: it deletes the file when collected.

        Args:
            directory: Folder for the backing file (default ``/dev/shm`` or the temp dir).

        Returns:
            A shared :class:`CSCGraph` (``self`` if already shared).
        """
        if self.is_shared:
            return self
        arrays = {"indptr": self.indptr, "indices": self.indices, "edge_ids": self.edge_ids}
        if self.weight is not None:
            arrays["weight"] = self.weight
        return CSCGraph._from_shared(SharedArrays(arrays, directory))

    @classmethod
    def _from_shared(cls, shared: SharedArrays) -> CSCGraph:
        obj = cls(
            shared["indptr"],
            shared["indices"],
            shared["edge_ids"],
            shared.get("weight"),
            check=False,
        )
        obj._shared = shared
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        if self._shared is not None:
            return CSCGraph._from_shared, (self._shared,)
        return _rebuild, (self.indptr, self.indices, self.edge_ids, self.weight)

    def __repr__(self) -> str:
        where = f", shared={self._shared.path!r}" if self._shared is not None else ""
        weighted = ", weighted" if self.weight is not None else ""
        return f"CSCGraph(num_nodes={self.num_nodes}, num_edges={self.num_edges}{weighted}{where})"


def _rebuild(indptr, indices, edge_ids, weight) -> CSCGraph:
    return CSCGraph(indptr, indices, edge_ids, weight, check=False)


def as_csc_graph(graph: Any, *, num_nodes: int | None = None, edge_weight: Any = None) -> CSCGraph:
    """Converts any supported graph description into a :class:`CSCGraph`.

    Host-side: not jittable. Accepted inputs: a :class:`CSCGraph` (returned as is), a
    ``jraph.GraphsTuple`` (``senders -> receivers``), an integer ``[2, E]`` edge index (NumPy or
    JAX; row 0 sources), a ``jgnn.sparse.SparseTensor`` ``adj_t`` (rows = destinations), or a
    ``scipy.sparse`` matrix (``A[i, j] != 0`` is an edge ``i -> j``).

    Args:
        graph: The graph.
        num_nodes: ``N`` for an edge index (default ``max(id) + 1``); ignored otherwise.
        edge_weight: Optional real ``[E]`` weights for an edge index or ``GraphsTuple``.

    Returns:
        A :class:`CSCGraph`.

    Raises:
        TypeError: If ``graph`` is none of the above, or ids are not integers.
        ValueError: If shapes or ids are invalid.

    Examples:
        >>> as_csc_graph(np.array([[0, 1], [1, 2]]), num_nodes=4).num_nodes
        4
    """
    if isinstance(graph, CSCGraph):
        return graph
    if hasattr(graph, "senders") and hasattr(graph, "receivers") and hasattr(graph, "n_node"):
        return CSCGraph.from_graphs_tuple(graph, edge_weight)
    if hasattr(graph, "sparse_sizes") and hasattr(graph, "csr"):
        return CSCGraph.from_sparse_tensor(graph)
    import scipy.sparse as sp

    if sp.issparse(graph):
        return CSCGraph.from_scipy(graph)
    if isinstance(graph, np.ndarray | list | tuple) or hasattr(graph, "__array__"):
        return CSCGraph.from_edge_index(graph, num_nodes, edge_weight)
    raise TypeError(
        "`graph` must be a CSCGraph, jraph.GraphsTuple, [2, E] edge index, "
        f"jgnn.sparse.SparseTensor adj_t or scipy.sparse matrix, got {type(graph).__name__}."
    )
