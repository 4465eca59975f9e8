"""jgnn.segment.REDUCERS / segment_reduce: one table of reducer names, checked by name."""

import jax.numpy as jnp
import numpy as np
import pytest

import jgnn
from jgnn.segment import REDUCERS, segment_reduce


def test_every_name_dispatches_to_its_reducer():
    data = jnp.array([[1.0], [3.0], [-2.0], [5.0]])
    ids = jnp.array([0, 0, 2, 2])
    oracle = {
        "sum": [[4.0], [0.0], [3.0]],
        "mean": [[2.0], [0.0], [1.5]],
        "max": [[3.0], [0.0], [5.0]],
        "min": [[1.0], [0.0], [-2.0]],
        "prod": [[3.0], [0.0], [-10.0]],
        "var": [[1.0], [0.0], [12.25]],
        "std": [[1.0], [0.0], [3.5]],
    }
    assert set(REDUCERS) == set(oracle)
    for name, want in oracle.items():
        np.testing.assert_allclose(segment_reduce(name, data, ids, 3), want, rtol=1e-6)


def test_unknown_name_and_read_only_table():
    with pytest.raises(ValueError, match=r"gspmm: reduce must be one of .* got 'median'"):
        segment_reduce("median", jnp.ones(2), jnp.zeros(2, jnp.int32), 1, fn="gspmm")
    with pytest.raises(TypeError):
        REDUCERS["median"] = None


def test_ops_and_top_level_reexport_the_same_functions():
    assert jgnn.ops.segment_sum is jgnn.segment.segment_sum
    assert jgnn.message_passing.AGGREGATES == (
        "sum",
        "add",
        "mean",
        "max",
        "min",
        "prod",
        "std",
        "var",
        "softmax",
    )
