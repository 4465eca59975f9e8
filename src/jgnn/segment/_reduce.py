"""The one table of reducer names, and :func:`segment_reduce` to apply one by name."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType

from jax import Array

from jgnn.segment._extrema import segment_max, segment_min
from jgnn.segment._moments import segment_std, segment_var
from jgnn.segment._prod import segment_prod
from jgnn.segment._sum import segment_mean, segment_sum

__all__ = ["REDUCERS", "segment_reduce"]

#: Reducer name -> segment reducer ``(data, segment_ids, num_segments, *,
#: indices_are_sorted=False) -> [num_segments, *F]``. ``std``/``var`` are population
#: statistics (``ddof=0``). Read-only.
REDUCERS: MappingProxyType[str, Callable[..., Array]] = MappingProxyType(
    {
        "sum": segment_sum,
        "mean": segment_mean,
        "max": segment_max,
        "min": segment_min,
        "prod": segment_prod,
        "std": segment_std,
        "var": segment_var,
    }
)


def segment_reduce(
    reduce: str,
    data: Array,
    segment_ids: Array,
    num_segments: int,
    *,
    indices_are_sorted: bool = False,
    fn: str = "segment_reduce",
) -> Array:
    """Reduces ``data [E, *F]`` into ``[num_segments, *F]`` with the reducer named ``reduce``.

    Args:
      reduce: a key of :data:`REDUCERS`.
      data: ``[E, *F]``.
      segment_ids: ``[E]`` integer ids.
      num_segments: static number of segments.
      indices_are_sorted: whether ``segment_ids`` is non-decreasing.
      fn: the caller's name, for the error message.

    Raises:
      ValueError: ``reduce`` is not a known name.

    Examples:
      >>> import jax.numpy as jnp
      >>> segment_reduce("max", jnp.array([1.0, 4.0, 2.0]), jnp.array([0, 0, 1]), 2)
      Array([4., 2.], dtype=float32)
    """
    try:
        reducer = REDUCERS[reduce]
    except (KeyError, TypeError):
        raise ValueError(
            f"{fn}: reduce must be one of {tuple(REDUCERS)}, got {reduce!r}."
        ) from None
    return reducer(data, segment_ids, num_segments, indices_are_sorted=indices_are_sorted)
