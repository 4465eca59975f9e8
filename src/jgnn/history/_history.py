"""Historical embeddings (GNNAutoScale's ``History``): a state and pure pull/push functions.

A :class:`History` holds one ``[N, F]`` table of node embeddings. Where it lives is the
caller's choice (:func:`init_history`): host memory (a NumPy array), a memory-mapped file for
tables larger than RAM, or the device (a ``jax.Array``) when it fits. :func:`pull` reads rows,
:func:`push` writes rows, in the optax shape: a state and functions of it.

* On the device both are pure and jittable: ``push`` returns a new state (donate the old one
  to update in place).
* On the host the table is the state's one large buffer, so ``push`` writes into it and
  returns the same state; that is what host memory is for.

Gradients never flow into a history: host tables are not traced, and device pulls are wrapped
in ``jax.lax.stop_gradient``. Every id array may hold the padding id ``N`` (one past the last
node, what :class:`jgnn.loader.PaddedBatch` writes into padding slots): pulls read zeros there
and pushes drop those rows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jgnn._checks import static_int

__all__ = [
    "STORAGES",
    "History",
    "history_arrays",
    "init_history",
    "pull",
    "push",
    "restore_histories",
]

#: Where a history's table may live.
STORAGES = ("host", "memmap", "device")


class History(NamedTuple):
    """One table of historical node embeddings (a pytree with one leaf).

    Attributes:
      emb: ``[N, F]`` embeddings: a NumPy array or ``np.memmap`` (host) or a ``jax.Array``
        (device).
    """

    emb: Any

    @property
    def num_nodes(self) -> int:
        """``N``."""
        return int(self.emb.shape[0])

    @property
    def features(self) -> int:
        """``F``."""
        return int(self.emb.shape[1])

    @property
    def on_device(self) -> bool:
        """Whether the table is a ``jax.Array``."""
        return isinstance(self.emb, jax.Array)


def init_history(
    num_nodes: int,
    features: int,
    *,
    storage: str = "host",
    dtype: Any = np.float32,
    path: str | os.PathLike[str] | None = None,
    device: Any = None,
) -> History:
    """A zero-filled ``[num_nodes, features]`` history.

    Host-side: not jittable.

    Args:
      num_nodes: ``N`` (>= 1).
      features: ``F`` (>= 1), the size of the embeddings the layer pushes.
      storage: ``"host"`` (NumPy), ``"memmap"`` (a ``.npy`` file at ``path``, opened with
        ``np.lib.format.open_memmap``; the operating system pages it) or ``"device"``.
      dtype: Floating dtype of the table.
      path: File of a ``"memmap"`` history (created or overwritten).
      device: ``jax.device_put`` target of a ``"device"`` history (None: the default device).

    Returns:
      The history.

    Raises:
      ValueError: On an unknown ``storage``, sizes < 1, a non-float dtype, or ``path`` missing
        for (or given without) ``"memmap"``.
      TypeError: If a size is not an int.

    Examples:
      >>> h = init_history(4, 2)
      >>> h = push(h, np.ones((2, 2), np.float32), np.array([1, 3]))
      >>> pull(h, np.array([3, 0, 4])).tolist()  # id 4 = N is padding: zeros
      [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    """
    n = static_int(num_nodes, "init_history: `num_nodes`", minimum=1)
    f = static_int(features, "init_history: `features`", minimum=1)
    if storage not in STORAGES:
        raise ValueError(f"init_history: `storage` must be one of {STORAGES}, got {storage!r}.")
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"init_history: `dtype` must be a floating dtype, got {dtype}.")
    if (storage == "memmap") != (path is not None):
        raise ValueError(
            "init_history: pass `path` exactly when storage='memmap' "
            f"(got storage={storage!r}, path={path!r})."
        )
    if storage == "memmap":
        table = np.lib.format.open_memmap(os.fspath(path), mode="w+", dtype=dtype, shape=(n, f))
        table[...] = 0
        return History(table)
    if storage == "device":
        return History(jax.device_put(np.zeros((n, f), dtype), device))
    return History(np.zeros((n, f), dtype))


def _host_ids(ids: Any, n: int, fn: str) -> np.ndarray:
    """``ids`` as a 1-D int64 NumPy array in ``[0, n]`` (``n`` = padding), or ValueError."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or not (np.issubdtype(ids.dtype, np.integer) or ids.size == 0):
        raise ValueError(f"{fn}: `ids` must be a 1-D integer array, got {ids.dtype} {ids.shape}.")
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) > n):
        raise ValueError(
            f"{fn}: `ids` must lie in [0, {n}] ({n} is the padding id), got values in "
            f"[{int(ids.min())}, {int(ids.max())}]."
        )
    return ids.astype(np.int64, copy=False)


def pull(history: History, ids: Any) -> Any:
    """Rows ``history.emb[ids]``; the padding id ``N`` reads zeros.

    Jittable on a device history (ids may be traced; out-of-range ids read zeros); host-side on
    a host history (ids are checked: values outside ``[0, N]`` raise).

    Args:
      history: The history.
      ids: Integer ``[K]`` node ids.

    Returns:
      ``[K, F]``: a ``jax.Array`` (under ``stop_gradient``) for a device history, a new NumPy
      array for a host one.

    Raises:
      ValueError: On host ids that are not 1-D integers in ``[0, N]``.
    """
    emb = history.emb
    if isinstance(emb, jax.Array):
        rows = jnp.take(emb, jnp.asarray(ids), axis=0, mode="fill", fill_value=0)
        return jax.lax.stop_gradient(rows)
    n = emb.shape[0]
    ids = _host_ids(ids, n, "pull")
    pad = ids == n
    rows = np.take(emb, np.where(pad, 0, ids), axis=0)
    rows[pad] = 0
    return rows


