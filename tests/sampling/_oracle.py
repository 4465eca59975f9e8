"""Brute-force references for the sampler tests (plain Python over edge lists)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def random_edge_index(num_nodes: int, num_edges: int, seed: int) -> np.ndarray:
    """A random directed multigraph ``[2, E]`` (self-loops and parallel edges allowed)."""
    return np.random.default_rng(seed).integers(0, num_nodes, size=(2, num_edges))


def symmetric_edge_index(num_nodes: int, num_edges: int, seed: int) -> np.ndarray:
    """A random simple undirected graph, both directions stored, no self-loops."""
    rng = np.random.default_rng(seed)
    s, d = rng.integers(0, num_nodes, size=(2, num_edges))
    keep = s != d
    pairs = {(int(min(a, b)), int(max(a, b))) for a, b in zip(s[keep], d[keep])}
    both = [(a, b) for a, b in sorted(pairs)] + [(b, a) for a, b in sorted(pairs)]
    return np.array(both, dtype=np.int64).T


def in_edges(edge_index: np.ndarray) -> dict[int, list[tuple[int, int]]]:
    """``v -> [(source, edge id), ...]`` for every edge ``source -> v``."""
    out: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for e, (s, d) in enumerate(edge_index.T.tolist()):
        out[d].append((s, e))
    return out


def global_edges(out) -> list[tuple[int, int, int]]:
    """The sampled edges as ``(global source, global target, e_id)`` triples."""
    return list(
        zip(
            out.n_id[out.senders].tolist(),
            out.n_id[out.receivers].tolist(),
            out.e_id.tolist(),
            strict=True,
        )
    )


def assert_edges_exist(out, edge_index: np.ndarray) -> None:
    """Every sampled edge is ``edge_index[:, e_id]`` with the stated direction."""
    assert out.senders.dtype == np.int32 and out.receivers.dtype == np.int32
    assert out.n_id.dtype == np.int64 and out.e_id.dtype == np.int64
    src = edge_index[0, out.e_id]
    dst = edge_index[1, out.e_id]
    np.testing.assert_array_equal(out.n_id[out.senders], src)
    np.testing.assert_array_equal(out.n_id[out.receivers], dst)


def full_expansion(edge_index: np.ndarray, seeds, num_hops: int):
    """PyG's expansion with fanout -1: per-hop new node sets and every edge triple."""
    incoming = in_edges(edge_index)
    seen = list(seeds)
    known = set(seeds)
    frontier = list(seeds)
    hops = [set(seeds)]
    edges = []
    for _ in range(num_hops):
        new = []
        for v in frontier:
            for s, e in incoming.get(v, []):
                edges.append((s, v, e))
                if s not in known:
                    known.add(s)
                    new.append(s)
        seen.extend(new)
        hops.append(set(new))
        frontier = new
    return hops, sorted(edges)


def hop_counts_from_edges(batch_size: int, senders: np.ndarray, receivers: np.ndarray, hops: int):
    """Per-hop node/edge counts of a hop-ordered sample without its counts (PyG's torch_sparse).

    Hop ``k``'s edges are those whose target lies in hop ``k - 1``'s node range, and hop
    ``k``'s nodes are the new ids they reach.
    """
    bounds = [0, batch_size]
    edges = []
    for _ in range(hops):
        lo, hi = bounds[-2], bounds[-1]
        sel = (receivers >= lo) & (receivers < hi)
        edges.append(int(sel.sum()))
        top = int(senders[sel].max()) + 1 if sel.any() else hi
        bounds.append(max(hi, top))
    nodes = [b - a for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return nodes, edges
