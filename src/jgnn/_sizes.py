"""Size ladders for static shapes (private): the one rule for rounding a count up.

Padding a count up to a bounded set of sizes is how jgnn keeps the number of compiled shapes
small: ``jgnn.graph.BucketPolicy`` (padded graphs), the mailbox plans of ``jgnn.ops`` (degree
buckets) and the loaders' budgets all round with the functions here.

A :data:`SizePolicy` is ``"pow2"`` (the next power of two), ``None`` or ``"exact"`` (no
rounding), or a strictly increasing sequence of allowed sizes (the smallest that fits).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

__all__ = ["SizePolicy", "check_ladder", "next_pow2", "round_up", "round_up_multiple"]

SizePolicy = str | Sequence[int] | None
"""``"pow2"``, ``None``/``"exact"`` (no padding) or an increasing sequence of allowed sizes."""


def next_pow2(n: int) -> int:
    """The smallest power of two ``>= n`` (1 for ``n <= 1``)."""
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def round_up_multiple(n: int, k: int) -> int:
    """The smallest multiple of ``k`` that is ``>= n``."""
    return k * math.ceil(n / k)


def check_ladder(policy: Sequence[int], what: str) -> tuple[int, ...]:
    """A strictly increasing tuple of positive sizes, or ``ValueError`` naming ``what``."""
    try:
        sizes = tuple(operator.index(s) for s in policy)
    except TypeError:
        sizes = ()
    if not sizes or any(s < 1 for s in sizes) or list(sizes) != sorted(set(sizes)):
        raise ValueError(
            f"{what} must be 'pow2', None or a strictly increasing sequence of positive ints, "
            f"got {tuple(policy)!r}."
        )
    return sizes


def round_up(n: int, policy: SizePolicy, what: str) -> int:
    """Pads the count ``n`` up under ``policy`` (0 stays 0).

    Raises:
      ValueError: an unknown policy, or a ladder with no size ``>= n``.
    """
    if n == 0 or policy is None or policy == "exact":
        return n
    if policy == "pow2":
        return next_pow2(n)
    if isinstance(policy, str):
        raise ValueError(f"{what} must be 'pow2', None or a sequence of ints, got {policy!r}.")
    sizes = check_ladder(policy, what)
    for s in sizes:
        if s >= n:
            return s
    raise ValueError(f"{what} {sizes} has no size >= {n} (the largest needed).")
