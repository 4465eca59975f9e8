"""Aggregation of per-edge messages into per-node results (the "aggregate" step).

One entry point, :func:`aggregate_messages`, resolves the ``aggregate`` argument of
:func:`jgnn.message_passing.propagate`: a reducer name, a list of names (PyG's
multi-aggregation, concatenated on the last feature axis), the attention-style ``"softmax"``
reducer, or a callable. The reductions themselves are :data:`jgnn.segment.REDUCERS`; nothing
here re-implements or re-lists them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import jax.numpy as jnp
from jax import Array

from jgnn.fn import ReduceFunction
from jgnn.segment import REDUCERS, segment_reduce, segment_softmax, segment_sum

__all__ = ["AGGREGATES", "Aggregate", "aggregate_messages"]

#: Names accepted by ``aggregate``: every segment reducer, ``"add"`` (PyG's alias of ``"sum"``)
#: and the attention-style ``"softmax"``.
AGGREGATES: tuple[str, ...] = ("sum", "add", *tuple(REDUCERS)[1:], "softmax")

#: What ``aggregate`` may be: a name (or a ``jgnn.fn`` reducer), a callable
#: ``(messages, index, num_segments) -> out``, or a non-empty sequence of those (results
#: concatenated on the last axis).
Aggregate: TypeAlias = "str | Callable[[Any, Array, int], Array] | Sequence[str | Callable]"


def normalize_aggregate(aggregate: Any) -> str | Callable | tuple[str | Callable, ...]:
    """Validates ``aggregate`` and returns it with lists turned into tuples and ``"add"``
    renamed ``"sum"``.

    A :mod:`jgnn.fn` reducer (``jgnn.fn.mean``) stands for its name.

    Raises:
      ValueError: an unknown name, or an empty sequence.
      TypeError: an entry that is neither a string nor a callable.
      NotImplementedError: ``jgnn.fn.none`` (use ``jgnn.ops.apply_edges`` for per-edge
        messages).
    """
    if isinstance(aggregate, ReduceFunction):
        if aggregate.name == "none":
            raise NotImplementedError(
                "aggregate=jgnn.fn.none keeps the messages on the edges, which propagate does "
                "not do; use jgnn.ops.apply_edges(graph, message, ...) for per-edge messages."
            )
        aggregate = aggregate.name
    if isinstance(aggregate, str):
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}.")
        return "sum" if aggregate == "add" else aggregate
    if callable(aggregate):
        return aggregate
    if isinstance(aggregate, Sequence):
        if len(aggregate) == 0:
            raise ValueError("aggregate: got an empty sequence; give at least one reducer.")
        parts = []
        for entry in aggregate:
            if isinstance(entry, (str, ReduceFunction)) or callable(entry):
                parts.append(normalize_aggregate(entry))
            else:
                raise TypeError(
                    "aggregate: every entry of a sequence must be a reducer name or a callable, "
                    f"got {type(entry).__name__} ({entry!r})."
                )
        return tuple(parts)
    raise TypeError(
        f"aggregate must be a name in {AGGREGATES}, a callable "
        f"(messages, index, num_segments) -> out, or a sequence of those; got "
        f"{type(aggregate).__name__} ({aggregate!r})."
    )


def _softmax_aggregate(messages: Any, index: Array, num_segments: int) -> Array:
    """Softmax-weighted sum over each segment (see :func:`aggregate_messages`)."""
    if isinstance(messages, tuple):
        if len(messages) != 2:
            raise ValueError(
                "aggregate='softmax': a tuple message must be (logits, values), got a tuple of "
                f"length {len(messages)}."
            )
        logits, values = (jnp.asarray(m) for m in messages)
        if values.shape[: logits.ndim] != logits.shape:
            raise ValueError(
                "aggregate='softmax': logits must have shape [E, *H] with values of shape "
                f"[E, *H, *F]; got logits {logits.shape} and values {values.shape}."
            )
    else:
        logits = values = jnp.asarray(messages)
    weights = segment_softmax(logits, index, num_segments)
    weights = weights.reshape(weights.shape + (1,) * (values.ndim - weights.ndim))
    return segment_sum(weights.astype(values.dtype) * values, index, num_segments)


def _reduce_one(reducer: str | Callable, messages: Any, index: Array, num_segments: int) -> Array:
    if callable(reducer):
        return reducer(messages, index, num_segments)
    if reducer == "softmax":
        return _softmax_aggregate(messages, index, num_segments)
    if isinstance(messages, tuple):
        raise TypeError(
            f"aggregate={reducer!r}: the message returned a tuple; only aggregate='softmax' "
            "takes (logits, values) pairs. Return one [E, *F] array for the other reducers."
        )
    return segment_reduce(reducer, messages, index, num_segments, fn="aggregate")


def aggregate_messages(
    messages: Array | tuple[Array, Array],
    index: Array,
    num_segments: int,
    aggregate: Aggregate = "sum",
) -> Array:
    """Reduces per-edge messages onto their destination nodes.

    Reducers (all give 0 on a node with no incoming edge, as :mod:`jgnn.ops` does):

    * ``"sum"``/``"add"``, ``"mean"``, ``"max"``, ``"min"``, ``"prod"``, ``"std"``, ``"var"``:
      the matching ``jgnn.ops.segment_*`` reducer (population ``std``/``var``, ``ddof=0``).
    * ``"softmax"``: attention-weighted sum. If ``messages`` is a pair ``(logits, values)``
      with ``logits`` ``[E, *H]`` and ``values`` ``[E, *H, *F]``, the logits are normalised
      with a softmax over each node's incoming edges (separately for every ``H`` entry) and
      the values are summed with those weights; the result is ``[num_segments, *H, *F]``.
      If ``messages`` is a single array it is both logits and values, per channel: PyG's
      ``SoftmaxAggregation`` with temperature 1.
    * a callable ``(messages, index, num_segments) -> [num_segments, ...]``.
    * a sequence of the above: each result is computed and they are concatenated on the last
      axis (PyG's multi-aggregation); a 1-D message ``[E]`` gives ``[num_segments, k]``.

    Args:
      messages: ``[E, *F]`` messages, or ``(logits, values)`` for ``"softmax"``.
      index: ``[E]`` integer destination node of each message.
      num_segments: number of destination nodes ``N`` (static Python int).
      aggregate: the reducer, see above.

    Returns:
      ``[N, *F]`` (``[N, *F[:-1], k * F[-1]]`` for a sequence of ``k`` reducers).

    Raises:
      ValueError: an unknown reducer name, an empty sequence or mismatched softmax shapes.
      TypeError: a tuple message given to a reducer other than ``"softmax"``.

    Examples:
      >>> import jax.numpy as jnp
      >>> msg = jnp.array([[1.0], [3.0], [5.0]])
      >>> aggregate_messages(msg, jnp.array([0, 0, 1]), 2, ["sum", "max"])
      Array([[4., 3.],
             [5., 5.]], dtype=float32)
    """
    reducer = normalize_aggregate(aggregate)
    if not isinstance(reducer, tuple):
        return _reduce_one(reducer, messages, index, num_segments)
    if isinstance(messages, tuple):
        raise TypeError(
            "aggregate: a sequence of reducers needs one [E, *F] message array; (logits, "
            "values) pairs are only accepted by aggregate='softmax' on its own."
        )
    outs = [_reduce_one(r, messages, index, num_segments) for r in reducer]
    if jnp.ndim(messages) == 1:
        outs = [o[:, None] for o in outs]
    return jnp.concatenate(outs, axis=-1)
