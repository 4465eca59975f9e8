"""The batch-source protocol the loader consumes, and the base class of jgnn's sources.

A batch source is a map ``(epoch, index) -> SampledSubgraph``: batch ``index`` of epoch
``epoch`` is a pure function of the source's seed, ``epoch`` and ``index``. So the loader can
fetch batches in any order, from any number of worker threads or processes, resume from a
checkpoint holding two integers, and get the same batches every time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

import numpy as np

from jgnn.sampling._checks import check_int
from jgnn.sampling._rng import TAG_BATCH, TAG_EPOCH, mix
from jgnn.sampling._subgraph import SampledSubgraph

__all__ = ["BatchSource", "IndexedSource"]


@runtime_checkable
class BatchSource(Protocol):
    """What the loader needs from a sampler: a deterministic, indexable epoch of batches.

    Implementations are cheap to pickle (their graph lives in shared memory, see
    :meth:`jgnn.sampling.CSCGraph.share`) and safe to call from several threads and
    processes at once.
    """

    def __len__(self) -> int:
        """Number of batches per epoch."""
        ...

    def get(self, epoch: int, index: int) -> SampledSubgraph:
        """Batch ``index`` (``0 <= index < len(self)``) of epoch ``epoch`` (``>= 0``).

        Deterministic: a function of the source's seed, ``epoch`` and ``index`` only.
        """
        ...

    def iter_epoch(self, epoch: int) -> Iterator[SampledSubgraph]:
        """Yields the batches of ``epoch`` in order, on the calling thread (no pipeline)."""
        ...


class IndexedSource:
    """Shared machinery of jgnn's batch sources: checks, per-batch keys, epoch orders.

    Subclasses set ``self.seed`` and implement ``__len__`` and ``_batch(epoch, index)``.
    """

    seed: int

    def __len__(self) -> int:
        raise NotImplementedError

    def _batch(self, epoch: int, index: int) -> SampledSubgraph:
        raise NotImplementedError

    def get(self, epoch: int, index: int) -> SampledSubgraph:
        """Batch ``index`` of epoch ``epoch``; a pure function of ``(seed, epoch, index)``.

        Host-side: not jittable.

        Args:
            epoch: Non-negative int.
            index: Int in ``[0, len(self))``.

        Returns:
            A :class:`SampledSubgraph`.

        Raises:
            TypeError: If ``epoch`` or ``index`` is not an int.
            ValueError: If ``epoch < 0`` or ``index`` is out of range.
        """
        return self._batch(*self.check_position(epoch, index))

    def check_position(self, epoch: int, index: int) -> tuple[int, int]:
        """Validates ``(epoch, index)`` and returns them as Python ints.

        Raises:
            TypeError: If ``epoch`` or ``index`` is not an int.
            ValueError: If ``epoch < 0`` or ``index`` is outside ``[0, len(self))``.
        """
        epoch = check_int(epoch, "epoch", minimum=0)
        index = check_int(index, "index", minimum=0)
        if index >= len(self):
            raise ValueError(
                f"`index` must be in [0, {len(self)}) (batches per epoch), got {index}."
            )
        return epoch, index

    def iter_epoch(self, epoch: int) -> Iterator[SampledSubgraph]:
        """Yields ``get(epoch, i)`` for ``i = 0 .. len(self) - 1`` (host-side)."""
        epoch = check_int(epoch, "epoch", minimum=0)
        for index in range(len(self)):
            yield self._batch(epoch, index)

    def batch_key(self, epoch: int, index: int) -> int:
        """The 64-bit key of batch ``(epoch, index)``, passed to samplers as ``rng``."""
        return mix(TAG_BATCH, self.seed, epoch, index) >> 1

    def epoch_order(self, epoch: int, n: int, shuffle: bool) -> np.ndarray:
        """``arange(n)``, or its permutation for ``epoch`` (cached for the last two epochs)."""
        if not shuffle:
            return np.arange(n, dtype=np.int64)
        cache = self.__dict__.setdefault("_orders", {})
        lock = self.__dict__.setdefault("_orders_lock", threading.Lock())
        with lock:
            order = cache.get((epoch, n))
        if order is None:
            rng = np.random.default_rng(mix(TAG_EPOCH, self.seed, epoch))
            order = rng.permutation(n)
            order.flags.writeable = False
            with lock:
                if len(cache) >= 2:
                    cache.pop(next(iter(cache)))
                cache[(epoch, n)] = order
        return order

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_orders", None)
        state.pop("_orders_lock", None)
        return state
