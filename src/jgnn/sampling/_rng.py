"""Counter-based randomness for the samplers: 64-bit keys from integers, a numba generator.

Every random decision of a sampler call comes from one 64-bit key derived from integers
(sampler seed, call ``rng``; or source seed, epoch, batch index) with
``numpy.random.SeedSequence``, never from hidden global state. So a batch is the same in any
worker process, on any thread, in any order.

Inside numba kernels the key seeds a SplitMix64 stream (Steele, Lea and Flood, 2014: a 64-bit
Weyl sequence through a bijective mixer; period ``2**64``, passes BigCrush). Its whole state is
one ``uint64`` in a length-1 array.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from numba import njit

from jgnn.sampling._checks import check_int

__all__ = [
    "TAG_BATCH",
    "TAG_EPOCH",
    "TAG_NORM",
    "TAG_SAMPLE",
    "CallKeys",
    "mix",
    "new_state",
    "next_u64",
    "randint",
    "uniform",
]

# Domain tags: keys for different purposes never coincide even for equal integers.
TAG_SAMPLE = 0x5A4D
TAG_EPOCH = 0xE90C
TAG_BATCH = 0xBA7C
TAG_NORM = 0x4E06

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0


def mix(*values: int) -> int:
    """Hashes non-negative integers into a 64-bit key (``SeedSequence`` entropy mixing).

    Host-side.

    Args:
        *values: Non-negative Python ints (a domain tag first, by convention).

    Returns:
        A Python int in ``[0, 2**64)``.
    """
    words = np.random.SeedSequence(list(values)).generate_state(2, np.uint32)
    return (int(words[0]) << 32) | int(words[1])


class CallKeys:
    """Turns a sampler's ``seed`` and a call's ``rng`` argument into the call's 64-bit key.

    ``rng`` may be an int (the usual case: batch sources pass one derived from
    ``(seed, epoch, index)``), a ``numpy.random.Generator`` (one integer is drawn from it), a
    ``numpy.random.SeedSequence`` (one word of its state is used) or None: then the key comes
    from a generator owned by the sampler and seeded with ``seed``, so successive calls differ
    and a fresh sampler repeats the sequence (not meaningful across worker processes: pass
    ``rng`` there).

    Args:
        seed: Non-negative int.

    Raises:
        TypeError, ValueError: If ``seed`` is not a non-negative int.
    """

    def __init__(self, seed: int) -> None:
        self.seed = check_int(seed, "seed", minimum=0)
        self._generator = np.random.default_rng(self.seed)
        self._lock = threading.Lock()

    def __call__(self, rng: Any) -> int:
        """Returns the key of one call (see the class docstring for ``rng``)."""
        if rng is None:
            with self._lock:
                value = int(self._generator.integers(0, 2**63))
        elif isinstance(rng, np.random.Generator):
            value = int(rng.integers(0, 2**63))
        elif isinstance(rng, np.random.SeedSequence):
            value = int(rng.generate_state(1, np.uint64)[0])
        else:
            try:
                value = check_int(rng, "rng", minimum=0)
            except TypeError:
                raise TypeError(
                    "`rng` must be None, a non-negative int, a numpy.random.Generator or a "
                    f"numpy.random.SeedSequence, got {type(rng).__name__} {rng!r}."
                ) from None
        return mix(TAG_SAMPLE, self.seed, value)

    def __getstate__(self) -> dict[str, Any]:
        return {"seed": self.seed, "generator": self._generator.bit_generator.state}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.seed = state["seed"]
        self._generator = np.random.default_rng(self.seed)
        self._generator.bit_generator.state = state["generator"]
        self._lock = threading.Lock()


def new_state(key: int) -> np.ndarray:
    """The numba generator state for a 64-bit key: a ``uint64[1]`` array."""
    return np.array([key], dtype=np.uint64)


@njit(cache=True, nogil=True)
def next_u64(state):
    """Advances SplitMix64 and returns the next 64-bit output."""
    s = state[0] + _GAMMA
    state[0] = s
    z = (s ^ (s >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True)
def uniform(state):
    """A float64 uniform in ``[0, 1)`` with 53 random bits."""
    return np.float64(next_u64(state) >> _S11) * _TWO_M53


@njit(cache=True, nogil=True)
def randint(state, n):
    """A uniform integer in ``[0, n)`` for ``0 < n < 2**53`` (bias below ``n / 2**53``)."""
    r = np.int64(uniform(state) * n)
    return r if r < n else n - 1
