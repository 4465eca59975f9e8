"""Dropout of node features and of attention coefficients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from jgnn.sparse import SparseTensor

__all__ = ["Dropout", "dropout_features", "dropout_fn"]

#: A dropout applied inside a pure layer function (None: off).
Dropout = Callable[[jax.Array], jax.Array]


def dropout_features(dropout: nnx.Dropout, x: Any, deterministic: bool | None) -> Any:
    """Dropout on node features, dense or a ``SparseTensor`` (its stored entries are dropped:
    zeros stay zero, so this has the distribution of dense dropout on the densified array)."""
    if isinstance(x, SparseTensor):
        values = x.value if x.has_value() else jnp.ones((x.nnz(),), jnp.float32)
        return x.set_value(dropout(values, deterministic=deterministic))
    return dropout(x, deterministic=deterministic)


def dropout_fn(dropout: nnx.Dropout, deterministic: bool) -> Dropout | None:
    """The attention-dropout function a module passes to its pure function (None: off)."""
    return None if deterministic else lambda a: dropout(a, deterministic=False)
