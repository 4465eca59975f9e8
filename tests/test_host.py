"""jgnn._host: host<->device moves and CSR pointers against brute force."""

import jax
import numpy as np

from jgnn._host import csr_pointers, like, to_device


def test_csr_pointers_match_counting():
    rng = np.random.default_rng(0)
    ids = np.sort(rng.integers(0, 9, size=50))
    ptr = csr_pointers(ids, 10)
    assert ptr.shape == (11,) and ptr[0] == 0 and ptr[-1] == 50
    for i in range(10):
        assert (ids[ptr[i] : ptr[i + 1]] == i).all() and ptr[i + 1] - ptr[i] == (ids == i).sum()
    np.testing.assert_array_equal(csr_pointers(np.array([], np.int64), 3), [0, 0, 0, 0])


def test_to_device_and_like_keep_the_container():
    tree = to_device({"a": np.arange(3), "b": None})
    assert isinstance(tree["a"], jax.Array) and tree["b"] is None
    assert to_device(None) is None
    assert isinstance(like(tree["a"], np.ones(2)), jax.Array)
    assert isinstance(like(np.ones(2), np.ones(2)), np.ndarray)
