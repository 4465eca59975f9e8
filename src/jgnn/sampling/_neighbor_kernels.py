"""Numba kernels of the neighbour sampler: per-node selection and the fused hop expansion.

Selection of ``f`` in-edges of a node with in-degree ``d``:

* uniform, without replacement: Floyd's algorithm (Bentley and Floyd, 1987), ``f`` draws and a
  ``[D]`` bitmap for membership, O(f) per node;
* uniform, with replacement: ``f`` independent draws;
* weighted, with replacement: ``f`` draws by binary search in the node's running weight sums;
* weighted, without replacement: exponential keys (Efraimidis and Spirakis, 2006; the
  exponential-clock form): every positive-weight edge gets ``E_k ~ Exponential(w_k)`` and
  the ``f`` smallest keys win, kept in a size-``f`` max-heap, O(d log f). This is exactly
  successive sampling: each pick is proportional to the weights of the edges not yet picked
  (``torch.multinomial(..., replacement=False)`` draws from the same distribution).

Weighted selection never picks a zero-weight edge; ``-1`` or a fanout at least the number of
candidates takes all candidates in CSC order. Relabelling is fused with the expansion through a
global ``[N]`` node map that is reset before returning.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from jgnn.sampling._rng import randint, uniform

__all__ = ["sample_neighbors_kernel"]


@njit(cache=True, nogil=True)
def _reserve(buf, used, need):
    """``buf`` if it holds ``need`` entries, else a copy with room (at least doubled)."""
    if need <= buf.shape[0]:
        return buf
    out = np.empty(max(need, 2 * buf.shape[0]), buf.dtype)
    out[:used] = buf[:used]
    return out


@njit(cache=True, nogil=True)
def _sift_down(keys, idx, size, i):
    """Restores the max-heap property below ``i`` in ``keys[:size]`` (``idx`` moves along)."""
    while True:
        left = 2 * i + 1
        if left >= size:
            return
        big = left
        if left + 1 < size and keys[left + 1] > keys[left]:
            big = left + 1
        if keys[big] <= keys[i]:
            return
        keys[i], keys[big] = keys[big], keys[i]
        idx[i], idx[big] = idx[big], idx[i]
        i = big


@njit(cache=True, nogil=True)
def _sift_up(keys, idx, i):
    while i > 0:
        parent = (i - 1) // 2
        if keys[parent] >= keys[i]:
            return
        keys[i], keys[parent] = keys[parent], keys[i]
        idx[i], idx[parent] = idx[parent], idx[i]
        i = parent


@njit(cache=True, nogil=True)
def _pick_uniform(state, start, deg, f, replace, mark, chosen):
    """Writes the CSC positions of the picked in-edges to ``chosen``; returns their count."""
    if f < 0 or (not replace and f >= deg):
        for k in range(deg):
            chosen[k] = start + k
        return deg
    if replace:
        for k in range(f):
            chosen[k] = start + randint(state, deg)
        return f
    c = 0
    for j in range(deg - f, deg):  # Floyd: a uniform f-subset of [0, deg)
        t = randint(state, j + 1)
        if mark[t]:
            t = j
        mark[t] = True
        chosen[c] = start + t
        c += 1
    for k in range(c):
        mark[chosen[k] - start] = False
    return c


@njit(cache=True, nogil=True)
def _pick_weighted(state, weight, start, deg, f, replace, work, chosen):
    """Weighted selection (see the module docstring); zero-weight edges are never picked."""
    positive = 0
    total = 0.0
    for k in range(deg):
        w = weight[start + k]
        if w > 0:
            positive += 1
            total += w
        work[k] = total
    if positive == 0:
        return 0
    if f < 0 or (not replace and f >= positive):
        c = 0
        for k in range(deg):
            if weight[start + k] > 0:
                chosen[c] = start + k
                c += 1
        return c
    if replace:
        for s in range(f):
            r = uniform(state) * total
            lo = 0
            hi = deg - 1
            while lo < hi:
                mid = (lo + hi) // 2
                if work[mid] > r:
                    hi = mid
                else:
                    lo = mid + 1
            while weight[start + lo] <= 0:  # round-off at the very top of the range
                lo -= 1
            chosen[s] = start + lo
        return f
    size = 0
    for k in range(deg):
        w = weight[start + k]
        if w <= 0:
            continue
        key = -math.log(1.0 - uniform(state)) / w  # Exponential(rate w)
        if size < f:
            work[size] = key
            chosen[size] = start + k
            _sift_up(work, chosen, size)
            size += 1
        elif key < work[0]:
            work[0] = key
            chosen[0] = start + k
            _sift_down(work, chosen, size, 0)
    return size


@njit(cache=True, nogil=True)
def sample_neighbors_kernel(
    indptr, indices, weight, seeds, fanouts, replace, weighted, disjoint, state, node_map, mark,
    work, chosen,
):  # fmt: skip
    """Multi-hop neighbour sampling with fused relabelling.

    Args:
        indptr, indices, weight: The CSC store (``weight`` may be empty when unweighted).
        seeds: int64 ``[B]`` seed node ids.
        fanouts: int64 ``[H]`` per-hop fanouts (``-1`` = all).
        replace, weighted, disjoint: Sampling flags.
        state: uint64 ``[1]`` generator state.
        node_map: int32 ``[N]`` all ``-1``; restored before returning.
        mark: bool ``[D]`` all False; restored before returning.
        work, chosen: Workspaces of at least ``max(D, max(fanouts))`` entries.

    Returns:
        ``(n_id, batch, senders, receivers, pos, hop_nodes, hop_edges, duplicate)``: global ids
        ``[N_s]``, seed index per node (``disjoint``; else empty), local edge ends and CSC
        positions ``[E_s]``, counts per hop (``[H + 1]`` and ``[H]``), and the position of a
        repeated seed (non-disjoint mode rejects them; ``-1`` when there is none, in which case
        the other outputs are empty).
    """
    num_hops = fanouts.shape[0]
    num_seeds = seeds.shape[0]
    cap = max(64, 4 * num_seeds)
    nodes = np.empty(cap, np.int64)
    node_hop = np.empty(cap, np.int32)
    node_group = np.empty(cap if disjoint else 0, np.int64)
    src = np.empty(cap, np.int32)
    dst = np.empty(cap, np.int32)
    pos = np.empty(cap, np.int64)
    edge_hop = np.empty(cap, np.int32)
    n = 0
    m = 0
    groups = num_seeds if disjoint else 1
    for g in range(groups):
        lo = g if disjoint else 0
        hi = g + 1 if disjoint else num_seeds
        group_start = n
        if disjoint:
            nodes = _reserve(nodes, n, n + 1)
            node_hop = _reserve(node_hop, n, n + 1)
            node_group = _reserve(node_group, n, n + 1)
        for i in range(lo, hi):
            s = seeds[i]
            if node_map[s] >= 0:
                for k in range(group_start, n):
                    node_map[nodes[k]] = -1
                empty = np.empty(0, np.int64)
                return (empty, empty, np.empty(0, np.int32), np.empty(0, np.int32), empty,
                        empty, empty, i)  # fmt: skip
            node_map[s] = n
            nodes[n] = s
            node_hop[n] = 0
            if disjoint:
                node_group[n] = g
            n += 1
        begin = group_start
        end = n
        for h in range(num_hops):
            f = fanouts[h]
            need = 0
            for i in range(begin, end):
                v = nodes[i]
                deg = indptr[v + 1] - indptr[v]
                if deg == 0:
                    continue
                if f < 0:
                    need += deg
                elif replace:
                    need += f
                else:
                    need += min(f, deg)
            nodes = _reserve(nodes, n, n + need)
            node_hop = _reserve(node_hop, n, n + need)
            if disjoint:
                node_group = _reserve(node_group, n, n + need)
            src = _reserve(src, m, m + need)
            dst = _reserve(dst, m, m + need)
            pos = _reserve(pos, m, m + need)
            edge_hop = _reserve(edge_hop, m, m + need)
            for i in range(begin, end):
                v = nodes[i]
                start = indptr[v]
                deg = indptr[v + 1] - start
                if deg == 0:
                    continue
                if weighted:
                    c = _pick_weighted(state, weight, start, deg, f, replace, work, chosen)
                else:
                    c = _pick_uniform(state, start, deg, f, replace, mark, chosen)
                for k in range(c):
                    p = chosen[k]
                    u = indices[p]
                    j = node_map[u]
                    if j < 0:
                        j = n
                        node_map[u] = n
                        nodes[n] = u
                        node_hop[n] = h + 1
                        if disjoint:
                            node_group[n] = g
                        n += 1
                    src[m] = j
                    dst[m] = i
                    pos[m] = p
                    edge_hop[m] = h + 1
                    m += 1
            begin = end
            end = n
        for k in range(group_start, n):
            node_map[nodes[k]] = -1

    hop_nodes = np.zeros(num_hops + 1, np.int64)
    for k in range(n):
        hop_nodes[node_hop[k]] += 1
    hop_edges = np.zeros(num_hops + 1, np.int64)
    for k in range(m):
        hop_edges[edge_hop[k]] += 1
    if not disjoint:  # a single expansion is already ordered by hop
        return (nodes[:n], node_group, src[:m], dst[:m], pos[:m], hop_nodes, hop_edges[1:],
                np.int64(-1))  # fmt: skip

    # Disjoint trees were expanded one after the other: a stable counting sort by hop puts
    # them in PyG's order (hop-major, seed-minor) and relabels the edge ends.
    offset = np.zeros(num_hops + 2, np.int64)
    for h in range(num_hops + 1):
        offset[h + 1] = offset[h] + hop_nodes[h]
    new_id = np.empty(n, np.int64)
    out_nodes = np.empty(n, np.int64)
    out_group = np.empty(n, np.int64)
    for k in range(n):
        t = offset[node_hop[k]]
        offset[node_hop[k]] = t + 1
        new_id[k] = t
        out_nodes[t] = nodes[k]
        out_group[t] = node_group[k]
    eoffset = np.zeros(num_hops + 2, np.int64)
    for h in range(num_hops + 1):
        eoffset[h + 1] = eoffset[h] + hop_edges[h]
    out_src = np.empty(m, np.int32)
    out_dst = np.empty(m, np.int32)
    out_pos = np.empty(m, np.int64)
    for k in range(m):
        t = eoffset[edge_hop[k]]
        eoffset[edge_hop[k]] = t + 1
        out_src[t] = new_id[src[k]]
        out_dst[t] = new_id[dst[k]]
        out_pos[t] = pos[k]
    return out_nodes, out_group, out_src, out_dst, out_pos, hop_nodes, hop_edges[1:], np.int64(-1)
