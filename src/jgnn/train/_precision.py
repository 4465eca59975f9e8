"""Mixed precision: a :class:`Policy` of dtypes, applied to a model and to a training step.

A policy names three dtypes, as in mixed-precision training (Micikevicius et al., ICLR 2018):
parameters (and so the optimizer state, which follows the parameters) are *stored* in
``param_dtype`` (float32), layers *compute* in ``compute_dtype`` (bfloat16 or float16; jgnn's
segment reducers and sparse products accumulate low-precision inputs in float32 and return
the input dtype) and outputs are cast to ``output_dtype`` (float32) before the loss, so the
loss and its reduction stay in float32.

It also holds the one place where jgnn chooses the precision of float32 matrix products
(``matmul_precision``, JAX's ``jax_default_matmul_precision``): ``"highest"`` is full float32,
``"tensorfloat32"`` TF32 on NVIDIA GPUs (about 1e-3 relative error, faster), None keeps JAX's
default (TF32 on recent NVIDIA GPUs, float32 on CPU). The training steps of
:mod:`jgnn.train` trace under :meth:`Policy.matmul_scope`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

__all__ = ["Policy", "apply_policy", "precision_policy", "PRECISION_POLICIES"]

_MATMUL_PRECISIONS = (
    None,
    "default",
    "high",
    "highest",
    "bfloat16",
    "tensorfloat32",
    "float32",
)


def _float_dtype(value: Any, name: str) -> np.dtype:
    try:
        dtype = jnp.dtype(value)
    except TypeError as err:
        raise TypeError(f"`{name}` must be a floating dtype, got {value!r}.") from err
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"`{name}` must be a floating dtype, got {dtype}.")
    return dtype


def _is_float_array(leaf: Any) -> bool:
    dtype = getattr(leaf, "dtype", None)
    return (
        dtype is not None
        and jnp.issubdtype(dtype, jnp.floating)
        and not jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    )


def _cast_floats(tree: Any, dtype: np.dtype) -> Any:
    def cast(leaf: Any) -> Any:
        if _is_float_array(leaf) and leaf.dtype != dtype:
            return leaf.astype(dtype)
        return leaf

    return jax.tree_util.tree_map(cast, tree)


@dataclasses.dataclass(frozen=True)
class Policy:
    """Which dtype parameters are stored in, computed in and returned in.

    Attributes:
        compute_dtype: Dtype of activations and of the parameters' copies used in the layers
            (float32, bfloat16 or float16).
        param_dtype: Dtype the parameters (and with them the optimizer state) are stored in.
        output_dtype: Dtype of the model output handed to the loss.
        matmul_precision: JAX's ``jax_default_matmul_precision`` for the float32 matrix
            products of a step (``"highest"``: full float32; ``"tensorfloat32"``: TF32), or
            None for JAX's default.

    Raises:
        TypeError: If a dtype is not a floating dtype.
        ValueError: If ``matmul_precision`` is not one JAX knows.

    Examples:
        >>> p = Policy(compute_dtype="bfloat16")
        >>> p.cast_to_compute(jnp.ones(2)).dtype, p.cast_to_output(jnp.ones(2, "bfloat16")).dtype
        (dtype(bfloat16), dtype('float32'))
    """

    compute_dtype: Any = jnp.float32
    param_dtype: Any = jnp.float32
    output_dtype: Any = jnp.float32
    matmul_precision: str | None = None

    def __post_init__(self) -> None:
        for name in ("compute_dtype", "param_dtype", "output_dtype"):
            object.__setattr__(self, name, _float_dtype(getattr(self, name), name))
        if self.matmul_precision not in _MATMUL_PRECISIONS:
            raise ValueError(
                f"`matmul_precision` must be one of {_MATMUL_PRECISIONS}, got "
                f"{self.matmul_precision!r}."
            )

    def cast_to_compute(self, tree: Any) -> Any:
        """Casts the floating leaves of ``tree`` to ``compute_dtype`` (ints, bools, keys kept)."""
        return _cast_floats(tree, self.compute_dtype)

    def cast_to_param(self, tree: Any) -> Any:
        """Casts the floating leaves of ``tree`` to ``param_dtype``."""
        return _cast_floats(tree, self.param_dtype)

    def cast_to_output(self, tree: Any) -> Any:
        """Casts the floating leaves of ``tree`` to ``output_dtype``."""
        return _cast_floats(tree, self.output_dtype)

    @contextlib.contextmanager
    def matmul_scope(self) -> Iterator[None]:
        """Context in which float32 matrix products use ``matmul_precision`` (at trace time)."""
        if self.matmul_precision is None:
            yield
        else:
            with jax.default_matmul_precision(self.matmul_precision):
                yield

    def to_dict(self) -> dict[str, str | None]:
        """JSON-serialisable description (for checkpoint configurations and reports)."""
        return {
            "compute_dtype": str(self.compute_dtype),
            "param_dtype": str(self.param_dtype),
            "output_dtype": str(self.output_dtype),
            "matmul_precision": self.matmul_precision,
        }


PRECISION_POLICIES: dict[str, Policy] = {
    "fp32": Policy(matmul_precision="highest"),
    "tf32": Policy(matmul_precision="tensorfloat32"),
    "bf16": Policy(compute_dtype=jnp.bfloat16),
    "fp16": Policy(compute_dtype=jnp.float16),
}
"""The named policies: ``fp32`` (full float32 products), ``tf32`` (float32 storage and
activations, TF32 products on NVIDIA GPUs), ``bf16`` and ``fp16`` (float32 parameters, low-
precision compute, float32 outputs; ``fp16`` needs loss scaling, see
:func:`jgnn.train.dynamic_loss_scale`)."""


def precision_policy(name: str | Policy) -> Policy:
    """The policy called ``name`` (a key of :data:`PRECISION_POLICIES`), or ``name`` itself.

    Args:
        name: ``"fp32"``, ``"tf32"``, ``"bf16"`` or ``"fp16"`` (also ``"float32"``,
            ``"bfloat16"``, ``"float16"``), or a :class:`Policy`.

    Returns:
        The policy.

    Raises:
        ValueError: If the name is unknown.
    """
    if isinstance(name, Policy):
        return name
    aliases = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
    key = aliases.get(name, name) if isinstance(name, str) else name
    if key not in PRECISION_POLICIES:
        raise ValueError(
            f"unknown precision {name!r}; expected one of {sorted(PRECISION_POLICIES)} or a "
            "jgnn.train.Policy."
        )
    return PRECISION_POLICIES[key]


def apply_policy(model: nnx.Module, policy: Policy | str) -> nnx.Module:
    """Makes every layer of ``model`` compute in the policy's dtype; parameters stay stored.

    Every submodule that has a ``dtype`` attribute (all :mod:`jgnn.nn` layers, ``nnx.Linear``
    and the norms) gets ``dtype = policy.compute_dtype``: it casts its inputs and its
    parameters' values to that dtype when called. Parameters are cast to
    ``policy.param_dtype`` in place, so a model built with ``param_dtype=bfloat16`` is brought
    back to float32 storage. Modifies ``model`` and returns it.

    Args:
        model: The model.
        policy: A :class:`Policy` or the name of one.

    Returns:
        ``model``.

    Raises:
        TypeError: If ``model`` is not an ``nnx.Module``.
    """
    if not isinstance(model, nnx.Module):
        raise TypeError(f"`model` must be an nnx.Module, got {type(model).__name__}.")
    policy = precision_policy(policy)
    for _, module in nnx.iter_modules(model):
        if hasattr(module, "dtype") and not isinstance(module.dtype, nnx.Variable):
            module.dtype = policy.compute_dtype
    params = nnx.state(model, nnx.Param)
    nnx.update(model, policy.cast_to_param(params))
    return model
