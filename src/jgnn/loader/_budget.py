"""Padding budgets: per-hop padded sizes fitted from a source's own output, and a ladder of them.

``jit`` compiles once per input shape, so sampled subgraphs of varying size must be padded to a
few fixed shapes. A :class:`Rung` is one such shape: how many node slots each hop block gets
and how many edge slots each hop's edges get. A :class:`Budget` is a short ladder of rungs
fitted from measured percentiles of a source's batches (TF-GNN's ``SizeConstraints`` idea:
budgets are data, learned once, saved, reused). A batch takes the smallest rung that holds
every one of its hop blocks; past the last rung, :meth:`Budget.grow` makes a larger rung that
depends only on the ladder and the batch, so every worker process makes the same one.

Why not :class:`jgnn.graph.BucketPolicy`: it rounds the *total* node/edge counts and
:func:`jgnn.graph.pad_graph` sends every padding edge into one padding node; a sampled
subgraph needs one budget per hop (so finished hops can be trimmed with static slices) and
padding edges spread over many padding nodes. Both are described in
:func:`jgnn.loader.pad_subgraph`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from jgnn.loader._checks import check_int, hop_counts

__all__ = ["Budget", "Rung"]

_FORMAT = 1
_MAX_GROW_STEPS = 256


def _round_up(x: int, multiple: int) -> int:
    return multiple * math.ceil(x / multiple)


def _blocks(value: Any, name: str, *, nonempty: bool) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"`{name}` must be a sequence of ints, got {type(value).__name__}.")
    out = tuple(check_int(v, f"{name}[{i}]", minimum=0) for i, v in enumerate(value))
    if nonempty and not out:
        raise ValueError(f"`{name}` must hold at least one block, got {out}.")
    return out


@dataclasses.dataclass(frozen=True)
class Rung:
    """One padded shape: node slots per hop block, edge slots per hop block.

    A batch with real per-hop counts ``(n_0, ..., n_H)`` nodes and ``(e_1, ..., e_H)`` edges
    fits when ``n_k <= nodes[k]``, ``e_k <= edges[k-1]`` and ``n_0 < nodes[0]``: block 0
    always keeps at least one padding node, a dummy node that every hop's padding edges can
    reach (as jraph's padding graph does).

    Attributes:
        nodes: Padded node count of each hop block, hop 0 (the seeds) first.
        edges: Padded edge count of each hop's edges, hop 1 first.

    Examples:
        >>> r = Rung((8, 16), (32,))
        >>> r.num_nodes, r.num_edges, r.fits((4, 10), (30,)), r.fits((8, 10), (30,))
        (24, 32, True, False)
    """

    nodes: tuple[int, ...]
    edges: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", _blocks(self.nodes, "nodes", nonempty=True))
        object.__setattr__(self, "edges", _blocks(self.edges, "edges", nonempty=False))
        if self.nodes[0] < 1:
            raise ValueError(
                f"`nodes[0]` must be >= 1 (block 0 keeps a padding node), got {self.nodes}."
            )

    @property
    def num_nodes(self) -> int:
        """Total padded node count ``N = sum(nodes)``."""
        return sum(self.nodes)

    @property
    def num_edges(self) -> int:
        """Total padded edge count ``E = sum(edges)``."""
        return sum(self.edges)

    def fits(self, nodes: Sequence[int], edges: Sequence[int]) -> bool:
        """Whether real per-hop counts fit this rung (see the class docstring).

        Args:
            nodes: Real nodes per hop, hop 0 first.
            edges: Real edges per hop, hop 1 first.

        Returns:
            True when every block fits and block 0 keeps a padding node.

        Raises:
            ValueError: If the number of hops differs from the rung's.
        """
        self._check_hops(nodes, edges)
        return (
            nodes[0] < self.nodes[0]
            and all(c <= b for c, b in zip(nodes, self.nodes, strict=True))
            and all(c <= b for c, b in zip(edges, self.edges, strict=True))
        )

    def _check_hops(self, nodes: Sequence[int], edges: Sequence[int]) -> None:
        if len(nodes) != len(self.nodes) or len(edges) != len(self.edges):
            raise ValueError(
                f"the batch has {len(nodes)} node hop blocks and {len(edges)} edge hop blocks "
                f"(nodes {tuple(nodes)}, edges {tuple(edges)}) but the budget has "
                f"{len(self.nodes)} and {len(self.edges)}; fit the budget on this source."
            )

    def to_dict(self) -> dict[str, list[int]]:
        """``{"nodes": [...], "edges": [...]}`` (JSON-serialisable)."""
        return {"nodes": list(self.nodes), "edges": list(self.edges)}


def _scaled(blocks: Sequence[float], factor: float, multiple: int) -> tuple[int, ...]:
    return tuple(_round_up(math.ceil(b * factor - 1e-9), multiple) for b in blocks)


@dataclasses.dataclass(frozen=True)
class Budget:
    """A ladder of :class:`Rung` s, smallest first, and how to grow past the last one.

    Fit one with :meth:`fit` (from a source) or :meth:`from_counts` (from measured counts),
    save it with :meth:`to_dict` and rebuild it with :meth:`from_dict`. Rungs must have the
    same number of blocks and be non-decreasing in every block.

    Attributes:
        rungs: The ladder, smallest first.
        growth: Factor between rungs made by :meth:`grow` (> 1).
        multiple: Every size made by :meth:`grow` (and by the fitters) is rounded up to a
            multiple of this.

    Examples:
        >>> b = Budget.from_counts([[4, 10], [4, 14]], [[20], [30]], percentile=50.0,
        ...                        num_rungs=2, growth=2.0, multiple=1)
        >>> [r.to_dict() for r in b.rungs]
        [{'nodes': [5, 12], 'edges': [25]}, {'nodes': [10, 24], 'edges': [50]}]
        >>> b.rung_for((4, 13), (40,)) == b.rungs[1], b.rung_for((4, 30), (40,))
        (True, None)
    """

    rungs: tuple[Rung, ...]
    growth: float = 1.25
    multiple: int = 8

    def __post_init__(self) -> None:
        rungs = tuple(self.rungs)
        if not rungs or not all(isinstance(r, Rung) for r in rungs):
            raise TypeError(f"`rungs` must be a non-empty sequence of Rung, got {self.rungs!r}.")
        object.__setattr__(self, "rungs", rungs)
        if not isinstance(self.growth, int | float) or not self.growth > 1.0:
            raise ValueError(f"`growth` must be a number > 1, got {self.growth!r}.")
        object.__setattr__(self, "growth", float(self.growth))
        object.__setattr__(self, "multiple", check_int(self.multiple, "multiple", minimum=1))
        first = rungs[0]
        for i, (lo, hi) in enumerate(zip(rungs, rungs[1:], strict=False)):
            if len(hi.nodes) != len(first.nodes) or len(hi.edges) != len(first.edges):
                raise ValueError(
                    f"every rung needs the blocks of rungs[0] ({len(first.nodes)} node and "
                    f"{len(first.edges)} edge blocks), rungs[{i + 1}] is {hi.to_dict()}."
                )
            if any(a > b for a, b in zip(lo.nodes + lo.edges, hi.nodes + hi.edges, strict=True)):
                raise ValueError(
                    f"rungs must be non-decreasing in every block: rungs[{i}] = {lo.to_dict()} "
                    f"exceeds rungs[{i + 1}] = {hi.to_dict()} somewhere."
                )

    # ---------------------------------------------------------------- choosing and growing

    def rung_for(self, nodes: Sequence[int], edges: Sequence[int]) -> Rung | None:
        """The smallest rung that fits the counts, or None when the batch overflows the ladder.

        Args:
            nodes: Real nodes per hop, hop 0 first.
            edges: Real edges per hop, hop 1 first.

        Returns:
            A rung of the ladder, or None.

        Raises:
            ValueError: If the number of hops differs from the budget's.
        """
        for rung in self.rungs:
            if rung.fits(nodes, edges):
                return rung
        return None

    def grow(self, nodes: Sequence[int], edges: Sequence[int]) -> Rung:
        """A rung past the ladder that fits the counts: the last rung scaled by ``growth**k``.

        ``k >= 1`` is the smallest power that fits; blocks of size 0 grow from ``multiple``.
        The result depends only on the budget and the counts, so separate worker processes
        make the same rung for the same batch, and the number of grown shapes is logarithmic
        in the overflow.

        Args:
            nodes: Real nodes per hop, hop 0 first.
            edges: Real edges per hop, hop 1 first.

        Returns:
            The grown rung.

        Raises:
            ValueError: If the number of hops differs from the budget's.
        """
        last = self.rungs[-1]
        base_n = [max(b, self.multiple) for b in last.nodes]
        base_e = [max(b, self.multiple) for b in last.edges]
        for k in range(1, _MAX_GROW_STEPS):
            factor = self.growth**k
            rung = Rung(
                _scaled(base_n, factor, self.multiple), _scaled(base_e, factor, self.multiple)
            )
            if rung.fits(nodes, edges):
                return rung
        raise ValueError(  # only reachable for absurd counts (growth**256 times the ladder)
            f"cannot grow the budget to nodes {tuple(nodes)}, edges {tuple(edges)}."
        )

    def extended(self, rungs: Sequence[Rung]) -> Budget:
        """A budget whose ladder also holds ``rungs`` (e.g. the ones a loader had to grow).

        Args:
            rungs: Rungs to add; they must be comparable with the ladder in every block.

        Returns:
            The new budget (rungs sorted by total size, duplicates dropped).

        Raises:
            ValueError: If the merged ladder is not non-decreasing in every block.
        """
        merged = sorted(set(self.rungs) | set(rungs), key=lambda r: (r.num_nodes, r.num_edges))
        return Budget(tuple(merged), self.growth, self.multiple)

    # ---------------------------------------------------------------- fitting

    @classmethod
    def from_counts(
        cls,
        nodes: Any,
        edges: Any,
        *,
        percentile: float = 99.0,
        num_rungs: int = 3,
        growth: float = 1.25,
        multiple: int = 8,
    ) -> Budget:
        """Fits a ladder from measured per-hop counts.

        Host-side: not jittable. Rung 0 holds ``ceil(np.percentile(counts, percentile,
        axis=0))`` in every block (plus the padding node of block 0), rung ``i`` that times
        ``growth**i``, each rounded up to ``multiple``; rungs that round to the same sizes are
        merged.

        Args:
            nodes: ``[k, H_n]`` real nodes per hop of ``k`` measured batches.
            edges: ``[k, H_e]`` real edges per hop of the same batches.
            percentile: Percentile in ``(0, 100]`` that rung 0 covers in every block.
            num_rungs: Number of rungs (>= 1).
            growth: Factor between rungs, and of :meth:`grow` (> 1).
            multiple: Rounding multiple (>= 1).

        Returns:
            The budget.

        Raises:
            ValueError: If the count arrays are not ``[k, H]`` with the same ``k >= 1``, or a
                parameter is out of range.
        """
        n = np.asarray(nodes, dtype=np.int64)
        e = np.asarray(edges, dtype=np.int64)
        if n.ndim != 2 or e.ndim != 2 or n.shape[0] != e.shape[0] or n.shape[0] < 1:
            raise ValueError(
                f"`nodes` and `edges` must be [k, H_n] and [k, H_e] count arrays with the same "
                f"k >= 1, got shapes {n.shape} and {e.shape}."
            )
        if not isinstance(percentile, int | float) or not 0.0 < percentile <= 100.0:
            raise ValueError(f"`percentile` must be in (0, 100], got {percentile!r}.")
        num_rungs = check_int(num_rungs, "num_rungs", minimum=1)
        multiple = check_int(multiple, "multiple", minimum=1)
        base_n = np.ceil(np.percentile(n, percentile, axis=0)).astype(np.int64)
        base_e = np.ceil(np.percentile(e, percentile, axis=0)).astype(np.int64)
        base_n[0] += 1  # the padding node block 0 always keeps
        rungs: list[Rung] = []
        for i in range(num_rungs):
            factor = float(growth) ** i
            rung = Rung(_scaled(base_n, factor, multiple), _scaled(base_e, factor, multiple))
            if not rungs or rung != rungs[-1]:
                rungs.append(rung)
        return cls(tuple(rungs), growth, multiple)

    @classmethod
    def fit(
        cls,
        source: Any,
        *,
        num_batches: int = 32,
        percentile: float = 99.0,
        num_rungs: int = 3,
        growth: float = 1.25,
        multiple: int = 8,
        epoch: int = 0,
    ) -> Budget:
        """Pre-samples batches of ``source`` and fits a ladder to them (:meth:`from_counts`).

        Host-side: not jittable. Samples ``min(num_batches, len(source))`` batches of
        ``epoch`` at evenly spaced indices (all of them when ``num_batches >= len(source)``).

        Args:
            source: A batch source (``len(source)`` and ``source.get(epoch, index)`` returning
                a ``jgnn.sampling.SampledSubgraph``).
            num_batches: How many batches to measure (>= 1).
            percentile: See :meth:`from_counts`.
            num_rungs: See :meth:`from_counts`.
            growth: See :meth:`from_counts`.
            multiple: See :meth:`from_counts`.
            epoch: Epoch whose batches are measured.

        Returns:
            The budget.

        Raises:
            ValueError: If the source is empty, or its batches disagree on the number of hops.
        """
        indices = sample_indices(len(source), check_int(num_batches, "num_batches", minimum=1))
        counts = [hop_counts(source.get(epoch, int(i))) for i in indices]
        for i, (nodes, edges) in zip(indices, counts, strict=True):
            if len(nodes) != len(counts[0][0]) or len(edges) != len(counts[0][1]):
                raise ValueError(
                    f"batch {int(i)} has {len(nodes)} node and {len(edges)} edge hop blocks, "
                    f"batch {int(indices[0])} has {len(counts[0][0])} and {len(counts[0][1])}."
                )
        return cls.from_counts(
            [c[0] for c in counts],
            [c[1] for c in counts],
            percentile=percentile,
            num_rungs=num_rungs,
            growth=growth,
            multiple=multiple,
        )

    # ---------------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (for checkpoints); :meth:`from_dict` reads it back."""
        return {
            "format": _FORMAT,
            "rungs": [r.to_dict() for r in self.rungs],
            "growth": self.growth,
            "multiple": self.multiple,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Budget:
        """Rebuilds a budget written by :meth:`to_dict`.

        Args:
            data: The dict.

        Returns:
            The budget.

        Raises:
            ValueError: If ``data`` is not a budget dict of a known format.
        """
        if not isinstance(data, dict) or data.get("format") != _FORMAT or "rungs" not in data:
            raise ValueError(
                f"expected a dict from Budget.to_dict() with format {_FORMAT}, got {data!r}."
            )
        rungs = tuple(Rung(tuple(r["nodes"]), tuple(r["edges"])) for r in data["rungs"])
        return cls(rungs, data["growth"], data["multiple"])


def sample_indices(num_batches: int, k: int) -> np.ndarray:
    """``min(k, num_batches)`` evenly spaced batch indices in ``[0, num_batches)``.

    Host-side: not jittable.

    Args:
        num_batches: Batches per epoch (>= 1).
        k: Indices wanted (>= 1).

    Returns:
        Sorted unique int64 indices.

    Raises:
        ValueError: If ``num_batches < 1``.
    """
    if num_batches < 1:
        raise ValueError(f"the source has {num_batches} batches; expected at least one.")
    if k >= num_batches:
        return np.arange(num_batches, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, num_batches - 1, k)).astype(np.int64))
