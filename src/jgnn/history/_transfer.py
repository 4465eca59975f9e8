"""Host <-> device traffic of host-resident histories, and the order that keeps it exact.

**Pulls** gather the halo rows of every history on the host (``np.take``) and start their
transfer with ``jax.device_put``, which returns at once. **Pushes** start the device-to-host
copy of a step's batch rows with ``jax.Array.copy_to_host_async()`` and hand them to a
:class:`PushWriter` thread, which waits for them and writes them into the host tables (one
slice copy per contiguous run of parts).

**The ordering rule** (:func:`run_gas_steps`): step ``t + 1`` sees every row pushed by steps
``<= t``, as if each push completed before the next pull. Waiting for step ``t``'s push before
gathering step ``t + 1``'s pull would serialise compute and transfers, so the rows are split:

* rows pushed by steps ``<= t - 1`` are read from the host tables, after waiting for those
  pushes only; step ``t`` is still running on the device meanwhile, so the gather and the
  host-to-device copy of step ``t + 1``'s pull overlap step ``t``'s compute;
* rows pushed by step ``t`` (halo nodes of step ``t + 1`` that were batch nodes of step ``t``)
  are *forwarded* on the device: step ``t + 1`` takes them from step ``t``'s outputs, which are
  device arrays already, by an index computed on the host.

So no pulled row is ever stale and no transfer waits for the step before it. (The writer may
be landing step ``t``'s rows while step ``t + 1``'s gather reads the same table: the rows it
could see half-written are exactly the forwarded ones, whose gathered values are discarded.) With
``transfers="sync"`` every push and pull completes before the next step starts (the
reference the overlap is measured against).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import jax
import numpy as np

from jgnn.history._batches import GASData
from jgnn.history._history import History, pull, push
from jgnn.loader import PaddedBatch

__all__ = [
    "TRANSFERS",
    "PushWriter",
    "TransferStats",
    "forward_halos",
    "pull_to_device",
    "run_gas_steps",
]

#: Transfer modes of host histories.
TRANSFERS = ("async", "sync")


@dataclasses.dataclass
class TransferStats:
    """Counters of host-history traffic (seconds are wall-clock sums).

    Attributes:
      steps: Steps run.
      step_s: Wall time of the steps, dispatch to the last push landed.
      pull_s: Main-thread time gathering pulls and starting their transfer.
      wait_s: Main-thread time waiting for pushes to land.
      writer_s: Time copying pushed rows to the host tables once the step has produced them
        (on the writer thread, overlapped, in ``"async"`` mode).
      pulled_bytes: Bytes pulled from host tables.
      pushed_bytes: Bytes pushed into host tables.
      forwarded_rows: Halo rows taken from the previous step's outputs on the device.
    """

    steps: int = 0
    step_s: float = 0.0
    pull_s: float = 0.0
    wait_s: float = 0.0
    writer_s: float = 0.0
    pulled_bytes: int = 0
    pushed_bytes: int = 0
    forwarded_rows: int = 0

    def per_step_ms(self) -> dict[str, float]:
        """Every time counter divided by ``steps``, in milliseconds."""
        n = max(self.steps, 1)
        return {
            f"{k[:-2]}_ms_per_step": 1e3 * getattr(self, k) / n
            for k in ("step_s", "pull_s", "wait_s", "writer_s")
        }


def _check_mode(transfers: str) -> str:
    if transfers not in TRANSFERS:
        raise ValueError(f"`transfers` must be one of {TRANSFERS}, got {transfers!r}.")
    return transfers


class PushWriter:
    """Lands device rows into host histories, in submission order, on a background thread.

    Host-side: not jittable. ``submit`` returns a ticket at once (``"async"``) or after writing
    (``"sync"``); ``wait(ticket)`` returns once that push and every earlier one has landed.
    An error in the thread is raised by the next ``wait``. Use it as a context manager (or call
    :meth:`close`) to stop the thread.

    Args:
      transfers: ``"async"`` or ``"sync"``.
      stats: Counters to add to (``writer_s``, ``pushed_bytes``).
    """

    def __init__(self, transfers: str = "async", stats: TransferStats | None = None) -> None:
        self.transfers = _check_mode(transfers)
        self.stats = stats if stats is not None else TransferStats()
        self._submitted = 0
        self._landed = 0
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._jobs: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        if self.transfers == "async":
            self._thread = threading.Thread(target=self._run, name="jgnn-gas-push", daemon=True)
            self._thread.start()

    def submit(
        self, rows: Sequence[jax.Array], targets: Sequence[History], ranges: np.ndarray
    ) -> int:
        """Pushes ``rows[i]`` into ``targets[i]`` at the node ``ranges``; returns a ticket."""
        if len(rows) != len(targets):
            raise ValueError(f"submit: {len(rows)} row arrays for {len(targets)} histories.")
        self._submitted += 1
        ticket = self._submitted
        if self._thread is None:
            self._land(rows, targets, ranges)
            self._landed = ticket
            return ticket
        for r in rows:
            r.copy_to_host_async()
        self._jobs.put((rows, targets, ranges))
        return ticket

    def _land(self, rows: Sequence[Any], targets: Sequence[History], ranges: np.ndarray) -> None:
        jax.block_until_ready(rows)  # the step's compute, not transfer time
        start = time.perf_counter()
        for r, target in zip(rows, targets, strict=True):
            host = np.asarray(r)
            push(target, host, ranges=ranges)
            self.stats.pushed_bytes += int((ranges[:, 1] - ranges[:, 0]).sum()) * host[0].nbytes
        self.stats.writer_s += time.perf_counter() - start

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            try:
                if self._error is None:
                    self._land(*job)
            except BaseException as err:  # noqa: BLE001 - handed to the waiting thread
                self._error = err
            with self._cond:
                self._landed += 1
                self._cond.notify_all()

    def wait(self, ticket: int) -> None:
        """Blocks until push ``ticket`` (and every earlier one) has landed.

        Raises:
          Exception: Whatever landing a push raised.
        """
        start = time.perf_counter()
        with self._cond:
            while self._landed < ticket and self._error is None:
                self._cond.wait(0.1)
        self.stats.wait_s += time.perf_counter() - start
        if self._error is not None:
            raise RuntimeError("jgnn.history: a history push failed") from self._error

    def wait_all(self) -> None:
        """Blocks until every submitted push has landed."""
        self.wait(self._submitted)

    def close(self) -> None:
        """Lands the pending pushes and stops the thread (idempotent)."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise RuntimeError("jgnn.history: a history push failed") from self._error

    def __enter__(self) -> PushWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def pull_to_device(
    histories: Sequence[History],
    ids: np.ndarray,
    *,
    device: Any = None,
    stats: TransferStats | None = None,
) -> tuple[jax.Array, ...]:
    """Gathers ``ids`` from every host history and starts the transfers.

    Host-side: not jittable. Returns at once: ``jax.device_put`` is asynchronous.

    Args:
      histories: Host histories.
      ids: Node ids (the padding id ``N`` reads zeros).
      device: ``jax.device_put`` target, or None.
      stats: Counters to add to (``pull_s``, ``pulled_bytes``).

    Returns:
      One device array ``[len(ids), F_l]`` per history.
    """
    start = time.perf_counter()
    out = []
    for h in histories:
        rows = pull(h, ids)
        out.append(jax.device_put(rows, device))
        if stats is not None:
            stats.pulled_bytes += rows.nbytes
    if stats is not None:
        stats.pull_s += time.perf_counter() - start
    return tuple(out)


