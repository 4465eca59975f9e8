"""jgnn._numerics: accumulation dtype and safe inverse powers against direct math."""

import jax
import jax.numpy as jnp
import numpy as np

from jgnn._numerics import accum_dtype, broadcast_rows, safe_reciprocal, safe_rsqrt


def test_accum_dtype_widens_only_narrow_floats():
    assert accum_dtype(jnp.bfloat16) == jnp.float32
    assert accum_dtype(jnp.float16) == jnp.float32
    assert accum_dtype(jnp.float32) == jnp.float32
    assert accum_dtype(jnp.int8) == jnp.int8


def test_safe_inverse_powers_are_zero_at_zero_with_finite_gradients():
    x = jnp.array([0.0, 4.0, 0.25])
    np.testing.assert_allclose(safe_rsqrt(x), [0.0, 0.5, 2.0], rtol=1e-6)
    np.testing.assert_allclose(safe_reciprocal(jnp.array([0.0, -2.0])), [0.0, -0.5])
    grad = jax.grad(lambda v: jnp.sum(safe_rsqrt(v)))(x)
    assert np.isfinite(np.asarray(grad)).all() and grad[0] == 0.0
    np.testing.assert_allclose(grad[1], -0.5 * 4.0**-1.5, rtol=1e-6)


def test_broadcast_rows():
    v = jnp.arange(3.0)
    assert broadcast_rows(v, jnp.zeros((3, 2, 4))).shape == (3, 1, 1)
    assert broadcast_rows(v, jnp.zeros((3,))).shape == (3,)
