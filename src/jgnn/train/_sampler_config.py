"""``SamplerConfig``: which mini-batch loader to train with, and its settings, validated once.

One validator (:func:`check_sampler_options`) serves the Python API and the ``jgnn train``
flags: it checks every range and every combination (a setting given to a loader it does not
apply to) and names the setting the way the caller spells it (``num_parts`` or
``--num-parts``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

from jgnn._checks import static_int

__all__ = ["LOADERS", "SAINT_LOADERS", "SamplerConfig", "check_sampler_options"]

SAINT_LOADERS = ("saint-node", "saint-edge", "saint-rw")
#: Every ``loader`` name; ``"full"`` is full-batch training (no sampler).
LOADERS = ("full", "neighbor", "cluster", *SAINT_LOADERS)
_SAMPLED = LOADERS[1:]

#: Setting -> the loaders it applies to.
APPLIES_TO: Mapping[str, tuple[str, ...]] = {
    "num_neighbors": ("neighbor",),
    "batch_size": ("neighbor", *SAINT_LOADERS),
    "num_parts": ("cluster",),
    "parts_per_batch": ("cluster",),
    "walk_length": ("saint-rw",),
    "num_steps": SAINT_LOADERS,
    "sample_coverage": SAINT_LOADERS,
    "num_workers": _SAMPLED,
    "trim": ("neighbor",),
}

DEFAULT_BATCH_SIZE = 1024
#: Default GraphSAINT budget: subgraphs large enough that a node keeps about this many of its
#: in-neighbours on average (a fraction ``KEPT_NEIGHBOURS / mean degree`` of the nodes). Smaller
#: subgraphs make the paper's unbiased estimator useless on sparse graphs (measured on a
#: degree-10 CSBM: 1024 node draws of 20k nodes keep 0.5 neighbours per node and GCN does
#: not train; budgets keeping about 3 come within 1.2 points of full-batch).
KEPT_NEIGHBOURS = 3.0
DEFAULT_WALK_LENGTH = 2
DEFAULT_SAMPLE_COVERAGE = 100.0
NODES_PER_PART = 500  # default num_parts = ceil(N / NODES_PER_PART)
BATCHES_PER_EPOCH = 10  # default parts_per_batch = ceil(num_parts / BATCHES_PER_EPOCH)


def _backticks(field: str) -> str:
    return f"`{field}`"


def _fanouts(value: Any, label: str) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
        raise TypeError(f"{label} must be a list of ints (one fanout per hop), got {value!r}.")
    out = tuple(static_int(f, f"{label}[{i}]", minimum=-1) for i, f in enumerate(value))
    if not out or any(f == 0 for f in out):
        raise ValueError(
            f"{label} must list one fanout per hop, each >= 1 or -1 (the whole neighbourhood), "
            f"got {list(out)}."
        )
    return out


def check_sampler_options(
    loader: Any, options: Mapping[str, Any], name: Callable[[str], str] = _backticks
) -> None:
    """Validates a loader name and its settings (those set, i.e. not None).

    Args:
        loader: One of :data:`LOADERS`.
        options: Setting name -> value, None meaning "not set" (the loader's default).
        name: How messages spell a setting (default ``` `batch_size` ```; the CLI passes its
            flag spelling, ``--batch-size``).

    Raises:
        ValueError: On an unknown loader or setting, a value out of range, or a setting given
            to a loader it does not apply to.
        TypeError: On a value of the wrong type.
    """
    if loader not in LOADERS:
        raise ValueError(f"{name('loader')} must be one of {list(LOADERS)}, got {loader!r}.")
    for key, value in options.items():
        if key not in APPLIES_TO:
            raise ValueError(
                f"unknown sampler setting {key!r}; expected one of {list(APPLIES_TO)}."
            )
        if value is None:
            continue
        if loader not in APPLIES_TO[key]:
            raise ValueError(
                f"{name(key)} applies only with {name('loader')} {'|'.join(APPLIES_TO[key])}; "
                f"it makes no sense with {name('loader')} {loader}."
            )
        if key == "num_neighbors":
            _fanouts(value, name(key))
        elif key == "trim":
            if not isinstance(value, bool):
                raise TypeError(f"{name(key)} must be a bool, got {value!r}.")
        elif key == "sample_coverage":
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{name(key)} must be a number, got {value!r}.")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name(key)} must be finite and >= 0, got {value}.")
        else:
            static_int(value, name(key), minimum=0 if key == "num_workers" else 1)
    if options.get("num_parts") is not None and options.get("parts_per_batch") is not None:
        if options["parts_per_batch"] > options["num_parts"]:
            raise ValueError(
                f"{name('parts_per_batch')} ({options['parts_per_batch']}) exceeds "
                f"{name('num_parts')} ({options['num_parts']})."
            )


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    """A mini-batch loader and its settings; None takes the loader's default.

    Validated on construction (:func:`check_sampler_options`); :meth:`resolve` fills in the
    defaults for a graph of ``N`` nodes.

    Attributes:
        loader: ``"neighbor"`` (GraphSAGE / PyG ``NeighborLoader``), ``"cluster"``
            (Cluster-GCN), ``"saint-node"``, ``"saint-edge"``, ``"saint-rw"`` (GraphSAINT), or
            ``"full"`` (full-batch, no sampler).
        num_neighbors: Fanout per hop (neighbor; default ``(15, 10)``).
        batch_size: Seeds per batch (neighbor; default 1024), node draws (saint-node), edge
            draws (saint-edge) or walk roots (saint-rw). GraphSAINT's default, given the
            number of edges, makes subgraphs of about ``KEPT_NEIGHBOURS / mean degree`` of
            the nodes (each node keeps about 3 in-neighbours); 1024 without it.
        num_parts: METIS parts (cluster; default ``ceil(N / 500)``).
        parts_per_batch: Parts merged per batch (cluster; default ``ceil(num_parts / 10)``).
        walk_length: Random-walk steps (saint-rw; default 2).
        num_steps: Batches per epoch (saint-*; default: about one pass over the nodes,
            ``ceil(N / (batch_size * k))`` with ``k`` = 1, 2 or ``walk_length + 1`` nodes per
            draw).
        sample_coverage: GraphSAINT norm pre-sampling (saint-*; default 100; 0 disables the
            norms).
        num_workers: Sampler worker processes (default 0: a background thread).
        trim: Trim finished hops layer by layer (neighbor; default False).
        seed: Seed of the batches.

    Raises:
        ValueError, TypeError: See :func:`check_sampler_options`.

    Examples:
        >>> SamplerConfig("cluster").resolve(10_000).num_parts
        20
        >>> SamplerConfig("neighbor", num_parts=4)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: `num_parts` applies only with `loader` cluster; ... `loader` neighbor.
    """

    loader: str = "neighbor"
    num_neighbors: tuple[int, ...] | None = None
    batch_size: int | None = None
    num_parts: int | None = None
    parts_per_batch: int | None = None
    walk_length: int | None = None
    num_steps: int | None = None
    sample_coverage: float | None = None
    num_workers: int | None = None
    trim: bool | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        check_sampler_options(self.loader, self.options())
        if self.num_neighbors is not None:
            object.__setattr__(self, "num_neighbors", tuple(int(f) for f in self.num_neighbors))
        static_int(self.seed, "`seed`", minimum=0)

    def options(self) -> dict[str, Any]:
        """The settings (not ``loader`` and ``seed``) as a dict, None where unset."""
        return {key: getattr(self, key) for key in APPLIES_TO}

    def is_resolved(self) -> bool:
        """Whether every setting of this loader is set (see :meth:`resolve`)."""
        return all(v is not None for k, v in self.options().items() if self.loader in APPLIES_TO[k])

    def resolve(self, num_nodes: int, num_edges: int | None = None) -> SamplerConfig:
        """A copy with every setting of this loader filled in for a graph of ``num_nodes``.

        Args:
            num_nodes: ``N``.
            num_edges: ``E`` (directed), for GraphSAINT's default budget; None: 1024.

        Returns:
            The resolved config (settings of other loaders stay None).
        """
        n = static_int(num_nodes, "`num_nodes`", minimum=1)
        loader, pick = self.loader, dict(self.options())

        def default(key: str, value: Callable[[], Any]) -> None:
            if loader in APPLIES_TO[key] and pick[key] is None:
                pick[key] = value()

        default("num_neighbors", lambda: (15, 10))
        default("num_parts", lambda: min(n, math.ceil(n / NODES_PER_PART)))
        default("parts_per_batch", lambda: math.ceil(pick["num_parts"] / BATCHES_PER_EPOCH))
        default("walk_length", lambda: DEFAULT_WALK_LENGTH)
        per_draw = {"saint-node": 1, "saint-edge": 2, "saint-rw": (pick["walk_length"] or 0) + 1}

        def batch_size() -> int:
            if loader not in SAINT_LOADERS or num_edges is None:
                return DEFAULT_BATCH_SIZE
            edges = static_int(num_edges, "`num_edges`", minimum=0)
            fraction = min(1.0, KEPT_NEIGHBOURS * n / max(edges, 1))
            return max(1, math.ceil(fraction * n / per_draw[loader]))

        default("batch_size", batch_size)
        default("num_steps", lambda: math.ceil(n / (pick["batch_size"] * per_draw[loader])))
        default("sample_coverage", lambda: DEFAULT_SAMPLE_COVERAGE)
        default("num_workers", lambda: 0)
        default("trim", lambda: False)
        return dataclasses.replace(self, **pick)
