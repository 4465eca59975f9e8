"""Host/device helpers shared by the host-side graph functions.

On jax 0.10.x, ``jnp.asarray(numpy_array)`` (and ``jnp.array``) without an explicit ``dtype``
compiles a small XLA program per input shape; ``jax.device_put`` does not. Host-side code
therefore works in NumPy and moves results with :func:`to_device`.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

__all__ = ["is_traced", "to_device", "like"]


def is_traced(*trees: Any) -> bool:
    """Returns True if any leaf of ``trees`` is a JAX tracer (we are inside a transformation).

    Args:
        *trees: Pytrees (graphs, arrays, ``None``).

    Returns:
        Whether at least one leaf is a :class:`jax.core.Tracer`.
    """
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(trees))


def to_device(tree: Any) -> Any:
    """Moves every leaf of ``tree`` to the default device without compiling anything.

    Args:
        tree: A pytree of NumPy (or JAX) arrays, or ``None``.

    Returns:
        The same pytree of ``jax.Array`` leaves (float64/int64 canonicalised as JAX does).
    """
    if tree is None:
        return None
    return jax.tree_util.tree_map(lambda x: jax.device_put(np.asarray(x)), tree)


def like(reference: Any, value: np.ndarray) -> Any:
    """Returns ``value`` as a ``jax.Array`` if ``reference`` is one, else as NumPy.

    Args:
        reference: The array whose container type should be kept.
        value: A NumPy array computed on the host.

    Returns:
        ``value`` on device when ``reference`` is a ``jax.Array``, otherwise ``value``.
    """
    return jax.device_put(value) if isinstance(reference, jax.Array) else value
