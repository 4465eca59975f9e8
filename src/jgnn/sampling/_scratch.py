"""Per-thread scratch buffers for the sampling kernels (reused across calls, never pickled).

The main buffer is a global ``[N]`` node map (``-1`` = not in the subgraph) that relabels
nodes while they are sampled; kernels reset exactly the entries they set before returning, so
a call costs O(subgraph) and not O(N). Each thread owns its buffers, which makes the samplers
thread-safe with GIL-free (``nogil``) kernels; a call that raised leaves its buffers marked
dirty and the next call on that thread allocates fresh ones.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["Scratch", "ScratchPool"]


class Scratch:
    """Buffers of one thread.

    Attributes:
      node_map: int32 ``[N]``, all ``-1`` between calls.
      mark: bool ``[D]`` (``D`` = largest in-degree), all False between calls.
      work: float64 ``[W]`` free workspace.
      chosen: int64 ``[W]`` free workspace.
    """

    __slots__ = ("node_map", "mark", "work", "chosen", "dirty")

    def __init__(self, num_nodes: int, max_degree: int, work_size: int) -> None:
        self.node_map = np.full(num_nodes, -1, np.int32)
        self.mark = np.zeros(max(max_degree, 1), np.bool_)
        self.work = np.empty(max(work_size, 1), np.float64)
        self.chosen = np.empty(max(work_size, 1), np.int64)
        self.dirty = False


class ScratchPool:
    """Hands each thread its own :class:`Scratch` (created on first use).

    Args:
        num_nodes: ``N`` (size of the node map).
        max_degree: Size of the ``mark`` buffer (largest in-degree).
        work_size: Size of ``work`` and ``chosen``.
    """

    def __init__(self, num_nodes: int, max_degree: int = 0, work_size: int = 0) -> None:
        self._sizes = (int(num_nodes), int(max_degree), int(work_size))
        self._local = threading.local()

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Scratch]:
        """Yields this thread's buffers; they are replaced if the body raises."""
        scratch = getattr(self._local, "scratch", None)
        if scratch is None or scratch.dirty:
            scratch = Scratch(*self._sizes)
            self._local.scratch = scratch
        scratch.dirty = True
        yield scratch
        scratch.dirty = False

    def __getstate__(self) -> tuple[int, int, int]:
        return self._sizes

    def __setstate__(self, sizes: Any) -> None:
        self._sizes = tuple(sizes)
        self._local = threading.local()