#: ``step(state, batch, halos, forward, previous) -> (state, loss, pushed)`` (see below).
Step = Callable[..., tuple[Any, Any, tuple[jax.Array, ...]]]


def run_gas_steps(
    step: Step,
    state: Any,
    batches: Iterable[tuple[PaddedBatch, np.ndarray]],
    data: GASData,
    histories: Sequence[History],
    *,
    transfers: str = "async",
    device: Any = None,
    stats: TransferStats | None = None,
) -> tuple[Any, list[Any]]:
    """Runs GAS steps over ``batches`` with host histories under the ordering rule.

    Host-side loop around the jitted ``step``: not jittable itself. Each step is called as
    ``step(state, batch, halos, forward, previous)``: ``halos`` are the pulled ``[H_pad, F_l]`` rows
    of every history, ``forward`` an int32 ``[H_pad]`` index of the halo slots in the previous
    step's batch rows (``B_pad`` where a slot is not there), ``previous`` the previous step's
    ``pushed`` arrays (zeros before the first step); it returns ``(state, loss, pushed)`` with
    ``pushed`` the ``L - 1`` arrays ``[B_pad, F_l]`` of batch rows. The step must use
    ``previous[l][forward]`` instead of ``halos[l]`` where ``forward < B_pad``
    (:func:`forward_halos` does). The module docstring states the rule; every push has landed when
    this returns.

    Args:
      step: The jitted step.
      state: Its initial state.
      batches: ``(device batch, sorted part ids)`` pairs, in step order.
      data: The :class:`GASData` the batches come from.
      histories: The host histories, in layer order.
      transfers: ``"async"`` (overlapped, forwarded) or ``"sync"`` (each transfer completes
        before the next step).
      device: ``jax.device_put`` target of the pulls.
      stats: Counters to add to.

    Returns:
      ``(state, losses)``: the final state and the per-step losses (device scalars).
    """
    _check_mode(transfers)
    stats = stats if stats is not None else TransferStats()
    losses: list[Any] = []
    it = iter(batches)
    current = next(it, None)
    if current is None:
        return state, losses
    start = time.perf_counter()
    with PushWriter(transfers, stats) as writer:
        batch, parts = current
        num_b = batch.node_blocks[0]
        halo_ids = np.asarray(batch.n_id)[num_b:]
        halos = pull_to_device(histories, halo_ids, device=device, stats=stats)
        forward = jax.device_put(np.full(halo_ids.shape, num_b, np.int32), device)
        previous = tuple(
            jax.device_put(np.zeros((num_b, h.features), h.emb.dtype), device) for h in histories
        )
        ticket = 0
        while current is not None:
            batch, parts = current
            state, loss, pushed = step(state, batch, halos, forward, previous)
            losses.append(loss)
            last_ticket, ticket = ticket, writer.submit(pushed, histories, data.ranges(parts))
            current = next(it, None)
            if current is None:
                break
            nxt, _ = current
            num_b = nxt.node_blocks[0]
            halo_ids = np.asarray(nxt.n_id)[num_b:]
            if transfers == "sync":
                writer.wait(ticket)
                positions = np.full(halo_ids.shape, num_b, np.int32)
            else:
                writer.wait(last_ticket)  # every push but step t's has landed
                positions = data.positions(halo_ids, parts, missing=num_b)
                stats.forwarded_rows += int(np.count_nonzero(positions < num_b))
            halos = pull_to_device(histories, halo_ids, device=device, stats=stats)
            forward = jax.device_put(positions, device)
            if transfers == "sync":
                jax.block_until_ready(halos)
            previous = pushed
        writer.wait_all()
    stats.steps += len(losses)
    stats.step_s += time.perf_counter() - start
    return state, losses


