"""NeighborSampler: every bad input raises with a message naming the argument."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgnn.sampling import CSCGraph, NeighborSampler

EI = np.array([[1, 2, 3, 0], [0, 0, 1, 2]])


@pytest.mark.parametrize(
    ("num_neighbors", "error", "match"),
    [
        ([], ValueError, "num_neighbors.*at least one hop"),
        ([3, 0], ValueError, r"num_neighbors\[1\].*positive fanout or -1.*got 0"),
        ([-2], ValueError, r"num_neighbors\[0\].*got -2"),
        ([2.5], TypeError, r"num_neighbors\[0\].*int"),
        ([True], TypeError, r"num_neighbors\[0\].*int"),
        (5, TypeError, "num_neighbors.*list of ints"),
        ("15", TypeError, "num_neighbors.*list of ints"),
    ],
)
def test_bad_fanouts(num_neighbors, error, match):
    with pytest.raises(error, match=match):
        NeighborSampler(EI, num_neighbors)


def test_numpy_and_minus_one_fanouts_are_accepted():
    sampler = NeighborSampler(EI, np.array([2, -1]))
    assert sampler.num_neighbors == (2, -1)


@pytest.mark.parametrize(
    ("seeds", "error", "match"),
    [
        (np.array([0, 4]), ValueError, r"seed_nodes.*node id 4 at position 1.*\[0, 4\)"),
        (np.array([-1]), ValueError, "seed_nodes.*-1"),
        (np.array([0.0, 1.0]), TypeError, "seed_nodes.*integer.*float64"),
        (np.array([True]), TypeError, "seed_nodes.*integer.*bool"),
        (np.array([[0, 1]]), ValueError, "seed_nodes.*1-D"),
    ],
)
def test_bad_seeds(seeds, error, match):
    with pytest.raises(error, match=match):
        NeighborSampler(EI, [2]).sample(seeds)


def test_traced_seeds_are_rejected():
    sampler = NeighborSampler(EI, [2])

    def sample(seeds):
        return sampler.sample(seeds).n_id

    with pytest.raises(TypeError, match="seed_nodes.*traced"):
        jax.jit(sample)(jnp.array([0, 1]))
    out = sampler.sample(jnp.array([0, 1], jnp.int32), rng=0)  # concrete JAX arrays are fine
    np.testing.assert_array_equal(out.n_id[:2], [0, 1])


@pytest.mark.parametrize(
    ("rng", "error", "match"),
    [
        (-1, ValueError, "rng"),
        (1.5, TypeError, "rng"),
        ("a", TypeError, "rng"),
        (True, TypeError, "rng"),
    ],
)
def test_bad_rng(rng, error, match):
    with pytest.raises(error, match=match):
        NeighborSampler(EI, [2]).sample([0], rng=rng)


def test_bad_graphs_and_flags():
    with pytest.raises(ValueError, match="NeighborSampler.*no edges"):
        NeighborSampler(np.zeros((2, 0), np.int64), [2])
    with pytest.raises(ValueError, match="weighted=True.*edge weights"):
        NeighborSampler(EI, [2], weighted=True)
    negative = CSCGraph.from_edge_index(EI, edge_weight=np.array([1.0, -1.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="weighted=True.*non-negative"):
        NeighborSampler(negative, [2], weighted=True)
    nan = CSCGraph.from_edge_index(EI, edge_weight=np.array([1.0, np.nan, 1.0, 1.0]))
    with pytest.raises(ValueError, match="finite"):
        NeighborSampler(nan, [2], weighted=True)
    for flag in ("replace", "weighted", "disjoint"):
        with pytest.raises(TypeError, match=flag):
            NeighborSampler(EI, [2], **{flag: 1})
    with pytest.raises(ValueError, match="seed"):
        NeighborSampler(EI, [2], seed=-3)
