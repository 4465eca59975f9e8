"""``MessagePassing``: a thin ``flax.nnx`` base that runs :func:`propagate`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flax import nnx
from jax import Array

from jgnn.message_passing._aggregate import Aggregate
from jgnn.message_passing._propagate import Message, propagate
from jgnn.sparse import Graph

__all__ = ["MessagePassing"]


class MessagePassing(nnx.Module):
    """Base class for message-passing layers: ``__call__`` runs :func:`propagate`.

    A subclass owns its parameters (built eagerly in ``__init__``, as every NNX layer) and
    sets any of these class or instance attributes, which are handed to :func:`propagate`
    unchanged:

    * ``message``: ``None`` (copy ``x_j``, weighted by a scalar ``edge_attr``), a
      :mod:`jgnn.fn` builtin, or a method ``message(self, edges: Edges) -> [E, *F']``;
    * ``aggregate``: a reducer name, a list of them, a ``jgnn.fn`` reducer, or a method
      ``aggregate(self, messages, index, num_segments)``; default ``"sum"``;
    * ``update``: ``None`` or a method ``update(self, aggr_out, x_dst) -> out``;
    * ``impl`` (default ``"auto"``) and ``fuse`` (default ``"auto"``), see :func:`propagate`.

    The base holds no state, caches nothing and inspects no signatures. Leaving ``message``
    as ``None`` (or a fusable builtin) with a ``sum``/``mean``/``max``/``min`` aggregate lets
    a ``SparseTensor`` graph run the whole step as one sparse product; a common pattern is to
    transform ``x`` before propagating rather than inside the message.

    Examples:
      A mean-aggregation layer with a root weight, ``x_i' = W1 mean_j x_j + W2 x_i``:

      >>> import jax.numpy as jnp
      >>> from flax import nnx
      >>> class MeanConv(MessagePassing):
      ...     aggregate = "mean"
      ...
      ...     def __init__(self, din, dout, *, rngs):
      ...         self.lin = nnx.Linear(din, dout, rngs=rngs)
      ...         self.root = nnx.Linear(din, dout, use_bias=False, rngs=rngs)
      ...
      ...     def message(self, edges):
      ...         return self.lin(edges.x_j)
      ...
      ...     def update(self, aggr_out, x):
      ...         return aggr_out + self.root(x)
      >>> conv = MeanConv(3, 4, rngs=nnx.Rngs(0))
      >>> edge_index = jnp.array([[0, 1, 2], [1, 2, 1]])
      >>> conv(edge_index, jnp.ones((3, 3))).shape
      (3, 4)
    """

    message: Message = None
    aggregate: Aggregate = "sum"
    update: Callable[[Array, Array | None], Array] | None = None
    impl: str = "auto"
    fuse: bool | str = "auto"

    def __call__(
        self,
        graph: Graph,
        x: Array | tuple[Array, Array | None],
        edge_attr: Array | None = None,
        *,
        num_nodes: int | tuple[int, int] | None = None,
    ) -> Any:
        """Runs :func:`propagate` with this layer's ``message``/``aggregate``/``update``.

        Args:
          graph: a ``jraph.GraphsTuple``, an edge index ``[2, E]`` or a ``SparseTensor``
            ``adj_t``.
          x: node features ``[N, *F]`` or a bipartite pair ``(x_src, x_dst)``.
          edge_attr: optional edge features ``[E, *D]``.
          num_nodes: optional static node count, an int or ``(num_src, num_dst)``.

        Returns:
          ``[N_dst, *F']`` node features.

        Raises:
          ValueError, TypeError, NotImplementedError: as :func:`propagate`.
        """
        return propagate(
            graph,
            x,
            message=self.message,
            aggregate=self.aggregate,
            update=self.update,
            edge_attr=edge_attr,
            num_nodes=num_nodes,
            impl=self.impl,
            fuse=self.fuse,
        )