def forward_halos(
    halos: Sequence[jax.Array], forward: jax.Array, previous: Sequence[jax.Array]
) -> tuple[jax.Array, ...]:
    """``previous[l][forward]`` where ``forward`` points into it, else ``halos[l]`` (jittable).

    Args:
      halos: Pulled ``[H_pad, F_l]`` rows.
      forward: int32 ``[H_pad]``: row of the previous step's batch, or ``B_pad`` (none).
      previous: The previous step's pushed ``[B_pad, F_l]`` rows.

    Returns:
      The halo rows every layer reads.

    Examples:
      >>> import jax.numpy as jnp
      >>> prev = (jnp.array([[1.0], [2.0]]),)  # step t pushed these two batch rows
      >>> pulled = (jnp.array([[9.0], [9.0], [9.0]]),)  # host rows, older
      >>> forward_halos(pulled, jnp.array([1, 2, 0]), prev)[0].ravel().tolist()
      [2.0, 9.0, 1.0]
    """
    import jax.numpy as jnp

    out = []
    for halo, prev in zip(halos, previous, strict=True):
        ok = forward < prev.shape[0]
        rows = jnp.take(prev, jnp.where(ok, forward, 0), axis=0)
        out.append(jnp.where(ok[:, None], rows.astype(halo.dtype), halo))
    return tuple(out)
