"""Tests for the private edge-list helpers against a set-based reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jgnn.datasets._edges import build_graph, undirected_coalesced


def _reference(senders, receivers):
    pairs = {(s, r) for s, r in zip(senders, receivers, strict=True) if s != r}
    pairs |= {(r, s) for s, r in pairs}
    ordered = sorted(pairs, key=lambda p: (p[1], p[0]))
    return [p[0] for p in ordered], [p[1] for p in ordered]


@given(
    st.integers(1, 12).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40),
        )
    )
)
def test_matches_set_reference(case):
    n, edges = case
    senders = [e[0] for e in edges]
    receivers = [e[1] for e in edges]
    s, r = undirected_coalesced(np.array(senders, np.int64), np.array(receivers, np.int64), n)
    assert s.dtype == r.dtype == np.int32
    ref_s, ref_r = _reference(senders, receivers)
    assert s.tolist() == ref_s and r.tolist() == ref_r


def test_out_of_range_ids_rejected():
    with pytest.raises(ValueError, match=r"\[0, 3\).*\[0, 3\]"):
        undirected_coalesced(np.array([0, 3]), np.array([1, 2]), 3)
    with pytest.raises(ValueError, match="2 entries.*1"):
        undirected_coalesced(np.array([0, 1]), np.array([1]), 3)


def test_build_graph_sizes():
    g = build_graph(
        np.zeros((4, 2), np.float32), np.array([0, 1], np.int32), np.array([1, 0], np.int32)
    )
    assert g.n_node.tolist() == [4] and g.n_edge.tolist() == [2]
    assert g.n_node.dtype == g.n_edge.dtype == np.int32
    assert g.edges is None and g.globals is None
