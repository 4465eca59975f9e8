"""NeighborSampler distributions: chi-square tests against exact probabilities.

Each test draws many independent neighbourhoods of one node (a ``disjoint`` call with the node
repeated: every tree is an independent draw) and compares the frequencies with the exact
distribution by a chi-square goodness-of-fit test at significance 1e-4 (fixed seeds, so the
outcome is reproducible; a correct sampler fails with probability 1e-4).
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import stats

from jgnn.sampling import CSCGraph, NeighborSampler

ALPHA = 1e-4
DRAWS = 30_000


def star(weights):
    """Node 0 with in-edges from 1..k (edge i-1 is i -> 0, weight weights[i-1])."""
    k = len(weights)
    ei = np.stack([np.arange(1, k + 1), np.zeros(k, np.int64)])
    return CSCGraph.from_edge_index(ei, k + 1, edge_weight=np.asarray(weights, np.float32))


def draws(graph, fanout, per_tree=None, **flags):
    """The sampled in-edge ids of node 0 in DRAWS independent trees: ``[DRAWS, per_tree]``."""
    per_tree = fanout if per_tree is None else per_tree
    sampler = NeighborSampler(graph, [fanout], disjoint=True, seed=123, **flags)
    out = sampler.sample(np.zeros(DRAWS, np.int64), rng=0)
    tree = out.batch[out.receivers]
    assert np.all(np.diff(tree) >= 0) and np.all(np.bincount(tree, minlength=DRAWS) == per_tree)
    return out.e_id.reshape(DRAWS, per_tree)


def chi2_pvalue(observed, expected_prob):
    observed = np.asarray(observed, np.float64)
    return stats.chisquare(observed, observed.sum() * np.asarray(expected_prob)).pvalue


def test_uniform_without_replacement_draws_every_subset_equally():
    k, f = 7, 3
    picks = np.sort(draws(star(np.ones(k)), f), axis=1)
    subsets = list(itertools.combinations(range(k), f))
    index = {s: i for i, s in enumerate(subsets)}
    counts = np.bincount([index[tuple(row)] for row in picks.tolist()], minlength=len(subsets))
    assert chi2_pvalue(counts, np.full(len(subsets), 1 / len(subsets))) > ALPHA


def test_uniform_with_replacement_draws_independent_uniform_neighbours():
    k, f = 6, 2
    picks = draws(star(np.ones(k)), f, replace=True)
    pairs = picks[:, 0] * k + picks[:, 1]  # ordered pairs, repeats included
    assert chi2_pvalue(np.bincount(pairs, minlength=k * k), np.full(k * k, 1 / k**2)) > ALPHA


def test_weighted_with_replacement_follows_the_weights():
    w = np.array([1.0, 2.0, 3.0, 4.0, 0.0, 0.5])
    picks = draws(star(w), 3, weighted=True, replace=True).ravel()
    counts = np.bincount(picks, minlength=w.size)
    assert counts[4] == 0
    keep = w > 0
    assert chi2_pvalue(counts[keep], w[keep] / w.sum()) > ALPHA


def successive_sampling_subsets(w, f):
    """Exact P(subset) of successive weighted sampling without replacement (enumeration)."""
    probs = {}
    for seq in itertools.permutations(range(len(w)), f):
        p, left = 1.0, w.sum()
        for i in seq:
            p *= w[i] / left
            left -= w[i]
        key = tuple(sorted(seq))
        probs[key] = probs.get(key, 0.0) + p
    return probs


def test_weighted_without_replacement_matches_successive_sampling():
    w = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    f = 2
    exact = successive_sampling_subsets(w, f)
    subsets = sorted(exact)
    index = {s: i for i, s in enumerate(subsets)}
    picks = np.sort(draws(star(w), f, weighted=True), axis=1)
    assert np.all(picks[:, 0] != picks[:, 1])
    counts = np.bincount([index[tuple(r)] for r in picks.tolist()], minlength=len(subsets))
    assert chi2_pvalue(counts, [exact[s] for s in subsets]) > ALPHA
    # the inclusion probabilities differ clearly from "proportional to weight" (f * w / W)
    inclusion = np.array([sum(p for s, p in exact.items() if i in s) for i in range(w.size)])
    assert abs(inclusion[4] - f * w[4] / w.sum()) > 0.1


def test_weighted_without_replacement_skips_zero_weights():
    w = np.array([0.0, 5.0, 0.0, 1.0])
    picks = draws(star(w), 3, per_tree=2, weighted=True)  # only 2 positive-weight edges
    assert np.all(np.sort(picks, axis=1) == [1, 3])
    picks = draws(star(w), -1, per_tree=2, weighted=True)
    assert np.all(np.sort(picks, axis=1) == [1, 3])
