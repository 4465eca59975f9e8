"""What a loader did: padding waste, shapes, skipped batches and how long the step waited."""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from typing import Any

from jgnn.loader._budget import Rung

__all__ = ["LoaderReport"]


@dataclasses.dataclass(frozen=True)
class LoaderReport:
    """Counters of a loader (one epoch iterator, or the whole loader).

    Attributes:
        batches: Batches delivered to the consumer.
        skipped: Batches dropped by ``overflow="skip"``.
        real_nodes: Real node slots over the delivered batches.
        padded_nodes: Padded node slots (``N`` of each batch's rung) over the same batches.
        real_edges: Real (sampled) edges over the delivered batches.
        padded_edges: Padded edge slots over the same batches.
        rungs_used: ``(rung, number of batches)`` per rung used, in order of first use.
        grown: Rungs made past the budget's ladder (``overflow="grow"``).
        host_wait_s: Seconds the consumer spent blocked waiting for the host pipeline.
        first_batch_s: Of those, the wait for the first batch (worker start-up included).
        wall_s: Seconds from the first request for a batch to the last batch delivered.
        sample_s: Seconds spent sampling and padding (summed over workers and threads).
    """

    batches: int = 0
    skipped: int = 0
    real_nodes: int = 0
    padded_nodes: int = 0
    real_edges: int = 0
    padded_edges: int = 0
    rungs_used: tuple[tuple[Rung, int], ...] = ()
    grown: tuple[Rung, ...] = ()
    host_wait_s: float = 0.0
    first_batch_s: float = 0.0
    wall_s: float = 0.0
    sample_s: float = 0.0

    @property
    def num_shapes(self) -> int:
        """Number of distinct batch shapes delivered (compilations of a jitted step)."""
        return len(self.rungs_used)

    @property
    def node_waste(self) -> float:
        """``padded_nodes / real_nodes`` (1.0 is no padding; nan before any batch)."""
        return self.padded_nodes / self.real_nodes if self.real_nodes else float("nan")

    @property
    def edge_waste(self) -> float:
        """``padded_edges / real_edges`` (nan when no real edge was seen)."""
        return self.padded_edges / self.real_edges if self.real_edges else float("nan")

    @property
    def batches_per_s(self) -> float:
        """Delivered batches per second of ``wall_s``."""
        return self.batches / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def sampled_edges_per_s(self) -> float:
        """Real sampled edges delivered per second of ``wall_s``."""
        return self.real_edges / self.wall_s if self.wall_s > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary with the derived rates and ratios."""
        out = dataclasses.asdict(self)
        out["rungs_used"] = [{"rung": r.to_dict(), "batches": c} for r, c in self.rungs_used]
        out["grown"] = [r.to_dict() for r in self.grown]
        for name in ("num_shapes", "node_waste", "edge_waste", "batches_per_s"):
            out[name] = getattr(self, name)
        out["sampled_edges_per_s"] = self.sampled_edges_per_s
        return out


class Stats:
    """Mutable accumulator behind :class:`LoaderReport` (private to the loader)."""

    def __init__(self, ladder: Sequence[Rung]) -> None:
        self._ladder = frozenset(ladder)
        self.rungs: Counter[Rung] = Counter()
        self.grown: list[Rung] = []
        self.fields = dict.fromkeys(
            ("batches", "skipped", "real_nodes", "padded_nodes", "real_edges", "padded_edges"), 0
        )
        self.times = dict.fromkeys(("host_wait_s", "first_batch_s", "wall_s", "sample_s"), 0.0)

    def add_batch(self, rung: Rung, nodes: int, edges: int) -> None:
        """Counts one delivered batch of ``rung`` with ``nodes``/``edges`` real ones."""
        f = self.fields
        f["batches"] += 1
        f["real_nodes"] += nodes
        f["real_edges"] += edges
        f["padded_nodes"] += rung.num_nodes
        f["padded_edges"] += rung.num_edges
        self.rungs[rung] += 1
        if rung not in self._ladder and rung not in self.grown:
            self.grown.append(rung)

    def add_skip(self) -> None:
        """Counts one batch dropped by the ``"skip"`` policy."""
        self.fields["skipped"] += 1

    def add_time(self, name: str, seconds: float) -> None:
        """Adds ``seconds`` to the timer ``name``."""
        self.times[name] += seconds

    def report(self) -> LoaderReport:
        """A frozen snapshot."""
        return LoaderReport(
            **self.fields,
            rungs_used=tuple(self.rungs.items()),
            grown=tuple(self.grown),
            **self.times,
        )
