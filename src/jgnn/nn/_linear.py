"""Linear parameters and their maths, shared by the layers of :mod:`jgnn.nn` (private).

:func:`linear` builds an ``nnx.Linear`` with a Glorot kernel; :func:`linear_params` /
:func:`kernel_of` / :func:`param_of` read parameters of optional sub-modules as arrays in the
compute dtype; :func:`apply_linear` (``x @ kernel + bias``), :func:`linear_on_features` (an
``nnx.Linear`` on dense or sparse node features) and :func:`add_root_and_bias` are the maths.
"""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx

from jgnn.sparse import SparseTensor

__all__ = [
    "Linear",
    "add_root_and_bias",
    "apply_linear",
    "glorot",
    "kernel_of",
    "linear",
    "linear_on_features",
    "linear_params",
    "param_of",
]

#: ``(kernel [F_in, F_out], bias [F_out] | None)``.
Linear = tuple[jax.Array, jax.Array | None]


def linear(
    in_features: int,
    out_features: int,
    *,
    bias: bool,
    param_dtype: Any,
    rngs: nnx.Rngs,
    kernel_init: Any = None,
) -> nnx.Linear:
    """An ``nnx.Linear`` holding a ``[in, out]`` kernel (torch stores ``[out, in]``).

    The kernel is Glorot-uniform unless ``kernel_init`` is given (``nnx.Linear``'s own default
    is LeCun-normal).
    """
    init = kernel_init or nnx.initializers.glorot_uniform()
    return nnx.Linear(
        in_features,
        out_features,
        use_bias=bias,
        kernel_init=init,
        param_dtype=param_dtype,
        rngs=rngs,
    )


def linear_params(lin: nnx.Linear | None, dtype: Any) -> tuple[jax.Array | None, jax.Array | None]:
    """``(kernel [in, out], bias [out] | None)`` of an optional ``nnx.Linear`` in ``dtype``.

    ``(None, None)`` when ``lin`` is None.
    """
    if lin is None:
        return None, None
    return lin.kernel[...].astype(dtype), param_of(lin.bias, dtype)


def kernel_of(lin: nnx.Linear | None, dtype: Any) -> jax.Array | None:
    """The kernel of an optional ``nnx.Linear`` in ``dtype`` (its bias is not read)."""
    return linear_params(lin, dtype)[0]


def param_of(p: nnx.Param | None, dtype: Any = None) -> jax.Array | None:
    """The value of an optional parameter, cast to ``dtype`` unless that is None."""
    if p is None:
        return None
    return p[...] if dtype is None else p[...].astype(dtype)


def linear_on_features(linear: nnx.Linear, x: Any) -> jax.Array:
    """``linear(x)``, also for sparse node features: ``x @ kernel + bias`` is then a
    sparse-dense product and no dense ``x`` is formed."""
    if not isinstance(x, SparseTensor):
        return linear(x)
    return apply_linear(x, *linear_params(linear, linear.dtype or linear.kernel[...].dtype))


def apply_linear(x: jax.Array, kernel: jax.Array, bias: jax.Array | None = None) -> jax.Array:
    """``x @ kernel (+ bias)``."""
    out = x @ kernel
    return out if bias is None else out + bias


def add_root_and_bias(
    out: jax.Array, x_dst: jax.Array, root: jax.Array | None, bias: jax.Array | None
) -> jax.Array:
    """``out (+ x_dst @ root) (+ bias)``, in that order; None terms are skipped."""
    if root is not None:
        out = out + x_dst @ root
    if bias is not None:
        out = out + bias
    return out


def glorot(rngs: nnx.Rngs, shape: tuple[int, ...], dtype: Any) -> nnx.Param:
    """A Glorot-uniform parameter over the last two axes (PyG's ``glorot``)."""
    return nnx.Param(nnx.initializers.glorot_uniform()(rngs.params(), shape, dtype))
