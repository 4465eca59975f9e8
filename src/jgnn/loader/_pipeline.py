"""The host -> device pipeline behind :class:`jgnn.loader.Loader` (private).

Stages, each a plain function of its input:

1. **sample and pad** (:class:`HostStage`, a ``grain`` map over a flat batch counter
   ``epoch * num_batches + position``): the batch index comes from ``(seed, epoch,
   position)``, the subgraph from ``source.get(epoch, index)``, the shape from the budget.
   It runs in ``grain``'s worker processes (``mp_prefetch``) or in-process (threads of
   ``ReadOptions``), and only index arrays travel between processes.
2. **gather and transfer** (:class:`Engine`'s producer thread, main process): features and
   labels are gathered from the one host copy for ``n_id`` (GraphBolt's choice: workers never
   hold the feature matrix), then ``jax.device_put`` starts the asynchronous copy and the
   batch waits in a small queue of ``prefetch`` device batches.
3. **consume**: :meth:`Engine.get` waits on that queue *with a timeout*.

What ``grain`` 0.2.18 does not do, and what is done instead:

* **hung workers**: ``mp_prefetch`` waits forever for a worker that hangs (one that dies is
  reported after about a second), and ``grain.experimental.device_put``'s prefetch thread
  waits on its buffer without a timeout. So the last two stages are our own thread and queue:
  the consumer waits at most ``timeout_s``, then kills the worker processes this engine
  started (their ids are written by the workers' init function, so no other process is
  touched) and raises ``TimeoutError``. Measured against ``device_put`` on the same stage, the
  throughput is the same or better.
* **checkpoints across worker counts**: the state of an ``mp_prefetch`` iterator holds one
  state per worker, so it cannot be restored under another ``num_workers``. Every element
  here is a function of its flat position, so the loader's state is that position and a
  restore builds the pipeline from ``MapDataset.range(position, ...)``.
* **sharding over hosts**: ``grain.sharding.ShardByJaxProcess`` belongs to the older
  ``DataLoader`` API; the loader shards an epoch's positions itself (``shard_index``).
* grain reads an absl flag when it starts workers, which raises outside ``absl.app.run``;
  the flags are marked parsed first (``app.run`` parses them again anyway).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import multiprocessing
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
import warnings
from typing import Any, NamedTuple

import grain
import jax
import numpy as np

from jgnn.loader._batch import PaddedBatch, pad_subgraph
from jgnn.loader._budget import Budget, Rung
from jgnn.loader._checks import hop_counts

__all__ = ["Engine", "HostItem", "HostStage"]

#: Epochs one engine may run ahead over (it is rebuilt long before, on any jump).
_EPOCH_HORIZON = 1_000_000
_POLL_S = 0.1
_JOIN_S = 10.0


class HostItem(NamedTuple):
    """One element of the host stage: a padded batch, or a batch the ``skip`` policy dropped."""

    flat: int  # epoch * num_batches + position
    index: int  # the source's batch index
    batch: PaddedBatch | None  # None: skipped
    nodes: tuple[int, ...]  # real nodes per hop
    edges: tuple[int, ...]  # real edges per hop
    seconds: float  # time spent sampling and padding


class HostStage:
    """``flat -> HostItem``: sample, choose a rung (or skip / grow), pad. Pickled to workers.

    Args:
        source: The batch source.
        budget: The padding budget.
        seed: Seed of the batch order (with ``shuffle``).
        shuffle: Visit the batches of each epoch in a permutation drawn from ``(seed, epoch)``.
        overflow: ``"grow"`` or ``"skip"``.
        pad_id: Global id written into padding slots of ``n_id``.
        shard_index: This process's shard, ``0 <= shard_index < num_shards``.
        num_shards: Shards every epoch is split into; shard ``s`` takes positions ``s,
            s + num_shards, ...`` of the epoch's order, ``len(source) // num_shards`` of them
            (the remainder is dropped so that every shard takes the same number of steps).
    """

    def __init__(
        self,
        source: Any,
        budget: Budget,
        *,
        seed: int,
        shuffle: bool,
        overflow: str,
        pad_id: int,
        shard_index: int = 0,
        num_shards: int = 1,
    ) -> None:
        self.source = source
        self.budget = budget
        self.total = len(source)
        self.num_batches = self.total // num_shards
        self.seed = seed
        self.shuffle = shuffle
        self.overflow = overflow
        self.pad_id = pad_id
        self.shard_index, self.num_shards = shard_index, num_shards
        self._order: tuple[int, np.ndarray] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_order": None}

    def index(self, epoch: int, position: int) -> int:
        """The source batch index this shard visits at ``position`` of ``epoch``."""
        position = position * self.num_shards + self.shard_index
        if not self.shuffle:
            return position
        if self._order is None or self._order[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._order = (epoch, rng.permutation(self.total))
        return int(self._order[1][position])

    def __call__(self, flat: int) -> HostItem:
        start = time.perf_counter()
        epoch, position = divmod(int(flat), self.num_batches)
        index = self.index(epoch, position)
        try:
            subgraph = self.source.get(epoch, index)
            nodes, edges = hop_counts(subgraph)
            rung = self.budget.rung_for(nodes, edges)
            batch = None
            if rung is not None or self.overflow == "grow":
                rung = rung or self.budget.grow(nodes, edges)
                batch = pad_subgraph(subgraph, rung, pad_id=self.pad_id)
        except Exception as err:
            err.add_note(f"jgnn.loader: in source.get(epoch={epoch}, index={index}) or padding it.")
            raise
        return HostItem(int(flat), index, batch, nodes, edges, time.perf_counter() - start)


def _record_worker_pid(directory: str, worker_index: int, worker_count: int) -> None:
    """grain worker init: writes this worker's pid to ``directory`` (atomically)."""
    del worker_count
    path = os.path.join(directory, f"{worker_index}.pid")
    with open(path + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)


