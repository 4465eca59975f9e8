"""Small pieces every layer of :mod:`jgnn.nn` shares (private).

- node features: :func:`split_x` reads ``x`` or a bipartite pair ``(x_src, x_dst)``,
  :func:`check_features` / :func:`check_node_features` check feature sizes with the shapes in
  the message, :func:`prepare_x` is the common call prologue of a layer module (split,
  check, cast to the compute dtype) and :func:`dropout_features` drops dense or sparse features;
- parameters: :func:`linear` builds an ``nnx.Linear`` with a Glorot kernel, and
  :func:`linear_params` / :func:`kernel_of` / :func:`param_of` read parameters of optional
  sub-modules as arrays in the compute dtype;
- maths: :func:`apply_linear` (``x @ kernel + bias``), :func:`linear_on_features` (an
  ``nnx.Linear`` on dense or sparse features) and :func:`add_root_and_bias`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from jgnn.sparse import SparseTensor

Graph = jraph.GraphsTuple | SparseTensor | jax.Array
NodeFeatures = jax.Array | tuple[jax.Array, jax.Array]
#: ``(kernel [F_in, F_out], bias [F_out] | None)``.
Linear = tuple[jax.Array, jax.Array | None]


# --------------------------------------------------------------------------------------------
# Node features
# --------------------------------------------------------------------------------------------


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


def dropout_features(dropout: nnx.Dropout, x: Any, deterministic: bool | None) -> Any:
    """Dropout on node features, dense or a ``SparseTensor`` (its stored entries are dropped:
    zeros stay zero, so this has the distribution of dense dropout on the densified array)."""
    if isinstance(x, SparseTensor):
        values = x.value if x.has_value() else jnp.ones((x.nnz(),), jnp.float32)
        return x.set_value(dropout(values, deterministic=deterministic))
    return dropout(x, deterministic=deterministic)


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


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Maths
# --------------------------------------------------------------------------------------------


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
