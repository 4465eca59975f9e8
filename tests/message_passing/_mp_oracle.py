"""Small random graphs and a dense (mask-based) oracle for the message-passing tests.

Imported by the test modules of this directory (``conftest.py`` puts it on ``sys.path``).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from jgnn.graph import from_edge_index
from jgnn.sparse import SparseTensor


@dataclasses.dataclass(frozen=True)
class Topo:
    """A small graph: ``src``/``dst`` int32 ``[E]`` over ``n_src`` / ``n_dst`` nodes."""

    src: np.ndarray
    dst: np.ndarray
    n_src: int
    n_dst: int

    @property
    def num_edges(self) -> int:
        return int(self.src.shape[0])

    @property
    def edge_index(self) -> np.ndarray:
        return np.stack([self.src, self.dst])

    @property
    def incidence(self) -> np.ndarray:
        """``[n_dst, E]`` bool: ``incidence[i, e]`` iff edge ``e`` ends at node ``i``."""
        return self.dst[None, :] == np.arange(self.n_dst)[:, None]


def random_topo(
    seed: int, n_src: int = 7, n_dst: int | None = None, num_edges: int = 14, unique: bool = True
) -> Topo:
    """Random edges in shuffled order; the last destination node never receives an edge."""
    rng = np.random.default_rng(seed)
    n_dst = n_src if n_dst is None else n_dst
    pairs = np.array([(j, i) for i in range(n_dst - 1) for j in range(n_src)], np.int32)
    if unique:
        take = rng.choice(len(pairs), size=min(num_edges, len(pairs)), replace=False)
    else:
        take = rng.choice(len(pairs), size=num_edges, replace=True)
    src, dst = pairs[take, 0], pairs[take, 1]
    return Topo(src.astype(np.int32), dst.astype(np.int32), n_src, n_dst)


def normal(seed: int, shape: tuple[int, ...], scale: float = 1.0) -> jnp.ndarray:
    """float32 normal samples drawn with NumPy (no XLA compilation for test data)."""
    return jnp.asarray(np.random.default_rng(seed).normal(0.0, scale, shape), jnp.float32)


def uniform(seed: int, shape: tuple[int, ...], lo: float = 0.0, hi: float = 1.0) -> jnp.ndarray:
    """float32 uniform samples drawn with NumPy."""
    return jnp.asarray(np.random.default_rng(seed).uniform(lo, hi, shape), jnp.float32)


def dense_reduce(messages: jnp.ndarray, topo: Topo, aggregate: str) -> jnp.ndarray:
    """Reduces per-edge messages ``[E, *F]`` with a dense ``[n_dst, E, *F]`` mask (jnp, so it
    can be differentiated); nodes without incoming edges give 0. No segment ops involved.
    Jitted (one compilation per shape and aggregate) to keep the suite fast."""
    return _dense_reduce(messages, jnp.asarray(topo.incidence), aggregate)


@functools.partial(jax.jit, static_argnames="aggregate")
def _dense_reduce(messages: jnp.ndarray, inc: jnp.ndarray, aggregate: str) -> jnp.ndarray:
    m = inc.reshape(inc.shape + (1,) * (messages.ndim - 1))
    has = jnp.any(m, axis=1)
    deg = jnp.sum(m, axis=1).astype(messages.dtype)
    safe_deg = jnp.maximum(deg, 1.0)
    big = messages[None]
    zero = jnp.zeros((), messages.dtype)
    total = jnp.sum(jnp.where(m, big, zero), axis=1)
    if aggregate in ("sum", "add"):
        return total
    mean = total / safe_deg
    if aggregate == "mean":
        return mean
    if aggregate == "max":
        return jnp.where(has, jnp.max(jnp.where(m, big, -jnp.inf), axis=1), zero)
    if aggregate == "min":
        return jnp.where(has, jnp.min(jnp.where(m, big, jnp.inf), axis=1), zero)
    if aggregate == "prod":
        return jnp.where(has, jnp.prod(jnp.where(m, big, 1.0), axis=1), zero)
    if aggregate in ("var", "std"):
        dev = jnp.where(m, big - mean[:, None], zero)
        var = jnp.sum(dev * dev, axis=1) / safe_deg
        if aggregate == "var":
            return var
        pos = var > 0
        return jnp.where(pos, jnp.sqrt(jnp.where(pos, var, 1.0)), zero)
    if aggregate == "softmax":
        logits = jnp.where(m, big, -jnp.inf)
        shift = jax.lax.stop_gradient(jnp.where(has, jnp.max(logits, axis=1), zero))
        w = jnp.where(m, jnp.exp(big - shift[:, None]), zero)
        w = w / jnp.where(has, jnp.sum(w, axis=1), 1.0)[:, None]
        return jnp.sum(w * jnp.where(m, big, zero), axis=1)
    raise ValueError(aggregate)


def np_reduce(messages: np.ndarray, dst: np.ndarray, n: int, aggregate: str) -> np.ndarray:
    """Loop-per-node NumPy (float64) oracle; empty nodes give 0. ``softmax`` is per channel."""
    messages = np.asarray(messages, np.float64)
    out = np.zeros((n,) + messages.shape[1:])
    for i in range(n):
        m = messages[dst == i]
        if not len(m):
            continue
        if aggregate in ("sum", "add"):
            out[i] = m.sum(0)
        elif aggregate == "softmax":
            w = np.exp(m - m.max(0))
            out[i] = (w / w.sum(0) * m).sum(0)
        else:
            out[i] = getattr(np, aggregate)(m, axis=0)
    return out


# Inputs shared by the propagate tests.

TOL = {"rtol": 2e-5, "atol": 2e-5}
F = 3
D = 2


def graphs_tuple(topo, nodes=True):
    """``topo`` as a GraphsTuple (zero node features unless ``nodes`` is False)."""
    return from_edge_index(
        topo.edge_index, topo.n_src, nodes=jnp.zeros((topo.n_src, 1)) if nodes else None
    )


def coo_perm(topo):
    """Order of the edges inside ``SparseTensor(dst, src)`` (row-major; unique edges)."""
    return np.lexsort((topo.src, topo.dst))


def adj_t(topo, value=None):
    """``topo`` as a SparseTensor ``adj_t`` (rows = targets), edge values permuted with it."""
    perm = coo_perm(topo)
    value = None if value is None else jnp.asarray(value)[perm]
    adj = SparseTensor(topo.dst[perm], topo.src[perm], value, (topo.n_dst, topo.n_src))
    row, col, _ = adj.coo()
    np.testing.assert_array_equal(np.asarray(row), topo.dst[perm])  # sanity: order kept
    np.testing.assert_array_equal(np.asarray(col), topo.src[perm])
    return adj


def node_edge_data(topo, seed=0, f=F, d=D):
    """Node features, edge features and an output cotangent for ``topo``."""
    x = normal(seed, (topo.n_src, f))
    ea = normal(seed + 1000, (topo.num_edges, d))
    cot = normal(seed + 2000, (topo.n_dst, f))
    return x, ea, cot


def msg(edges):
    """A message reading x_j, x_i and edge_attr."""
    return edges.x_j * edges.edge_attr[:, :1] + jnp.tanh(edges.x_i)


def msg_oracle(topo, x, ea):
    """:func:`msg` computed per edge from the edge lists."""
    return x[topo.src] * ea[:, :1] + jnp.tanh(x[topo.dst])