def _allow_grain_workers() -> None:
    """grain 0.2.18 reads an absl flag when it starts workers; outside ``absl.app.run`` the
    flags are unparsed and that read raises. Mark them parsed (``app.run`` re-parses)."""
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def _host_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype a 64-bit array becomes on the device when x64 is off (cast on the host)."""
    if jax.config.jax_enable_x64 or dtype.itemsize != 8:
        return dtype
    return {"f": np.dtype(np.float32), "i": np.dtype(np.int32), "u": np.dtype(np.uint32)}.get(
        dtype.kind, dtype
    )


def gather_rows(table: np.ndarray | None, batch: PaddedBatch) -> np.ndarray | None:
    """``table[n_id]`` on real slots and zeros on padding slots (host-side: not jittable)."""
    if table is None:
        return None
    rows = np.take(table, np.where(batch.node_mask, batch.n_id, 0), axis=0)
    rows[~batch.node_mask] = 0
    return rows.astype(_host_dtype(rows.dtype), copy=False)


@dataclasses.dataclass(frozen=True)
class Delivered:
    """A host item whose batch (if any) now lives on the device."""

    item: HostItem
    batch: PaddedBatch | None
    rung: Rung | None


class Engine:
    """A running pipeline from flat position ``start`` on (see the module docstring).

    Args:
        stage: The host stage.
        start: First flat position.
        features: ``[num_nodes, F]`` host array, or None.
        labels: ``[num_nodes, ...]`` host array, or None.
        num_workers: grain worker processes (0: in-process).
        num_threads: grain read threads per process (0: sample in the producer thread).
        worker_buffer: Batches each worker prepares ahead.
        prefetch: Device batches kept ready.
        device: ``jax.device_put`` target, or None for the default device.
    """

    def __init__(
        self,
        stage: HostStage,
        start: int,
        *,
        features: np.ndarray | None,
        labels: np.ndarray | None,
        num_workers: int,
        num_threads: int,
        worker_buffer: int,
        prefetch: int,
        device: Any,
    ) -> None:
        self.next_flat = start
        self.num_batches = stage.num_batches
        self.delivered = 0
        self.broken = False
        self._closed = False
        self.num_workers = num_workers
        self._features, self._labels, self._device = features, labels, device
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._pid_dir = tempfile.mkdtemp(prefix="jgnn-loader-") if num_workers else None
        stop = start + _EPOCH_HORIZON * stage.num_batches
        read = grain.ReadOptions(
            num_threads=num_threads, prefetch_buffer_size=worker_buffer if num_threads else 0
        )
        ds = grain.MapDataset.range(start, stop).map(stage).to_iter_dataset(read)
        if num_workers:
            _allow_grain_workers()
            ds = ds.mp_prefetch(
                grain.MultiprocessingOptions(
                    num_workers=num_workers, per_worker_buffer_size=worker_buffer
                ),
                worker_init_fn=functools.partial(_record_worker_pid, self._pid_dir),
            )
        self._thread = threading.Thread(
            target=self._produce, args=(ds,), name="jgnn-loader", daemon=True
        )
        self._thread.start()

    # ------------------------------------------------------------------ producer thread

    def _put(self, message: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _to_device(self, item: HostItem) -> Delivered:
        if item.batch is None:
            return Delivered(item, None, None)
        batch = item.batch
        if self.num_workers:  # own copies: worker arrays arrive in shared memory, freed with them
            batch = jax.tree_util.tree_map(np.array, batch)
        batch = batch.replace(
            x=gather_rows(self._features, batch), y=gather_rows(self._labels, batch)
        )
        return Delivered(item, jax.device_put(batch, self._device), batch.rung)

    def _produce(self, ds: Any) -> None:
        it = None
        try:
            it = iter(ds)
            while not self._stop.is_set():
                if not self._put(("item", self._to_device(next(it)))):
                    break
        except BaseException as err:  # every failure, KeyboardInterrupt too, goes to the consumer
            if not self._stop.is_set():
                self._put(("error", err))
        finally:
            if it is not None and hasattr(it, "close"):
                with contextlib.suppress(Exception):
                    it.close()

    # ------------------------------------------------------------------ consumer side

    def get(self, timeout_s: float) -> Delivered:
        """The next item, in flat order.

        Args:
            timeout_s: Seconds to wait before giving up.

        Returns:
            The delivered item.

        Raises:
            TimeoutError: If nothing arrived within ``timeout_s`` (the workers are killed).
            Exception: Whatever a stage raised, with its original type and message.
        """
        try:
            kind, payload = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            self.broken = True
            self.close(kill=True)
            raise TimeoutError(
                f"jgnn.loader: no batch arrived from the host pipeline within {timeout_s} s "
                f"(waiting for {self._where()}, num_workers={self.num_workers}); a sampler "
                "is hung or far slower than the timeout. "
                + (
                    "Its worker processes were killed."
                    if self.num_workers
                    else "It runs in this process and cannot be stopped; use num_workers >= 1 "
                    "for sources that may hang."
                )
                + " Raise timeout_s if batches are merely slow."
            ) from None
        if kind == "error":
            self.broken = True
            self.close()
            if isinstance(payload, RuntimeError) and "terminated unexpectedly" in str(payload):
                payload.add_note(
                    "jgnn.loader: a sampler worker process died (killed, out of memory, or a "
                    "crash in native code)."
                )
            payload.add_note(f"jgnn.loader: while loading {self._where()}.")
            raise payload
        if payload.item.flat != self.next_flat:  # a broken invariant, not a user error
            raise RuntimeError(
                f"jgnn.loader: expected flat position {self.next_flat}, got {payload.item.flat}."
            )
        self.next_flat += 1
        self.delivered += 1
        return payload

    def _where(self) -> str:
        epoch, position = divmod(self.next_flat, self.num_batches)
        return f"epoch {epoch}, position {position}"

    def _kill_workers(self) -> None:
        """SIGKILLs the worker processes this engine started (and only those)."""
        if self._pid_dir is None or not os.path.isdir(self._pid_dir):
            return
        children = {p.pid for p in multiprocessing.active_children()}
        for name in os.listdir(self._pid_dir):
            if not name.endswith(".pid"):
                continue
            with open(os.path.join(self._pid_dir, name)) as f:
                pid = int(f.read())
            if pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def close(self, *, kill: bool = False) -> None:
        """Stops the producer and the workers (idempotent).

        Args:
            kill: Kill the worker processes at once instead of asking them to stop.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if kill:
            self._kill_workers()
        with contextlib.suppress(queue.Empty):
            while True:
                self._queue.get_nowait()
        if self._thread is not threading.current_thread():
            # A hung in-process source cannot be interrupted: do not wait for it.
            self._thread.join(_JOIN_S if self.num_workers or not kill else _POLL_S)
            if self._thread.is_alive() and self.num_workers and not kill:
                self._kill_workers()
                self._thread.join(_JOIN_S)
            if self._thread.is_alive() and not self.num_workers:
                warnings.warn(
                    "jgnn.loader: the in-process sampling thread is still inside source.get() "
                    "and is left running.",
                    RuntimeWarning,
                    stacklevel=3,
                )
        if self._pid_dir is not None:
            shutil.rmtree(self._pid_dir, ignore_errors=True)
