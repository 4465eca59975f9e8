"""Several processes (hosts): start ``jax.distributed``, shard the seeds, agree on shapes.

Each process runs the same program. It samples its own shard of every epoch's batches
(``Loader(..., **process_shard())``, grain's shard-by-process rule: shard ``i`` takes
positions ``i, i + P, ...``), takes one batch per local device, and the data-parallel step of
:func:`jgnn.train.data_parallel_step` runs over a mesh of every process's devices; the
gradients are all-reduced across processes (gloo on CPU, NCCL on GPU). Two things need the
processes to agree: the padded shape of a step (:func:`agree_rung`, one small all-gather of
block sizes) and the initial state (build it from the same seed everywhere, then
:func:`jgnn.train.replicate`).

Launch (two processes on one machine)::

    python train.py --process-id 0 --num-processes 2 --coordinator localhost:12355 &
    python train.py --process-id 1 --num-processes 2 --coordinator localhost:12355
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import jax
import numpy as np

from jgnn.loader import PaddedBatch, Rung
from jgnn.train._parallel import common_rung

__all__ = [
    "agree_rung",
    "assert_same_across_processes",
    "initialize_distributed",
    "process_shard",
    "take_batches",
]


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"`{name}` must be an int >= {minimum}, got {value!r}.")
    return int(value)


def initialize_distributed(
    coordinator_address: str,
    num_processes: int,
    process_id: int,
    *,
    local_device_count: int | None = None,
    timeout_s: int = 300,
) -> None:
    """Joins this process to a ``jax.distributed`` job (call before any other JAX call).

    On CPU the collectives go through gloo (``jax_cpu_collectives_implementation``), which
    makes multi-process code testable on one machine.

    Args:
        coordinator_address: ``"host:port"`` of process 0 (which listens there).
        num_processes: Number of processes in the job (>= 1).
        process_id: This process's index, ``0 <= process_id < num_processes``.
        local_device_count: On CPU, how many devices this process exposes
            (``jax_num_cpu_devices``); None keeps the platform's count.
        timeout_s: Seconds to wait for every process to join.

    Raises:
        ValueError: If an argument is out of range or the address has no port.
    """
    num_processes = _check_int(num_processes, "num_processes", 1)
    process_id = _check_int(process_id, "process_id", 0)
    if process_id >= num_processes:
        raise ValueError(f"`process_id` must be in [0, {num_processes}), got {process_id}.")
    host, _, port = str(coordinator_address).rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"`coordinator_address` must be 'host:port', got {coordinator_address!r}.")
    timeout_s = _check_int(timeout_s, "timeout_s", 1)
    if local_device_count is not None:
        jax.config.update(
            "jax_num_cpu_devices", _check_int(local_device_count, "local_device_count", 1)
        )
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address,
        num_processes=num_processes,
        process_id=process_id,
        initialization_timeout=timeout_s,
    )


def process_shard() -> dict[str, int]:
    """``{"shard_index": jax.process_index(), "num_shards": jax.process_count()}``: the
    keyword arguments that give a :class:`jgnn.loader.Loader` this process's shard."""
    return {"shard_index": jax.process_index(), "num_shards": jax.process_count()}


def take_batches(iterator: Iterator[PaddedBatch], count: int) -> list[PaddedBatch] | None:
    """The next ``count`` batches of ``iterator`` (one per local device), or None when fewer
    are left (the rest of the epoch is dropped, the same on every process: each shard has
    ``len(source) // num_shards`` batches).

    Host-side: not jittable.

    Args:
        iterator: A :class:`jgnn.loader.LoaderIterator` (or any iterator of batches).
        count: Batches wanted (>= 1).

    Returns:
        The batches, or None.

    Raises:
        ValueError: If ``count`` < 1.
    """
    count = _check_int(count, "count", 1)
    out = []
    for batch in iterator:
        out.append(batch)
        if len(out) == count:
            return out
    return None


def agree_rung(batches: Sequence[PaddedBatch]) -> Rung:
    """The :func:`jgnn.train.common_rung` of every process's batches of this step.

    Host-side: not jittable. Each process passes its own batches; one all-gather of their
    block sizes gives every process the same rung, to pass to
    :func:`jgnn.train.stack_batches` so that the global batch has one shape. With one
    process, this is the common rung of ``batches``.

    Args:
        batches: This process's batches of the step.

    Returns:
        The rung.
    """
    local = common_rung([b.rung for b in batches])
    if jax.process_count() == 1:
        return local
    from jax.experimental import multihost_utils

    sizes = np.asarray(local.nodes + local.edges, np.int64)
    every = np.asarray(multihost_utils.process_allgather(sizes)).reshape(-1, sizes.size)
    best = every.max(axis=0)
    k = len(local.nodes)
    return Rung(tuple(int(v) for v in best[:k]), tuple(int(v) for v in best[k:]))


def assert_same_across_processes(tree: Any, name: str = "tree") -> None:
    """Raises ``AssertionError`` unless every process holds the same values in ``tree``.

    Args:
        tree: A pytree of arrays (e.g. the parameters after a step).
        name: What to call it in the message.
    """
    if jax.process_count() == 1:
        return
    from jax.experimental import multihost_utils

    def host(leaf: Any) -> np.ndarray:
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            leaf = leaf.addressable_shards[0].data
        return np.asarray(leaf)

    multihost_utils.assert_equal(jax.tree_util.tree_map(host, tree), fail_message=name)
