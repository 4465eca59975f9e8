"""Host <-> device helpers for host-side code (private).

On jax 0.10.x, ``jnp.asarray(numpy_array)`` without an explicit ``dtype`` compiles a small XLA
program per input shape; ``jax.device_put`` does not. Host-side code therefore works in NumPy
and moves results with :func:`to_device`. :func:`csr_pointers` is the one place compressed
row/column pointers are built.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

__all__ = ["csr_pointers", "like", "to_device"]


def to_device(tree: Any) -> Any:
    """Moves every leaf of ``tree`` to the default device without compiling anything.

    Args:
      tree: a pytree of NumPy (or JAX) arrays, or ``None``.

    Returns:
      The same pytree of ``jax.Array`` leaves (float64/int64 canonicalised as JAX does).
    """
    if tree is None:
        return None
    return jax.tree_util.tree_map(lambda x: jax.device_put(np.asarray(x)), tree)


def like(reference: Any, value: np.ndarray) -> Any:
    """``value`` as a ``jax.Array`` if ``reference`` is one, else as NumPy."""
    return jax.device_put(value) if isinstance(reference, jax.Array) else value


def csr_pointers(sorted_ids: np.ndarray, n: int) -> np.ndarray:
    """Compressed pointers ``[n + 1]`` (int64) of non-decreasing ids in ``[0, n)``.

    Host-side: not jittable. ``ptr[i]:ptr[i + 1]`` are the positions holding id ``i``.
    """
    sorted_ids = np.asarray(sorted_ids)
    counts = np.bincount(sorted_ids, minlength=n) if sorted_ids.size else np.zeros(n, np.int64)
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(counts, out=ptr[1:])
    return ptr
