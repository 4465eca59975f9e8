"""Small batch sources for the loader tests (importable by spawned worker processes).

They follow the ``jgnn.sampling.BatchSource`` protocol: ``len()`` batches per epoch and
``get(epoch, index)`` deterministic in ``(seed, epoch, index)``.
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from jgnn.sampling import SampledSubgraph


def random_graph(num_nodes: int, num_edges: int, seed: int = 0) -> np.ndarray:
    """``[2, E]`` random directed edges without self loops (duplicates allowed)."""
    rng = np.random.default_rng(seed)
    src = rng.integers(0, num_nodes, num_edges)
    dst = (src + rng.integers(1, num_nodes, num_edges)) % num_nodes
    return np.stack([src, dst]).astype(np.int64)


class HopSource:
    """Brute-force full in-neighbourhood sampler: ``num_hops`` hops around random seeds.

    Batch ``(epoch, index)`` draws between ``min_seeds`` and ``max_seeds`` distinct seeds
    from ``(seed, epoch, index)``; hop ``k`` takes every in-edge ``j -> i`` of every node
    ``i`` added at hop ``k - 1`` (PyG semantics with fanout -1): new nodes ``j`` are appended
    in edge order, nodes already present keep their id.

    ``fail`` makes batch ``fail_index`` misbehave: ``"raise"`` raises ``KeyError``,
    ``"hang"`` sleeps ``hang_s``, ``"kill"`` SIGKILLs its own process (only in a worker).
    """

    def __init__(
        self,
        edge_index: np.ndarray,
        num_nodes: int,
        *,
        num_batches: int = 12,
        num_hops: int = 2,
        min_seeds: int = 2,
        max_seeds: int = 8,
        seed: int = 0,
        weights: bool = False,
        fail: str | None = None,
        fail_index: int = 3,
        hang_s: float = 30.0,
    ) -> None:
        self.edge_index = np.asarray(edge_index)
        self.num_nodes = num_nodes
        self.num_batches = num_batches
        self.num_hops = num_hops
        self.min_seeds, self.max_seeds = min_seeds, max_seeds
        self.seed = seed
        self.weights = weights
        self.fail, self.fail_index, self.hang_s = fail, fail_index, hang_s
        self.parent_pid = os.getpid()

    def __len__(self) -> int:
        return self.num_batches

    def _misbehave(self, index: int) -> None:
        if self.fail is None or index != self.fail_index:
            return
        if self.fail == "raise":
            raise KeyError(f"planted failure at batch {index}")
        if self.fail == "hang":
            time.sleep(self.hang_s)
        if self.fail == "kill" and os.getpid() != self.parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    def get(self, epoch: int, index: int) -> SampledSubgraph:
        self._misbehave(index)
        rng = np.random.default_rng([self.seed, epoch, index])
        k = int(rng.integers(self.min_seeds, self.max_seeds + 1))
        seeds = rng.choice(self.num_nodes, size=k, replace=False)
        local = {int(v): i for i, v in enumerate(seeds)}
        n_id = [int(v) for v in seeds]
        frontier = list(n_id)
        senders, receivers, e_id = [], [], []
        nodes_per_hop, edges_per_hop = [k], []
        src, dst = self.edge_index
        for _ in range(self.num_hops):
            new, count = [], 0
            for i in frontier:
                for e in np.flatnonzero(dst == i):
                    j = int(src[e])
                    if j not in local:
                        local[j] = len(n_id)
                        n_id.append(j)
                        new.append(j)
                    senders.append(local[j])
                    receivers.append(local[i])
                    e_id.append(int(e))
                    count += 1
            nodes_per_hop.append(len(new))
            edges_per_hop.append(count)
            frontier = new
        e = len(senders)
        return SampledSubgraph(
            n_id=np.asarray(n_id, np.int64),
            e_id=np.asarray(e_id, np.int64),
            senders=np.asarray(senders, np.int32).reshape(e),
            receivers=np.asarray(receivers, np.int32).reshape(e),
            batch_size=k,
            num_sampled_nodes=tuple(nodes_per_hop),
            num_sampled_edges=tuple(edges_per_hop),
            edge_weight=rng.random(e).astype(np.float32) if self.weights else None,
        )


class InducedSource:
    """Induced subgraphs of random node sets of varying size (one hop block, cluster-like).

    Batch ``(epoch, index)``: between ``min_nodes`` and ``max_nodes`` distinct random nodes,
    the first ``batch_size`` of them the seeds, and every edge of the graph between them.
    """

    def __init__(
        self,
        edge_index: np.ndarray,
        num_nodes: int,
        *,
        num_batches: int = 10,
        min_nodes: int = 10,
        max_nodes: int = 40,
        batch_size: int = 4,
        seed: int = 0,
    ) -> None:
        self.edge_index = np.asarray(edge_index)
        self.num_nodes = num_nodes
        self.num_batches = num_batches
        self.min_nodes, self.max_nodes = min_nodes, max_nodes
        self.batch_size = batch_size
        self.seed = seed

    def __len__(self) -> int:
        return self.num_batches

    def get(self, epoch: int, index: int) -> SampledSubgraph:
        rng = np.random.default_rng([self.seed, epoch, index, 7])
        n = int(rng.integers(self.min_nodes, self.max_nodes + 1))
        n_id = rng.choice(self.num_nodes, size=n, replace=False)
        local = np.full(self.num_nodes, -1)
        local[n_id] = np.arange(n)
        src, dst = self.edge_index
        keep = np.flatnonzero((local[src] >= 0) & (local[dst] >= 0))
        return SampledSubgraph(
            n_id=n_id.astype(np.int64),
            e_id=keep.astype(np.int64),
            senders=local[src[keep]].astype(np.int32),
            receivers=local[dst[keep]].astype(np.int32),
            batch_size=self.batch_size,
            num_sampled_nodes=(n,),
            num_sampled_edges=(int(keep.shape[0]),),
            node_weight=rng.random(n).astype(np.float32),
        )
