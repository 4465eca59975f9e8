"""Degree-bucketed mailboxes for user-defined reducers (DGL's degree bucketing, jit-friendly).

A user-defined reducer sees, for a batch of nodes, the dense ``[B, D, *F]`` block of the
messages each node received (its *mailbox*). DGL groups nodes by exact in-degree, which
under ``jit`` would compile one program per distinct degree and per distinct group size. Here
a host-side :func:`plan_mailbox` groups nodes into buckets whose degree ``D`` is padded up to
a bounded set of sizes (powers of two by default) and whose node count ``B`` is padded too
(powers of two by default), with a mask marking real slots. A jitted function that takes the
plan as an argument therefore sees a small, fixed family of shapes, and
:func:`reduce_mailbox` calls the reducer once per bucket and scatters the results back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from jgnn._checks import check_id_range, host_ints, static_int
from jgnn._host import csr_pointers
from jgnn._sizes import SizePolicy, check_ladder, next_pow2, round_up

__all__ = ["MailboxBucket", "MailboxPlan", "plan_mailbox", "reduce_mailbox"]


@dataclasses.dataclass(frozen=True)
class MailboxBucket:
    """The nodes whose in-degree was padded to one mailbox size ``D``.

    Attributes:
      node_ids: int32 ``[B]``: the nodes of the bucket; padding rows hold ``num_nodes`` (one
        past the last node), whose results are discarded.
      edge_ids: int32 ``[B, D]``: the edges each node receives, in increasing edge id order;
        padding slots hold 0.
      mask: bool ``[B, D]``: True at real message slots.
    """

    node_ids: Any  # int32 [B]
    edge_ids: Any  # int32 [B, D]
    mask: Any  # bool [B, D]

    @property
    def shape(self) -> tuple[int, int]:
        """``(B, D)``, the padded node count and mailbox size (static)."""
        return tuple(self.edge_ids.shape)


@dataclasses.dataclass(frozen=True)
class MailboxPlan:
    """A degree-bucketing of the destinations of a graph (a pytree; sizes are static).

    Build it with :func:`plan_mailbox` outside ``jit`` and pass it to jitted functions as an
    argument: its index arrays are leaves, ``num_nodes``/``num_edges`` are static, so two plans
    with the same bucket shapes reuse one compiled program.

    Attributes:
      buckets: one :class:`MailboxBucket` per mailbox size, in increasing ``D``; with a fixed
        list of sizes every size is present (possibly with ``B = 0``).
      num_nodes: number of destination nodes ``N`` (static).
      num_edges: number of edges ``E`` (static).
    """

    buckets: tuple[MailboxBucket, ...]
    num_nodes: int
    num_edges: int

    def shapes(self) -> tuple[tuple[int, int], ...]:
        """The ``(B, D)`` of every bucket: what a jitted consumer is specialised on."""
        return tuple(b.shape for b in self.buckets)


jax.tree_util.register_dataclass(
    MailboxBucket, data_fields=["node_ids", "edge_ids", "mask"], meta_fields=[]
)
jax.tree_util.register_dataclass(
    MailboxPlan, data_fields=["buckets"], meta_fields=["num_nodes", "num_edges"]
)


def _degree_sizes(max_degree: int, policy: SizePolicy) -> tuple[int, ...]:
    """The mailbox sizes of the plan, in increasing order."""
    if policy == "pow2":
        top = next_pow2(max_degree) if max_degree else 0
        return tuple(1 << k for k in range(top.bit_length())) if top else ()
    if policy is None or policy == "exact":
        raise ValueError(
            "plan_mailbox: degree_buckets must be 'pow2' or a sequence of sizes; exact degrees "
            "would compile once per distinct degree profile."
        )
    sizes = check_ladder(policy, "plan_mailbox: degree_buckets")
    if max_degree > sizes[-1]:
        raise ValueError(
            f"plan_mailbox: the largest in-degree is {max_degree} but degree_buckets only go up "
            f"to {sizes[-1]}; add a larger size."
        )
    return sizes


def plan_mailbox(
    receivers: Any,
    num_nodes: int,
    *,
    degree_buckets: SizePolicy = "pow2",
    node_buckets: SizePolicy = "pow2",
) -> MailboxPlan:
    """Groups destination nodes by in-degree into padded mailbox buckets.

    Host-side: not jittable (the bucket sizes depend on the degrees).

    A node of in-degree ``d >= 1`` goes to the bucket of the smallest size ``D >= d``; its
    ``d`` messages fill the first ``d`` slots in increasing edge id order, the rest are masked.
    Each bucket's node count is padded under ``node_buckets``. Nodes of in-degree 0 are in no
    bucket (their reduced value is 0).

    With ``degree_buckets="pow2"`` the sizes are ``1, 2, 4, ...`` up to the first power of two
    ``>= max in-degree``, all present even when empty; with a sequence of sizes every size is
    present, so the plan's structure depends only on the sequence. Padding costs at most a
    factor 2 per axis with powers of two.

    Args:
      receivers: integer destination ids ``[E]`` (NumPy or concrete JAX array).
      num_nodes: number of destination nodes ``N`` (Python int).
      degree_buckets: ``"pow2"`` or an increasing sequence of mailbox sizes.
      node_buckets: ``"pow2"``, ``None`` (exact counts) or an increasing sequence of sizes.

    Returns:
      A :class:`MailboxPlan` with NumPy int32/bool arrays.

    Raises:
      TypeError: ``receivers`` is traced or not integer, or ``num_nodes`` is not an int.
      ValueError: ids out of ``[0, num_nodes)``, or a size policy that cannot hold the data.

    Examples:
      >>> plan = plan_mailbox(np.array([1, 1, 1, 2]), 3)
      >>> plan.shapes()  # degree 1 -> D=1, degree 3 -> D=4
      ((1, 1), (0, 2), (1, 4))
      >>> plan.buckets[2].edge_ids
      array([[0, 1, 2, 0]], dtype=int32)
    """
    n = static_int(num_nodes, "plan_mailbox: num_nodes")
    recv = host_ints(receivers, "plan_mailbox: receivers")
    if recv.ndim != 1:
        raise TypeError(f"plan_mailbox: receivers must be 1-D [E], got shape {recv.shape}.")
    check_id_range(recv, n, "plan_mailbox: receivers")
    e = recv.shape[0]
    order = np.argsort(recv, kind="stable")  # edges grouped by receiver, by edge id inside
    start = csr_pointers(recv[order], n)
    deg = np.diff(start)

    buckets = []
    lower = 0
    for size in _degree_sizes(int(deg.max()) if n else 0, degree_buckets):
        nodes = np.nonzero((deg > lower) & (deg <= size))[0]
        lower = size
        b = round_up(nodes.size, node_buckets, "plan_mailbox: node_buckets")
        node_ids = np.full(b, n, np.int32)
        node_ids[: nodes.size] = nodes
        slot = np.arange(size)
        mask = np.zeros((b, size), bool)
        mask[: nodes.size] = slot[None, :] < deg[nodes][:, None]
        pos = np.where(mask[: nodes.size], start[nodes][:, None] + slot[None, :], 0)
        edge_ids = np.zeros((b, size), np.int32)
        edge_ids[: nodes.size] = np.where(mask[: nodes.size], order[pos], 0)
        buckets.append(MailboxBucket(node_ids, edge_ids, mask))
    return MailboxPlan(tuple(buckets), n, e)


def _mask_like(mask: Array, x: Array) -> Array:
    return mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim))


def _scatter_rows(out: Any, result: Any, node_ids: Array) -> Any:
    return jax.tree_util.tree_map(lambda o, r: o.at[node_ids].set(r.astype(o.dtype)), out, result)


def reduce_mailbox(
    messages: Any,
    plan: MailboxPlan,
    reducer: Callable[[Any, Array], Any],
    num_nodes: int,
) -> Any:
    """Applies a user-defined reducer to every node's mailbox, bucket by bucket.

    For each bucket of shape ``(B, D)`` the reducer is called once as
    ``reducer(mailbox, mask)`` with ``mailbox = messages[edge_ids]`` of shape ``[B, D, *F]``
    (masked slots hold zeros) and ``mask`` ``[B, D]``; it must return ``[B, *F']``. Padding
    rows (all-False masks) are reduced too and their results discarded, so the reducer must
    accept rows without messages (NaN there is harmless: the mask also blocks its gradient).
    Results are scattered to the bucket's nodes; nodes without messages get 0. Buckets with
    ``B = 0`` are skipped. ``messages`` and the result may be pytrees of arrays.

    Args:
      messages: per-edge messages ``[E, *F]`` (or a pytree of such arrays).
      plan: the :class:`MailboxPlan` of the destinations (from :func:`plan_mailbox`).
      reducer: ``(mailbox [B, D, *F], mask [B, D]) -> [B, *F']``, traceable by JAX.
      num_nodes: number of destination nodes ``N`` (static; must equal ``plan.num_nodes``).

    Returns:
      ``[N, *F']`` (a pytree like the reducer's output).

    Raises:
      ValueError: ``num_nodes`` or the message count disagrees with the plan, or the reducer
        returns arrays without a leading ``B`` axis.
      TypeError: ``plan`` is not a :class:`MailboxPlan`.

    Examples:
      >>> plan = plan_mailbox(np.array([0, 0, 2]), 3)
      >>> msg = jnp.array([1.0, 2.0, 5.0])
      >>> reduce_mailbox(msg, plan, lambda m, mask: m.sum(axis=1), 3)
      Array([3., 0., 5.], dtype=float32)
    """
    if not isinstance(plan, MailboxPlan):
        raise TypeError(f"reduce_mailbox: plan must be a MailboxPlan, got {type(plan).__name__}.")
    if num_nodes != plan.num_nodes:
        raise ValueError(
            f"reduce_mailbox: num_nodes={num_nodes} but the plan was built for "
            f"{plan.num_nodes} nodes."
        )
    leaves = jax.tree_util.tree_leaves(messages)
    for leaf in leaves:
        if jnp.ndim(leaf) == 0 or jnp.shape(leaf)[0] != plan.num_edges:
            raise ValueError(
                f"reduce_mailbox: messages must have {plan.num_edges} rows (the plan's edge "
                f"count), got a leaf of shape {jnp.shape(leaf)}."
            )
    messages = jax.tree_util.tree_map(jnp.asarray, messages)

    def mailbox_of(bucket: MailboxBucket) -> Any:
        mask = jnp.asarray(bucket.mask)
        ids = jnp.asarray(bucket.edge_ids)

        def one(m: Array) -> Array:
            box = m[ids]
            return jnp.where(_mask_like(mask, box), box, jnp.zeros((), box.dtype))

        return jax.tree_util.tree_map(one, messages), mask

    # Output structure from one abstract call on a 1 x 1 mailbox.
    probe = jax.tree_util.tree_map(
        lambda m: jax.ShapeDtypeStruct((1, 1) + m.shape[1:], m.dtype), messages
    )
    out_struct = jax.eval_shape(reducer, probe, jax.ShapeDtypeStruct((1, 1), jnp.bool_))
    for leaf in jax.tree_util.tree_leaves(out_struct):
        if len(leaf.shape) == 0 or leaf.shape[0] != 1:
            raise ValueError(
                "reduce_mailbox: the reducer must return [B, *F'] for a [B, D, *F] mailbox; for "
                f"B = 1 it returned shape {leaf.shape}."
            )
    out = jax.tree_util.tree_map(
        lambda s: jnp.zeros((plan.num_nodes + 1,) + s.shape[1:], s.dtype), out_struct
    )
    for bucket in plan.buckets:
        b = bucket.shape[0]
        if b == 0:
            continue
        mailbox, mask = mailbox_of(bucket)
        result = reducer(mailbox, mask)
        out = _scatter_rows(out, result, jnp.asarray(bucket.node_ids))
    return jax.tree_util.tree_map(lambda o: o[: plan.num_nodes], out)
