"""Node-feature handling shared by every layer of :mod:`jgnn.nn` (private).

:func:`split_x` reads ``x`` or a bipartite pair ``(x_src, x_dst)``, :func:`check_features` /
:func:`check_node_features` check feature sizes with the shapes in the message, and
:func:`prepare_x` is a layer module's call prologue (split, check, cast to the compute dtype).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from jgnn.sparse import SparseTensor

__all__ = [
    "NodeFeatures",
    "as_pair",
    "check_features",
    "check_node_features",
    "prepare_x",
    "split_x",
]

NodeFeatures = jax.Array | tuple[jax.Array, jax.Array]


def split_x(
    x: NodeFeatures, fn: str, *, allow_sparse: bool = False
) -> tuple[jax.Array, jax.Array, bool]:
    """``(x_src, x_dst, bipartite)`` from ``x [N, F]`` or a pair ``(x_src, x_dst)``.

    A ``SparseTensor`` ``x`` is passed through when ``allow_sparse`` (layers whose only use of
    ``x`` is ``x @ W``), else rejected with a ``TypeError`` naming the layer.

    For a single array ``x_src`` and ``x_dst`` are the same object, so callers may test
    ``x_dst is x_src`` to skip a second projection.
    """
    if isinstance(x, SparseTensor):
        if not allow_sparse:
            raise TypeError(
                f"{fn} takes dense node features, got a SparseTensor {tuple(x.shape)}; sparse "
                f"node features go to GCNConv, GATConv, SAGEConv (sum/mean) and MLP only "
                f"(densify with x.to_dense())"
            )
        return x, x, False
    if isinstance(x, tuple):
        if len(x) != 2 or x[0] is None or x[1] is None:
            raise ValueError(
                f"{fn}: a tuple x must be the pair (x_src, x_dst) of arrays, got a "
                f"{len(x)}-tuple with entries {[type(v).__name__ for v in x]}"
            )
        if any(isinstance(v, SparseTensor) for v in x):
            raise TypeError(
                f"{fn}: sparse node features are supported as one x [N, F], not inside an "
                f"(x_src, x_dst) pair; densify them with .to_dense()"
            )
        return jnp.asarray(x[0]), jnp.asarray(x[1]), True
    x = jnp.asarray(x)
    return x, x, False


def as_pair(in_features: int | tuple[int, int]) -> tuple[int, int]:
    """``(in_src, in_dst)`` from one size or a pair of sizes."""
    if isinstance(in_features, tuple):
        return in_features
    return in_features, in_features


def check_features(x: jax.Array, size: int, layer: str, what: str = "node features") -> None:
    """Raises ``ValueError`` unless ``x`` is ``[N, size]``, naming both shapes."""
    shape = tuple(x.shape) if isinstance(x, SparseTensor) else tuple(jnp.shape(x))
    if len(shape) != 2 or shape[1] != size:
        raise ValueError(f"{layer} expects {what} [N, {size}], got {shape}")


def check_node_features(
    x_src: jax.Array, x_dst: jax.Array, in_features: int | tuple[int, int], layer: str
) -> None:
    """Raises unless ``x_src`` is ``[N_src, in_src]`` and ``x_dst`` is ``[N_dst, in_dst]``."""
    in_src, in_dst = as_pair(in_features)
    same = in_src == in_dst
    check_features(x_src, in_src, layer, "node features" if same else "source node features")
    check_features(x_dst, in_dst, layer, "node features" if same else "target node features")


def prepare_x(
    x: NodeFeatures,
    in_features: int | tuple[int, int] | None,
    dtype: Any,
    layer: str,
    *,
    allow_sparse: bool = False,
) -> tuple[NodeFeatures, Any]:
    """A layer module's call prologue: split ``x``, check its sizes, cast it.

    Args:
      x: ``[N, F]`` or ``(x_src, x_dst)``.
      in_features: the module's input size(s); None skips the size check.
      dtype: the module's compute dtype; None takes the dtype of ``x_src``.
      layer: the module's name, for error messages.
      allow_sparse: pass a ``SparseTensor`` ``x`` through (its values cast), see
        :func:`split_x`.

    Returns:
      ``(x, dtype)``: ``x`` cast to the compute dtype, in its input form (array or pair), and
      the compute dtype.
    """
    x_src, x_dst, bipartite = split_x(x, layer, allow_sparse=allow_sparse)
    if in_features is not None:
        check_node_features(x_src, x_dst, in_features, layer)
    dtype = dtype or x_src.dtype or jnp.float32
    if isinstance(x_src, SparseTensor):
        return (x_src.set_value(x_src.value.astype(dtype)) if x_src.has_value() else x_src), dtype
    if bipartite:
        return (x_src.astype(dtype), x_dst.astype(dtype)), dtype
    return x_src.astype(dtype), dtype
