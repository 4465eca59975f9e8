"""jgnn._checks: the shared argument checks name the argument and what was received."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgnn._checks import check_id_range, host_ints, int_array, is_traced, static_int


def test_is_traced_sees_tracers_in_any_tree():
    assert not is_traced(jnp.ones(3), {"a": np.ones(2)}, None)
    seen = []
    jax.jit(lambda x: seen.append(is_traced({"x": x}, None)) or x)(jnp.ones(2))
    assert seen == [True]


def test_static_int_accepts_ints_and_names_the_argument():
    assert static_int(np.int64(7), "n") == 7
    assert static_int(3, "n", minimum=3, maximum=3) == 3
    with pytest.raises(TypeError, match=r"f: n must be an int, got float \(2.5\)"):
        static_int(2.5, "f: n")
    with pytest.raises(TypeError, match="must be an int, got bool"):
        static_int(True, "n")
    with pytest.raises(ValueError, match="n must be >= 0, got -1"):
        static_int(-1, "n")
    with pytest.raises(ValueError, match="n must be <= 4, got 5"):
        static_int(5, "n", maximum=4)
    with pytest.raises(TypeError, match="n must be a static Python int, got a traced value"):
        jax.jit(lambda k: static_int(k, "n"))(3)


def test_int_array_checks_dtype_and_rank():
    ids = int_array(np.array([0, 2], np.int64), "ids")
    np.testing.assert_array_equal(ids, [0, 2])
    with pytest.raises(TypeError, match="ids must be an integer array, got dtype float32"):
        int_array(jnp.zeros(2), "ids")
    with pytest.raises(ValueError, match=r"ids must be 1-D, got shape \(2, 1\)"):
        int_array(jnp.zeros((2, 1), jnp.int32), "ids")


def test_host_ints_is_host_side_only():
    got = host_ints([1, 2], "ids")
    assert got.dtype == np.int64 and got.tolist() == [1, 2]
    with pytest.raises(TypeError, match="must have an integer dtype, got bool"):
        host_ints(np.array([True]), "ids")
    with pytest.raises(TypeError, match="host-side"):
        jax.jit(lambda x: host_ints(x, "ids"))(jnp.arange(2))


def test_check_id_range_reports_the_offending_id():
    check_id_range(np.array([0, 4]), 5, "row")
    check_id_range(np.array([], np.int64), 0, "row")
    with pytest.raises(ValueError, match=r"row ids must lie in \[0, 5\), found 5 \(min 0, max 5\)"):
        check_id_range(np.array([0, 5]), 5, "row")
    with pytest.raises(ValueError, match="found -2"):
        check_id_range(np.array([-2, 1]), 5, "row", " hint")
