"""``Loader``: fixed-shape device batches from a host batch source, epoch by epoch.

The source implements ``jgnn.sampling.BatchSource``: ``len(source)`` batches per epoch and
``source.get(epoch, index) -> SampledSubgraph``, deterministic in ``(seed, epoch, index)``.
The loader pads every batch to a rung of a :class:`jgnn.loader.Budget`, gathers features and
labels, puts it on the device ahead of the step and yields :class:`jgnn.loader.PaddedBatch`
pytrees of ``jax.Array`` s. What a batch holds depends only on ``(seed, epoch, position)``,
so the batches are the same for any ``num_workers``, and an iterator's state is two ints.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import numpy as np

from jgnn.loader._batch import PaddedBatch
from jgnn.loader._budget import Budget
from jgnn.loader._checks import check_int
from jgnn.loader._pipeline import Delivered, Engine, HostStage
from jgnn.loader._report import LoaderReport, Stats

__all__ = ["Loader", "LoaderIterator"]

_STATE_KEYS = ("epoch", "position", "num_batches", "seed", "shuffle", "shard_index", "num_shards")
_MAX_NODES = 2**31 - 1  # n_id is int32 on the device


def _host_table(value: Any, name: str, rows: int | None) -> np.ndarray | None:
    if value is None:
        return None
    table = np.asarray(value)  # no copy for NumPy arrays and memory maps
    if table.ndim < 1 or (rows is not None and table.shape[0] != rows):
        raise ValueError(
            f"`{name}` must have one row per node ({rows} rows), got shape {table.shape}."
        )
    return table


def _close_engine(holder: list[Engine | None]) -> None:
    if holder[0] is not None:
        holder[0].close()
        holder[0] = None


class Loader:
    """Pads, gathers and prefetches the batches of a source onto the device.

    Iterate an epoch with :meth:`epoch`; the workers keep running across epochs, so
    iterating epoch ``e + 1`` right after epoch ``e`` starts from batches already prepared.
    Asking for any other position (an epoch left early, a restored state, two iterators used
    in turn) restarts the pipeline there, workers included: correct, only slower. Close the
    loader (or use it as a context manager) to stop the workers. Use it from one thread.

    Args:
        source: A ``jgnn.sampling.BatchSource`` (``__len__`` and ``get(epoch, index)``);
            cheap to pickle when ``num_workers > 0`` (keep the graph in shared memory).
        budget: The padding :class:`Budget` (e.g. ``Budget.fit(source)``).
        features: ``[num_nodes, F]`` node features, held once on the host (a NumPy array or
            memory map; never copied to workers), or None.
        labels: ``[num_nodes, ...]`` node labels, or None.
        num_workers: Worker processes that sample and pad (``grain`` ``mp_prefetch``); 0
            samples in this process.
        num_threads: Sampling threads per process (``grain`` ``ReadOptions``); 0 samples in
            the loader's own background thread.
        prefetch: Batches kept ready on the device (>= 1).
        worker_buffer: Batches each worker (or the read threads) prepares ahead (>= 1).
        shuffle: Visit each epoch's batches in a permutation drawn from ``(seed, epoch)``
            (the source shuffles seeds itself; this shuffles whole batches).
        seed: Seed of that permutation.
        overflow: What to do with a batch larger than the last rung: ``"grow"`` makes a
            larger rung (listed in :attr:`LoaderReport.grown`); ``"skip"`` drops the batch and
            counts it (for training only: evaluation must see every batch).
        timeout_s: Seconds to wait for a batch before raising ``TimeoutError`` (and killing
            the workers).
        startup_timeout_s: The same for the first batch after (re)starting the workers,
            which includes starting and importing them (at least ``timeout_s`` is used).
        shard_index: This process's shard of every epoch (multi-host data parallelism, what
            grain's ``ShardByJaxProcess`` does: pass ``jax.process_index()``).
        num_shards: Number of shards (``jax.process_count()``); shard ``s`` takes positions
            ``s, s + num_shards, ...`` of the epoch's batch order, ``len(source) //
            num_shards`` of them, so that every process takes the same number of steps.
        device: ``jax.device_put`` target (a device or sharding); None for the default.
        num_nodes: Number of graph nodes, written into padding slots of ``n_id`` (one past
            the last node); defaults to the rows of ``features`` or ``labels``, else 0.

    Raises:
        TypeError: If ``source`` or ``budget`` has the wrong type.
        ValueError: If a size or option is out of range.

    Examples:
        >>> loader = Loader(source, Budget.fit(source), features=x, labels=y)  # doctest: +SKIP
        >>> for epoch in range(num_epochs):  # doctest: +SKIP
        ...     for batch in loader.epoch(epoch):
        ...         state = train_step(state, batch)
    """

    def __init__(
        self,
        source: Any,
        budget: Budget,
        *,
        features: Any = None,
        labels: Any = None,
        num_workers: int = 0,
        num_threads: int = 0,
        prefetch: int = 2,
        worker_buffer: int = 2,
        shuffle: bool = False,
        seed: int = 0,
        overflow: str = "grow",
        timeout_s: float = 60.0,
        startup_timeout_s: float = 300.0,
        shard_index: int = 0,
        num_shards: int = 1,
        device: Any = None,
        num_nodes: int | None = None,
    ) -> None:
        if not (hasattr(source, "__len__") and callable(getattr(source, "get", None))):
            raise TypeError(
                "`source` must be a batch source with __len__() and get(epoch, index), got "
                f"{type(source).__name__}."
            )
        if not isinstance(budget, Budget):
            raise TypeError(f"`budget` must be a jgnn.loader.Budget, got {type(budget).__name__}.")
        if overflow not in ("grow", "skip"):
            raise ValueError(f"`overflow` must be 'grow' or 'skip', got {overflow!r}.")
        for name, value in (("timeout_s", timeout_s), ("startup_timeout_s", startup_timeout_s)):
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
        self.num_shards = check_int(num_shards, "num_shards", minimum=1)
        self.shard_index = check_int(shard_index, "shard_index", minimum=0)
        if self.shard_index >= self.num_shards:
            raise ValueError(
                f"`shard_index` must be in [0, {self.num_shards}), got {self.shard_index}."
            )
        total = check_int(len(source), "len(source)", minimum=0)
        if total < self.num_shards:
            raise ValueError(
                f"the source has {total} batches per epoch; expected at least num_shards = "
                f"{self.num_shards} (one per shard)."
            )
        self.budget = budget
        self.features = _host_table(features, "features", num_nodes)
        rows = num_nodes if self.features is None else self.features.shape[0]
        self.labels = _host_table(labels, "labels", rows)
        if num_nodes is None:
            num_nodes = rows if rows is not None else (0 if labels is None else len(self.labels))
        self.num_workers = check_int(num_workers, "num_workers", minimum=0)
        self.num_threads = check_int(num_threads, "num_threads", minimum=0)
        self.prefetch = check_int(prefetch, "prefetch", minimum=1)
        self.worker_buffer = check_int(worker_buffer, "worker_buffer", minimum=1)
        self.seed = check_int(seed, "seed", minimum=0)
        self.shuffle = bool(shuffle)
        self.overflow = overflow
        self.timeout_s = float(timeout_s)
        self.startup_timeout_s = max(float(startup_timeout_s), self.timeout_s)
        self.device = device
        num_nodes = check_int(num_nodes, "num_nodes", minimum=0)
        if num_nodes > _MAX_NODES:
            raise ValueError(
                f"`num_nodes` is {num_nodes}; node ids must fit int32 (at most {_MAX_NODES})."
            )
        self._stage = HostStage(
            source,
            budget,
            seed=self.seed,
            shuffle=self.shuffle,
            overflow=overflow,
            pad_id=num_nodes,
            shard_index=self.shard_index,
            num_shards=self.num_shards,
        )
        self.num_batches = self._stage.num_batches
        self._stats = Stats(budget.rungs)
        self._engine: list[Engine | None] = [None]  # a box, so the finalizer holds no `self`
        self._finalizer = weakref.finalize(self, _close_engine, self._engine)

    def __len__(self) -> int:
        """Batches per epoch (before any ``"skip"``)."""
        return self.num_batches

    def __iter__(self) -> Any:
        raise TypeError("iterate one epoch at a time: `for batch in loader.epoch(epoch)`.")

    def epoch(self, epoch: int, *, position: int = 0) -> LoaderIterator:
        """An iterator over epoch ``epoch``, from batch ``position`` on.

        Args:
            epoch: Epoch number (>= 0).
            position: First position in the epoch's batch order, ``0 <= position <=
                len(self)``.

        Returns:
            The iterator.

        Raises:
            ValueError: If ``epoch`` or ``position`` is out of range.
        """
        return LoaderIterator(self, epoch, position)

    def restore(self, state: dict[str, Any]) -> LoaderIterator:
        """An iterator at a state saved by :meth:`LoaderIterator.get_state`.

        Args:
            state: The saved state (possibly from another process).

        Returns:
            The iterator; its next batches are the ones the saved iterator had next.

        Raises:
            ValueError: If ``state`` is malformed or was saved by a differently configured
                loader (another seed, shuffle or number of batches).
        """
        it = self.epoch(0)
        it.set_state(state)
        return it

    def report(self) -> LoaderReport:
        """Counters over every epoch iterated so far."""
        return self._stats.report()

    def close(self) -> None:
        """Stops the workers and the prefetch thread (idempotent)."""
        _close_engine(self._engine)

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def _next(self, flat: int, stats: Stats) -> Delivered:
        """The item at ``flat``, from the running engine or a new one; records the wait."""
        engine = self._engine[0]
        if engine is None or engine.broken or engine.next_flat != flat:
            _close_engine(self._engine)
            engine = Engine(
                self._stage,
                flat,
                features=self.features,
                labels=self.labels,
                num_workers=self.num_workers,
                num_threads=self.num_threads,
                worker_buffer=self.worker_buffer,
                prefetch=self.prefetch,
                device=self.device,
            )
            self._engine[0] = engine
        first = engine.delivered == 0
        start = time.perf_counter()
        try:
            item = engine.get(self.startup_timeout_s if first else self.timeout_s)
        finally:
            if engine.broken:
                _close_engine(self._engine)
        wait = time.perf_counter() - start
        for s in (stats, self._stats):
            s.add_time("host_wait_s", wait)
            if first:
                s.add_time("first_batch_s", wait)
            s.add_time("sample_s", item.item.seconds)
        return item


class LoaderIterator:
    """Iterator over one epoch of a :class:`Loader`; yields :class:`PaddedBatch` on device.

    Its state (:meth:`get_state`) is the epoch and the position in the epoch's batch order,
    counting skipped batches: a few ints that a checkpoint can hold, independent of the
    number of workers.
    """

    def __init__(self, loader: Loader, epoch: int, position: int = 0) -> None:
        self._loader = loader
        self._stats = Stats(loader.budget.rungs)
        self._epoch, self._position = self._check_position(epoch, position)
        self._mark: float | None = None

    def _check_position(self, epoch: Any, position: Any) -> tuple[int, int]:
        epoch = check_int(epoch, "epoch", minimum=0)
        position = check_int(position, "position", minimum=0)
        if position > self._loader.num_batches:
            raise ValueError(
                f"`position` must be in [0, {self._loader.num_batches}] (batches per epoch), "
                f"got {position}."
            )
        return epoch, position

    @property
    def epoch(self) -> int:
        """The epoch this iterator walks."""
        return self._epoch

    @property
    def position(self) -> int:
        """Batches of the epoch consumed so far (delivered or skipped)."""
        return self._position

    def __iter__(self) -> LoaderIterator:
        return self

    def __len__(self) -> int:
        """Batches left in the epoch, skipped ones included."""
        return self._loader.num_batches - self._position

    def __next__(self) -> PaddedBatch:
        loader = self._loader
        if self._mark is None:
            self._mark = time.perf_counter()
        while self._position < loader.num_batches:
            delivered = loader._next(self._epoch * loader.num_batches + self._position, self._stats)
            self._position += 1
            item = delivered.item
            for s in (self._stats, loader._stats):
                if delivered.batch is None:
                    s.add_skip()
                else:
                    s.add_batch(delivered.rung, sum(item.nodes), sum(item.edges))
            if delivered.batch is not None:
                now = time.perf_counter()
                for s in (self._stats, loader._stats):
                    s.add_time("wall_s", now - self._mark)
                self._mark = now
                return delivered.batch
        raise StopIteration

    def get_state(self) -> dict[str, Any]:
        """The epoch, position and the loader settings they depend on (JSON-serialisable)."""
        loader = self._loader
        return {
            "epoch": self._epoch,
            "position": self._position,
            "num_batches": loader.num_batches,
            "seed": loader.seed,
            "shuffle": loader.shuffle,
            "shard_index": loader.shard_index,
            "num_shards": loader.num_shards,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        """Moves to a state from :meth:`get_state` (of this or an identically built loader).

        Args:
            state: The saved state.

        Raises:
            ValueError: If ``state`` is malformed or belongs to a loader with another seed,
                shuffle, shard or number of batches.
        """
        if not isinstance(state, dict) or any(k not in state for k in _STATE_KEYS):
            raise ValueError(f"`state` must be a dict with keys {_STATE_KEYS}, got {state!r}.")
        mine = self.get_state()
        for key in _STATE_KEYS[2:]:
            if state[key] != mine[key]:
                raise ValueError(
                    f"`state` was saved by a loader with {key}={state[key]!r}, this loader has "
                    f"{key}={mine[key]!r}."
                )
        self._epoch, self._position = self._check_position(state["epoch"], state["position"])

    def report(self) -> LoaderReport:
        """Counters of this iterator."""
        return self._stats.report()
