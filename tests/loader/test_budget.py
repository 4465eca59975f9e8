"""Budgets: percentile fitting, the ladder, growth past it, serialisation, bad input."""

import json
import math

import numpy as np
import pytest
from loader.loader_sources import HopSource, random_graph

from jgnn.loader import Budget, Rung
from jgnn.loader._checks import hop_counts


@pytest.fixture(scope="module")
def source():
    return HopSource(random_graph(150, 500, seed=1), 150, num_batches=20, seed=3)


def _measured(source, epoch=0):
    counts = [hop_counts(source.get(epoch, i)) for i in range(len(source))]
    return np.array([c[0] for c in counts]), np.array([c[1] for c in counts])


@pytest.mark.parametrize("percentile", [50.0, 90.0, 100.0])
def test_fit_matches_np_percentile(source, percentile):
    budget = Budget.fit(
        source, num_batches=len(source), percentile=percentile, num_rungs=1, multiple=1
    )
    nodes, edges = _measured(source)
    want_n = np.ceil(np.percentile(nodes, percentile, axis=0)).astype(int)
    want_e = np.ceil(np.percentile(edges, percentile, axis=0)).astype(int)
    want_n[0] += 1  # block 0 keeps a padding node
    assert budget.rungs == (Rung(tuple(want_n.tolist()), tuple(want_e.tolist())),)
    if percentile == 100.0:  # the maximum: every measured batch fits rung 0
        assert all(budget.rungs[0].fits(n, e) for n, e in zip(nodes, edges))


def test_ladder_is_geometric_and_rounded(source):
    budget = Budget.fit(
        source, num_batches=len(source), percentile=75.0, num_rungs=3, growth=1.5, multiple=8
    )
    nodes, edges = _measured(source)
    base = np.concatenate(
        [
            np.ceil(np.percentile(nodes, 75.0, axis=0)) + [1, 0, 0],
            np.ceil(np.percentile(edges, 75.0, axis=0)),
        ]
    )
    assert len(budget.rungs) == 3
    for i, rung in enumerate(budget.rungs):
        want = [8 * math.ceil(math.ceil(b * 1.5**i - 1e-9) / 8) for b in base]
        assert list(rung.nodes + rung.edges) == want
        assert all(v % 8 == 0 for v in rung.nodes + rung.edges)


def test_fit_samples_evenly_spaced_batches(source):
    # With 5 of 20 batches measured the fit equals from_counts of batches 0, 5, 10, 14, 19.
    budget = Budget.fit(source, num_batches=5, percentile=80.0, num_rungs=2, multiple=2)
    idx = [0, 5, 10, 14, 19]
    counts = [hop_counts(source.get(0, i)) for i in idx]
    want = Budget.from_counts(
        [c[0] for c in counts], [c[1] for c in counts], percentile=80.0, num_rungs=2, multiple=2
    )
    assert budget == want


def test_rung_for_takes_smallest_fitting_rung():
    budget = Budget((Rung((4, 8), (10,)), Rung((8, 16), (20,))), multiple=1)
    assert budget.rung_for((3, 8), (10,)) == budget.rungs[0]
    assert budget.rung_for((4, 8), (10,)) == budget.rungs[1]  # block 0 needs a padding node
    assert budget.rung_for((3, 9), (10,)) == budget.rungs[1]
    assert budget.rung_for((3, 8), (21,)) is None
    with pytest.raises(ValueError, match="hop blocks"):
        budget.rung_for((3, 8, 1), (10, 2))


def test_grow_is_smallest_power_and_deterministic():
    budget = Budget((Rung((4, 8), (10,)),), growth=2.0, multiple=1)
    grown = budget.grow((3, 30), (10,))
    assert grown == Rung((16, 32), (40,))  # 8 * 2**2 >= 30: k = 2
    assert grown == budget.grow((3, 30), (10,))
    assert budget.grow((3, 9), (10,)) == Rung((8, 16), (20,))
    # Zero-size blocks grow from `multiple`.
    zero = Budget((Rung((2,), (0,)),), growth=2.0, multiple=4)
    assert zero.grow((1,), (5,)) == Rung((8,), (8,))


def test_extended_merges_grown_rungs():
    budget = Budget((Rung((4, 8), (10,)),), growth=2.0, multiple=1)
    grown = budget.grow((3, 30), (10,))
    ext = budget.extended([grown, budget.rungs[0]])
    assert ext.rungs == (budget.rungs[0], grown)
    assert ext.rung_for((3, 30), (10,)) == grown


def test_serialisation_round_trip(source):
    budget = Budget.fit(source, num_batches=8, percentile=95.0, num_rungs=3)
    data = json.loads(json.dumps(budget.to_dict()))
    assert Budget.from_dict(data) == budget
    with pytest.raises(ValueError, match="Budget.to_dict"):
        Budget.from_dict({"rungs": []})


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="nodes\\[0\\]"):
        Rung((0, 3), (2,))
    with pytest.raises(TypeError, match="nodes\\[1\\]"):
        Rung((2, 1.5), (2,))
    with pytest.raises(ValueError, match="non-decreasing"):
        Budget((Rung((4, 8), (10,)), Rung((8, 4), (20,))))
    with pytest.raises(ValueError, match="blocks of rungs\\[0\\]"):
        Budget((Rung((4, 8), (10,)), Rung((8, 8, 8), (20, 1))))
    with pytest.raises(ValueError, match="growth"):
        Budget((Rung((4,), (1,)),), growth=1.0)
    with pytest.raises(ValueError, match="percentile"):
        Budget.from_counts([[1]], [[1]], percentile=0.0)
    with pytest.raises(ValueError, match="same k"):
        Budget.from_counts([[1], [2]], [[1]])