def _check_rows(history: History, rows: Any, fn: str) -> None:
    shape = tuple(np.shape(rows))
    if len(shape) != 2 or shape[1] != history.features:
        raise ValueError(
            f"{fn}: the history holds [{history.num_nodes}, {history.features}] embeddings, "
            f"got rows of shape {shape}; the pushed layer output must have "
            f"{history.features} features (mismatched hidden sizes?)."
        )


def push(history: History, rows: Any, ids: Any = None, *, ranges: Any = None) -> History:
    """Writes ``rows`` into the history at ``ids``, or into contiguous ``ranges``.

    Jittable on a device history with ``ids`` (``emb.at[ids].set(rows)``; out-of-range ids,
    the padding id included, are dropped), returning a new state. Host-side on a host history:
    the table is written in place and the same state is returned.

    ``ranges`` (host histories only) is an int ``[R, 2]`` array of ``[start, stop)`` node
    ranges; ``rows`` holds their rows back to back from row 0 (extra rows, e.g. padding, are
    ignored). This is how GNNAutoScale pushes contiguously numbered METIS parts: one slice copy
    per range.

    Args:
      history: The history.
      rows: ``[K, F]`` embeddings (any array; device arrays are copied to the host).
      ids: Integer ``[K]`` node ids in ``[0, N]``; ``N`` (padding) rows are dropped.
      ranges: Integer ``[R, 2]`` node ranges instead of ``ids``.

    Returns:
      The updated history.

    Raises:
      ValueError: If ``rows`` has the wrong feature size or too few rows, ids or ranges are out
        of range, or not exactly one of ``ids``/``ranges`` is given (``ranges`` with a device
        history).
    """
    if (ids is None) == (ranges is None):
        raise ValueError("push: pass exactly one of `ids` and `ranges`.")
    _check_rows(history, rows, "push")
    emb = history.emb
    if isinstance(emb, jax.Array):
        if ranges is not None:
            raise ValueError("push: `ranges` is for host histories; pass `ids` on the device.")
        rows = jax.lax.stop_gradient(jnp.asarray(rows)).astype(emb.dtype)
        return History(emb.at[jnp.asarray(ids)].set(rows, mode="drop"))
    n = emb.shape[0]
    rows = np.asarray(rows)
    if ranges is not None:
        ranges = np.asarray(ranges, np.int64).reshape(-1, 2)
        sizes = ranges[:, 1] - ranges[:, 0]
        if ranges.size and (ranges.min() < 0 or ranges.max() > n or np.any(sizes < 0)):
            raise ValueError(f"push: `ranges` must be [start, stop) pairs within [0, {n}].")
        if int(sizes.sum()) > rows.shape[0]:
            raise ValueError(
                f"push: `ranges` cover {int(sizes.sum())} rows but `rows` has {rows.shape[0]}."
            )
        src = 0
        for (start, stop), size in zip(ranges.tolist(), sizes.tolist(), strict=True):
            emb[start:stop] = rows[src : src + size]
            src += size
        return history
    ids = _host_ids(ids, n, "push")
    if ids.shape[0] != rows.shape[0]:
        raise ValueError(f"push: {ids.shape[0]} ids for {rows.shape[0]} rows; they must match.")
    keep = ids < n
    emb[ids[keep]] = rows[keep]
    return history


def history_arrays(histories: Sequence[History]) -> dict[str, np.ndarray]:
    """The histories' tables as host arrays keyed ``"0"``, ``"1"``, ... (for a checkpoint).

    Host-side: not jittable. Device tables are copied to the host; host tables are returned
    as they are (no copy), so write them out before the next push.

    Args:
      histories: The histories, in layer order.

    Returns:
      ``{str(l): [N, F_l] array}``.
    """
    return {str(i): np.asarray(h.emb) for i, h in enumerate(histories)}


def restore_histories(histories: Sequence[History], arrays: dict[str, Any]) -> tuple[History, ...]:
    """Loads tables saved by :func:`history_arrays` into ``histories`` (same shapes).

    Host-side: not jittable. Host tables are overwritten in place; device tables are
    replaced by new device arrays on the same sharding.

    Args:
      histories: The histories to fill, in layer order.
      arrays: ``{str(l): [N, F_l] array}``.

    Returns:
      The restored histories.

    Raises:
      ValueError: If the keys or shapes do not match (then no table is written).
    """
    expected = {str(i) for i in range(len(histories))}
    if set(arrays) != expected:
        raise ValueError(
            f"restore_histories: expected keys {sorted(expected)}, got {sorted(arrays)}."
        )
    for i, h in enumerate(histories):  # every table is checked before any is written
        table = arrays[str(i)]
        if tuple(np.shape(table)) != tuple(h.emb.shape):
            raise ValueError(
                f"restore_histories: history {i} is {tuple(h.emb.shape)}, the saved table is "
                f"{tuple(np.shape(table))}."
            )
    out = []
    for i, h in enumerate(histories):
        table = arrays[str(i)]
        if isinstance(h.emb, jax.Array):
            out.append(History(jax.device_put(np.asarray(table, h.emb.dtype), h.emb.sharding)))
        else:
            h.emb[...] = table
            out.append(h)
    return tuple(out)
