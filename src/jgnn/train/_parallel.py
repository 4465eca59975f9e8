"""Several devices: data parallelism over sampled batches, and edge-sharded full-graph training.

**Data parallel** (:func:`data_parallel_step`): each device trains on its own sampled
subgraph. ``D`` :class:`jgnn.loader.PaddedBatch` es of one rung are stacked on a leading axis
(:func:`stack_batches`), that axis is split over a mesh axis (:func:`shard_batch`), and the
step of :func:`jgnn.train.make_train_step` runs under ``jax.shard_map``, summing the losses
and gradients of the devices with ``psum`` (each weighted by its seeds, so the result equals
one device seeing all ``D`` batches).

**Edge-sharded full graph** (:func:`shard_full_graph`): the edges of one graph are split over
the devices and node arrays are replicated. The ordinary step runs under ``jax.jit``; XLA's
SPMD partitioner gives each device the messages of its edges and combines the per-device
partial aggregations (scatter-adds into ``[N, F]``) with an all-reduce, the ``psum`` of
partial aggregations, in every layer, for every jgnn layer, with no change to the layer.
Layers that insert edges themselves (``add_self_loops=True`` in GAT, GCN's own
normalisation) concatenate the edge arrays, which makes XLA all-gather them; normalise and
add self loops once on the host (:func:`jgnn.nn.gcn_norm`, ``normalize=False``,
``add_self_loops=False``) to keep the edges sharded.

Meshes are built with ``AxisType.Auto`` (:func:`data_mesh`): ``jax.make_mesh`` defaults to
explicit axes, under which ``shard_map`` refuses inputs whose sharding differs from its
``in_specs``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jgnn.graph import from_edge_index, pad_graph
from jgnn.loader import PaddedBatch, Rung, pad_subgraph
from jgnn.sampling import SampledSubgraph
from jgnn.train._step import FullGraphBatch, TrainState

__all__ = [
    "common_rung",
    "data_mesh",
    "data_parallel_step",
    "put_global",
    "replicate",
    "shard_batch",
    "shard_full_graph",
    "stack_batches",
]


def data_mesh(
    num_devices: int | None = None, *, axis: str = "data", devices: Sequence[Any] | None = None
) -> Mesh:
    """A one-axis mesh over ``num_devices`` devices (all of them by default), ``Auto`` axes.

    Args:
        num_devices: How many of ``devices`` to use (default: all).
        axis: The axis name.
        devices: The devices (default ``jax.devices()``: every process's devices).

    Returns:
        The mesh.

    Raises:
        ValueError: If ``num_devices`` is not in ``[1, len(devices)]``.
    """
    devices = list(jax.devices() if devices is None else devices)
    count = len(devices) if num_devices is None else num_devices
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= len(devices):
        raise ValueError(f"`num_devices` must be in [1, {len(devices)}], got {num_devices!r}.")
    return jax.make_mesh(
        (count,), (axis,), axis_types=(jax.sharding.AxisType.Auto,), devices=devices[:count]
    )


def common_rung(rungs: Sequence[Rung]) -> Rung:
    """The smallest rung that holds every one of ``rungs`` (their block-wise maximum).

    With rungs from one ladder (non-decreasing in every block) this is the largest of them,
    so stacking keeps the number of compiled shapes at the number of rungs.

    Args:
        rungs: Rungs with the same number of blocks.

    Returns:
        The rung.

    Raises:
        ValueError: If ``rungs`` is empty or the block counts differ.
    """
    rungs = list(rungs)
    if not rungs:
        raise ValueError("`rungs` is empty; expected at least one Rung.")
    shapes = {(len(r.nodes), len(r.edges)) for r in rungs}
    if len(shapes) != 1:
        raise ValueError(
            f"the rungs have different numbers of hop blocks {sorted(shapes)}; batches of one "
            "step must come from one source."
        )
    nodes = tuple(max(r.nodes[k] for r in rungs) for k in range(len(rungs[0].nodes)))
    edges = tuple(max(r.edges[k] for r in rungs) for k in range(len(rungs[0].edges)))
    return Rung(nodes, edges)


def _repad(batch: PaddedBatch, rung: Rung) -> PaddedBatch:
    """Host copy of ``batch`` padded to a larger ``rung`` (same real nodes, edges and values)."""
    host = jax.tree_util.tree_map(np.asarray, batch)
    pos = np.flatnonzero(host.node_mask)  # real slots, in SampledSubgraph order
    epos = np.flatnonzero(host.edge_mask)
    local = np.full(host.node_mask.shape[0], -1, np.int64)
    local[pos] = np.arange(pos.size)
    pad_id = int(host.n_id[np.flatnonzero(~host.node_mask)[0]])

    def real(values: Any, where: np.ndarray) -> np.ndarray | None:
        return None if values is None else values[where]

    sub = SampledSubgraph(
        n_id=host.n_id[pos].astype(np.int64),
        e_id=np.zeros(epos.size, np.int64),
        senders=local[host.senders[epos]].astype(np.int32),
        receivers=local[host.receivers[epos]].astype(np.int32),
        batch_size=int(np.count_nonzero(host.seed_mask)),
        num_sampled_nodes=tuple(int(c) for c in host.num_sampled_nodes),
        num_sampled_edges=tuple(int(c) for c in host.num_sampled_edges),
        edge_weight=real(host.edge_weight, epos),
        node_weight=real(host.node_weight, pos),
        batch=real(host.batch, pos),
    )
    out = pad_subgraph(sub, rung, pad_id=pad_id)
    slots = np.flatnonzero(out.node_mask)
    changes = {}
    for name in ("x", "y"):
        values = getattr(host, name)
        if values is not None:
            full = np.zeros((out.num_nodes, *values.shape[1:]), values.dtype)
            full[slots] = values[pos]
            changes[name] = full
    return out.replace(**changes)


def stack_batches(batches: Sequence[PaddedBatch], *, rung: Rung | None = None) -> PaddedBatch:
    """Stacks padded batches on a new leading axis (one per device), on the host.

    Host-side: not jittable. Batches padded to different rungs are first re-padded to their
    :func:`common_rung` (or to ``rung``); the re-padded batch has the same real nodes, edges,
    features and labels, only more padding.

    Args:
        batches: ``D`` batches from one source (with ``x``/``y`` gathered, e.g. from a
            :class:`jgnn.loader.Loader`).
        rung: The rung to pad every batch to (default: their common rung).

    Returns:
        A :class:`jgnn.loader.PaddedBatch` whose leaves are NumPy arrays ``[D, ...]``.

    Raises:
        TypeError: If an element is not a ``PaddedBatch``.
        ValueError: If ``batches`` is empty, or ``rung`` does not hold a batch.
    """
    batches = list(batches)
    if not batches:
        raise ValueError("`batches` is empty; expected one PaddedBatch per device.")
    for i, b in enumerate(batches):
        if not isinstance(b, PaddedBatch):
            raise TypeError(
                f"`batches[{i}]` must be a jgnn.loader.PaddedBatch, got {type(b).__name__}."
            )
    target = common_rung([b.rung for b in batches]) if rung is None else rung
    for i, b in enumerate(batches):
        if common_rung([b.rung, target]) != target:
            raise ValueError(
                f"`batches[{i}]` has rung {b.rung.to_dict()}, larger than `rung` "
                f"{target.to_dict()} in some block."
            )
    same = [
        jax.tree_util.tree_map(np.asarray, b) if b.rung == target else _repad(b, target)
        for b in batches
    ]
    return jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *same)


def put_global(tree: Any, sharding: NamedSharding) -> Any:
    """Places this process's part of every leaf of ``tree`` on ``sharding``.

    Host-side: not jittable. With one process this is ``jax.device_put``; with several
    (``jax.distributed``), each process passes the rows its devices hold
    (``jax.make_array_from_process_local_data``), so a leading axis split over all processes'
    devices is assembled without any process holding the whole array.

    Args:
        tree: A pytree of host or device arrays.
        sharding: The target sharding.

    Returns:
        The pytree of global ``jax.Array`` s.
    """
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def one(leaf: Any) -> jax.Array:
        if jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key):
            data = np.asarray(jax.random.key_data(leaf))
            data = jax.make_array_from_process_local_data(sharding, data)
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(leaf))
        return jax.make_array_from_process_local_data(sharding, np.asarray(leaf))

    return jax.tree_util.tree_map(one, tree)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places a copy of every leaf of ``tree`` on every device of ``mesh`` (the same value in
    every process, e.g. a :class:`jgnn.train.TrainState` built from the same seed).

    Host-side: not jittable.

    Args:
        tree: A pytree of arrays (typed PRNG keys included).
        mesh: The mesh.

    Returns:
        The pytree of replicated global arrays.
    """
    return put_global(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(stacked: Any, mesh: Mesh, *, axis: str = "data") -> Any:
    """Splits the leading axis of a stacked batch over the mesh axis ``axis``.

    Host-side: not jittable.

    Args:
        stacked: From :func:`stack_batches`; with several processes, this process's
            batches (one per local device of the mesh).
        mesh: The mesh (:func:`data_mesh`).
        axis: The mesh axis.

    Returns:
        The batch as global arrays ``[D, ...]`` sharded over ``axis``.

    Raises:
        ValueError: If the leading axis does not match the devices this process holds.
    """
    local = sum(1 for d in mesh.devices.flat if d.process_index == jax.process_index())
    lead = {int(np.shape(leaf)[0]) for leaf in jax.tree_util.tree_leaves(stacked)}
    if lead != {local}:
        raise ValueError(
            f"the stacked batch has leading sizes {sorted(lead)}; expected {local}, one batch "
            f"per device of the mesh in this process."
        )
    return put_global(stacked, NamedSharding(mesh, PartitionSpec(axis)))


def data_parallel_step(
    step: Callable[[TrainState, Any], tuple[TrainState, dict[str, Any]]],
    mesh: Mesh,
    *,
    axis: str = "data",
) -> Callable[[TrainState, Any], tuple[TrainState, dict[str, Any]]]:
    """Runs ``step`` on every device of ``mesh``, each on its own slice of a stacked batch.

    Args:
        step: From :func:`jgnn.train.make_train_step` with ``axis_name=axis``.
        mesh: The mesh (:func:`data_mesh`).
        axis: Its data axis.

    Returns:
        A jitted ``(state, stacked_batch) -> (state, metrics)``: ``state`` replicated
        (:func:`replicate`), ``stacked_batch`` from :func:`shard_batch`; the returned state
        and metrics are replicated (identical on every device).
    """

    def body(state: TrainState, batch: Any) -> tuple[TrainState, dict[str, Any]]:
        return step(state, jax.tree_util.tree_map(lambda leaf: leaf[0], batch))

    mapped = jax.shard_map(
        body,
        mesh=mesh,
        in_specs=(PartitionSpec(), PartitionSpec(axis)),
        out_specs=(PartitionSpec(), PartitionSpec()),
    )
    return jax.jit(mapped)


def _pad_rows(value: Any, rows: int) -> np.ndarray:
    value = np.asarray(value)
    out = np.zeros((rows, *value.shape[1:]), value.dtype)
    out[: value.shape[0]] = value
    return out


def shard_full_graph(batch: FullGraphBatch, mesh: Mesh, *, axis: str = "data") -> FullGraphBatch:
    """Splits the edges of a full-graph batch over ``mesh``; node arrays are replicated.

    Host-side: not jittable. The edges are padded to a multiple of the axis size with
    :func:`jgnn.graph.pad_graph` (padding edges on one new padding node), so the batch has one
    more node: ``x``, ``labels`` and ``mask`` get a zero row (mask False), and model outputs
    have ``N + 1`` rows (drop the last). Train it with the ordinary jitted step on a
    :func:`replicate` d state.

    Args:
        batch: A :class:`jgnn.train.FullGraphBatch` whose graph is a ``jraph.GraphsTuple``
            or an int ``[2, E]`` edge index.
        mesh: The mesh.
        axis: The mesh axis the edges are split over.

    Returns:
        The sharded batch.

    Raises:
        NotImplementedError: If the graph is a ``SparseTensor`` (its product is one kernel
            that XLA does not partition): pass a GraphsTuple or an edge index.
        TypeError: If ``batch`` is not a ``FullGraphBatch``.
    """
    if not isinstance(batch, FullGraphBatch):
        raise TypeError(f"`batch` must be a FullGraphBatch, got {type(batch).__name__}.")
    if jax.process_count() > 1:
        raise NotImplementedError(
            "shard_full_graph places whole arrays from this process; with several processes "
            "use data parallelism over sampled batches (data_parallel_step)."
        )
    graph, n = batch.graph, int(np.shape(batch.x)[0])
    if hasattr(graph, "sparse_sizes"):
        raise NotImplementedError(
            "shard_full_graph cannot split a SparseTensor adj_t (one sparse-product kernel "
            "that XLA does not partition); pass a GraphsTuple or an edge index."
        )
    if not isinstance(graph, jraph.GraphsTuple):
        graph = from_edge_index(np.asarray(graph), n)
    graph = jax.tree_util.tree_map(np.asarray, graph)
    size = mesh.shape[axis]
    edges = int(np.shape(graph.senders)[0])
    padded = pad_graph(
        graph, n + 1, -(-edges // size) * size, int(np.shape(graph.n_node)[0]) + 1, num_nodes=n
    )
    split = NamedSharding(mesh, PartitionSpec(axis))
    whole = NamedSharding(mesh, PartitionSpec())
    graph = padded._replace(
        senders=jax.device_put(padded.senders, split),
        receivers=jax.device_put(padded.receivers, split),
        edges=None if padded.edges is None else jax.device_put(padded.edges, split),
        nodes=None if padded.nodes is None else jax.device_put(padded.nodes, whole),
        n_node=jax.device_put(padded.n_node, whole),
        n_edge=jax.device_put(padded.n_edge, whole),
        globals=None if padded.globals is None else jax.device_put(padded.globals, whole),
    )
    node_arrays = (batch.x, batch.labels, batch.mask)
    if any(hasattr(a, "sparse_sizes") for a in node_arrays):
        raise NotImplementedError(
            "shard_full_graph needs dense node features; densify x (x.to_dense())."
        )
    x, labels, mask = (jax.device_put(_pad_rows(a, n + 1), whole) for a in node_arrays)
    return FullGraphBatch(graph, x, labels, mask.astype(jnp.bool_))
