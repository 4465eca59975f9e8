"""jgnn.message_passing: ``propagate`` (message -> aggregate -> update) and the NNX base.

:func:`propagate` is the pure function; :class:`MessagePassing` is a thin ``flax.nnx`` base
whose ``__call__`` runs ``propagate`` with the subclass's ``message``/``aggregate``/``update``.
"""

from jgnn.message_passing._aggregate import AGGREGATES as AGGREGATES
from jgnn.message_passing._aggregate import aggregate_messages as aggregate_messages
from jgnn.message_passing._edges import Edges as Edges
from jgnn.message_passing._module import MessagePassing as MessagePassing
from jgnn.message_passing._propagate import propagate as propagate

__all__ = [
    "AGGREGATES",
    "Edges",
    "MessagePassing",
    "aggregate_messages",
    "propagate",
]
