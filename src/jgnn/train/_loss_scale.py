"""Loss scaling for float16 training, as an optax-style pair of pure functions.

float16 has 5 exponent bits: gradients below about 6e-8 flush to zero. Multiplying the loss by
a scale ``S`` before differentiating shifts the backward pass into float16's range; the float32
gradients are divided by ``S`` before the optimizer sees them. *Dynamic* scaling (Micikevicius
et al., ICLR 2018) starts high, halves ``S`` and skips the update on a step whose gradients
are not finite, and doubles ``S`` after ``growth_interval`` finite steps in a row.

Why not a library: ``optax`` has no loss scaling (``optax.apply_if_finite`` skips non-finite
updates but keeps no scale), and ``jmp`` (DeepMind, 0.0.4) has been unmaintained since 2023,
is not a jgnn dependency and its ``DynamicLossScale`` drops ``min_loss_scale`` when flattened
(it comes back at its default after a ``jit`` boundary). This module is ~100 lines whose state
is a ``NamedTuple`` of two arrays, so it threads through ``jit``, ``shard_map`` and orbax
checkpoints like any optax state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "LossScale",
    "LossScaleState",
    "all_finite",
    "dynamic_loss_scale",
    "no_loss_scale",
    "static_loss_scale",
]


class LossScaleState(NamedTuple):
    """State of a loss scale.

    Attributes:
        scale: float32 ``[]``, the current loss scale ``S``.
        good_steps: int32 ``[]``, finite steps in a row since ``S`` last changed.
    """

    scale: jax.Array
    good_steps: jax.Array


class LossScale(NamedTuple):
    """A loss scale: ``init() -> state``, ``scale(loss, state)`` and ``update(grads, state)``.

    ``update(grads, state) -> (grads / S, finite, new_state)``: unscales the gradients of the
    scaled loss, reports whether all of them are finite (a bool ``[]``; the step must skip the
    optimizer update when it is False) and adjusts the scale.

    Attributes:
        init: Builds the initial :class:`LossScaleState`.
        scale: ``(loss, state) -> loss * S`` (in float32).
        update: See above.
        guarded: Whether the step must skip an update whose gradients are not finite (False
            only for :func:`no_loss_scale`, whose ``finite`` is always True).
    """

    init: Callable[[], LossScaleState]
    scale: Callable[[jax.Array, LossScaleState], jax.Array]
    update: Callable[[Any, LossScaleState], tuple[Any, jax.Array, LossScaleState]]
    guarded: bool


def all_finite(tree: Any) -> jax.Array:
    """bool ``[]``: whether every element of every floating leaf of ``tree`` is finite."""
    leaves = [
        jnp.all(jnp.isfinite(leaf))
        for leaf in jax.tree_util.tree_leaves(tree)
        if jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact)
    ]
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack(leaves))


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
    return float(value)


def _state(scale: float) -> LossScaleState:
    return LossScaleState(jnp.asarray(scale, jnp.float32), jnp.zeros((), jnp.int32))


def _unscale(grads: Any, scale: jax.Array) -> Any:
    inv = 1.0 / scale

    def one(g: jax.Array) -> jax.Array:
        return (g.astype(jnp.float32) * inv).astype(g.dtype)

    return jax.tree_util.tree_map(one, grads)


def _times(loss: jax.Array, state: LossScaleState) -> jax.Array:
    return loss.astype(jnp.float32) * state.scale


def static_loss_scale(scale: float) -> LossScale:
    """A fixed scale ``S`` (its ``finite`` flag is still computed, and the step still skips
    non-finite updates).

    Args:
        scale: ``S > 0``.

    Returns:
        The :class:`LossScale`.

    Raises:
        ValueError: If ``scale`` is not positive.
    """
    scale = _positive(scale, "scale")

    def update(grads: Any, state: LossScaleState) -> tuple[Any, jax.Array, LossScaleState]:
        grads = _unscale(grads, state.scale)
        return grads, all_finite(grads), state

    return LossScale(lambda: _state(scale), _times, update, guarded=True)


def no_loss_scale() -> LossScale:
    """The identity: ``S = 1``, gradients passed through, ``finite`` always True.

    Returns:
        The :class:`LossScale` (what float32 and bfloat16 training use).
    """

    def update(grads: Any, state: LossScaleState) -> tuple[Any, jax.Array, LossScaleState]:
        return grads, jnp.asarray(True), state

    return LossScale(lambda: _state(1.0), lambda loss, state: loss, update, guarded=False)


def dynamic_loss_scale(
    initial_scale: float = 2.0**15,
    *,
    growth_interval: int = 2000,
    factor: float = 2.0,
    min_scale: float = 1.0,
    max_scale: float = 2.0**24,
) -> LossScale:
    """Dynamic loss scaling: divide ``S`` by ``factor`` on a non-finite step, multiply it by
    ``factor`` after ``growth_interval`` finite steps in a row; ``S`` stays within
    ``[min_scale, max_scale]``.

    Args:
        initial_scale: Starting ``S``.
        growth_interval: Finite steps in a row before ``S`` grows (>= 1).
        factor: Growth and back-off factor (> 1).
        min_scale: Lower bound of ``S``.
        max_scale: Upper bound of ``S``.

    Returns:
        The :class:`LossScale`.

    Raises:
        ValueError: If an argument is out of range.

    Examples:
        >>> ls = dynamic_loss_scale(8.0, growth_interval=2)
        >>> s = ls.init()
        >>> _, ok, s = ls.update({"w": jnp.array([jnp.inf])}, s)
        >>> bool(ok), float(s.scale)
        (False, 4.0)
    """
    initial_scale = _positive(initial_scale, "initial_scale")
    factor = _positive(factor, "factor")
    min_scale = _positive(min_scale, "min_scale")
    max_scale = _positive(max_scale, "max_scale")
    if isinstance(growth_interval, bool) or not isinstance(growth_interval, int):
        raise TypeError(f"`growth_interval` must be an int, got {growth_interval!r}.")
    if growth_interval < 1:
        raise ValueError(f"`growth_interval` must be >= 1, got {growth_interval}.")
    if factor <= 1.0:
        raise ValueError(f"`factor` must be > 1, got {factor}.")
    if not min_scale <= initial_scale <= max_scale:
        raise ValueError(
            f"expected min_scale <= initial_scale <= max_scale, got {min_scale}, "
            f"{initial_scale}, {max_scale}."
        )

    def update(grads: Any, state: LossScaleState) -> tuple[Any, jax.Array, LossScaleState]:
        grads = _unscale(grads, state.scale)
        finite = all_finite(grads)
        grow = finite & (state.good_steps + 1 >= growth_interval)
        scale = jnp.where(
            finite,
            jnp.where(grow, jnp.minimum(state.scale * factor, max_scale), state.scale),
            jnp.maximum(state.scale / factor, min_scale),
        )
        good = jnp.where(finite & ~grow, state.good_steps + 1, jnp.zeros((), jnp.int32))
        return grads, finite, LossScaleState(scale.astype(jnp.float32), good)

    return LossScale(lambda: _state(initial_scale), _times, update, guarded=True)
