"""The lazy per-edge view handed to user message functions (PyG names over ``EdgeBatch``)."""

from __future__ import annotations

from jax import Array

from jgnn.ops import EdgeBatch

__all__ = ["Edges"]


class Edges(EdgeBatch):
    """Per-edge view of a graph for a message function ``message(edges) -> [E, *F']``.

    Edge ``e`` runs from source node ``index_j[e]`` to destination node ``index_i[e]`` (PyG's
    ``j -> i`` naming). Node features are gathered onto the edges only when first read, and
    cached, so a message that never reads ``x_i`` never gathers the destination features: no
    signature introspection is needed to find out what a message uses. This is
    :class:`jgnn.ops.EdgeBatch` (DGL's names ``src``/``dst``/``data``, also available) with
    PyG's names on top.

    Attributes:
      index_j: int32 ``[E]`` source (sender) node of each edge.
      index_i: int32 ``[E]`` destination (receiver) node of each edge.
      num_src: number of source nodes (static int).
      num_dst: number of destination nodes (static int).

    Examples:
      >>> import jax.numpy as jnp
      >>> x = jnp.array([[1.0], [2.0], [3.0]])
      >>> edges = Edges(jnp.array([0, 2]), jnp.array([1, 1]), x_src=x, x_dst=x,
      ...               num_src=3, num_dst=3)
      >>> edges.x_j
      Array([[1.],
             [3.]], dtype=float32)
      >>> edges.gathered
      ('x_j',)
    """

    def __init__(
        self,
        index_j: Array,
        index_i: Array,
        *,
        x_src: Array,
        x_dst: Array | None = None,
        edge_attr: Array | None = None,
        num_src: int,
        num_dst: int,
    ) -> None:
        super().__init__(index_j, index_i, u=x_src, v=x_dst, e=edge_attr)
        self._has_dst = x_dst is not None
        self._edge_attr = edge_attr
        self.num_src = num_src
        self.num_dst = num_dst

    @property
    def index_j(self) -> Array:
        """int32 ``[E]`` source node of each edge (``src_ids``)."""
        return self.src_ids

    @property
    def index_i(self) -> Array:
        """int32 ``[E]`` destination node of each edge (``dst_ids``)."""
        return self.dst_ids

    @property
    def num_edges(self) -> int:
        """Number of edges ``E`` (static int)."""
        return self.batch_size()

    @property
    def x_j(self) -> Array:
        """``[E, *F]`` features of each edge's source node, gathered on first access."""
        return self.src

    @property
    def x_i(self) -> Array:
        """``[E, *F]`` features of each edge's destination node, gathered on first access.

        Raises:
          ValueError: destination nodes have no features (``x=(x_src, None)``).
        """
        if not self._has_dst:
            raise ValueError(
                "edges.x_i is unavailable: propagate got x=(x_src, None), so destination nodes "
                "have no features. Pass x=(x_src, x_dst) to use x_i in the message."
            )
        return self.dst

    @property
    def edge_attr(self) -> Array:
        """``[E, *D]`` edge features (no gather: already one row per edge).

        Raises:
          ValueError: propagate got no ``edge_attr`` (and the graph stores no values).
        """
        if self._edge_attr is None:
            raise ValueError(
                "edges.edge_attr is unavailable: propagate got edge_attr=None and the graph "
                "stores no edge values. Pass edge_attr=[E, *D] to propagate."
            )
        return self._edge_attr

    @property
    def gathered(self) -> tuple[str, ...]:
        """Which node features have been gathered so far: a subset of ``("x_j", "x_i")``."""
        # EdgeBatch caches its gathers as cached properties named ``src`` and ``dst``.
        return tuple(name for name, key in (("x_j", "src"), ("x_i", "dst")) if key in self.__dict__)

    def __repr__(self) -> str:
        return (
            f"Edges(num_edges={self.num_edges}, num_src={self.num_src}, "
            f"num_dst={self.num_dst}, gathered={self.gathered})"
        )
