"""Several devices on one host: data parallelism over sampled batches, or sharded edges.

    python examples/data_parallel.py                   # shard_map over 4 (fake CPU) devices
    python examples/data_parallel.py --mode pmap       # the same step, older pmap spelling
    python examples/data_parallel.py --mode edges      # one graph, edges split over devices

``shard_map`` / ``pmap``: every step takes one sampled subgraph per device (padded to one
common rung, stacked, split over the ``data`` mesh axis); each device computes its loss and
gradients, which are summed across devices with ``psum`` (weighted by seeds), so the update is
the one a single device would make on all of them. ``pmap`` still works but is in maintenance
mode: new code uses ``jax.shard_map`` or ``jax.jit`` with ``NamedSharding``.

``edges``: full-batch training where each device holds a quarter of the edges and a copy of
the node features; ``jax.jit`` partitions the message passing and all-reduces the per-device
partial aggregations in every layer. The losses equal the one-device run's.

On a CPU the devices are fake (``--devices`` sets ``jax_num_cpu_devices``) and share the
machine's cores: this shows the mechanics, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import sys

import jax


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="shard_map", choices=["shard_map", "pmap", "edges"])
    parser.add_argument("--devices", type=int, default=4, help="fake CPU devices")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    from common import add_data_args

    add_data_args(parser)
    args = parser.parse_args(argv)
    # Before any JAX computation; it only shapes the CPU backend (GPUs are what they are).
    jax.config.update("jax_num_cpu_devices", args.devices)
    if jax.device_count() < args.devices:
        sys.exit(f"need {args.devices} devices, have {jax.device_count()}")
    run = run_edges if args.mode == "edges" else run_batches
    out = run(args)
    print(json.dumps(out))
    return out


def run_batches(args: argparse.Namespace) -> dict:
    import numpy as np
    from common import load_data
    from flax import nnx

    from jgnn.loader import Budget, Loader
    from jgnn.models import GraphSAGE
    from jgnn.sampling import NeighborSampler, SeedBatches
    from jgnn.train import (
        adam_l2,
        data_mesh,
        data_parallel_step,
        init_train_state,
        make_train_step,
        replicate,
        sampled_loss,
        shard_batch,
        stack_batches,
        take_batches,
    )

    data, x = load_data(args)
    edge_index = np.stack([data.graph.senders, data.graph.receivers])
    source = SeedBatches(
        NeighborSampler(edge_index, [10, 5], seed=args.seed),
        data.train_mask,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    budget = Budget.fit(source, num_batches=16, num_rungs=2)
    model = GraphSAGE(x.shape[1], 64, data.num_classes, dropout=0.5, rngs=nnx.Rngs(args.seed))
    graphdef, state = init_train_state(model, adam_l2(0.01, 5e-4))
    # One step for every spelling: axis_name="data" makes it reduce over the devices.
    step = make_train_step(graphdef, sampled_loss, axis_name="data")
    if args.mode == "shard_map":
        mesh = data_mesh(args.devices)  # AxisType.Auto, as shard_map expects
        train = data_parallel_step(step, mesh)  # jax.jit(jax.shard_map(...))
        state = replicate(state, mesh)

        def place(stacked):
            return shard_batch(stacked, mesh)
    else:  # the older spelling: the state broadcast, the batch split on its leading axis
        train = jax.pmap(step, axis_name="data", in_axes=(None, 0), out_axes=(None, None))

        def place(stacked):
            return stacked

    losses, epoch = [], 0
    with Loader(source, budget, features=x, labels=data.labels) as loader:
        if len(loader) < args.devices:
            sys.exit(f"an epoch has {len(loader)} batches, fewer than the {args.devices} devices")
        it = loader.epoch(epoch)
        while len(losses) < args.steps:
            batches = take_batches(it, args.devices)
            if batches is None:  # epoch over
                epoch += 1
                it = loader.epoch(epoch)
                continue
            state, metrics = train(state, place(stack_batches(batches)))
            losses.append(float(metrics["loss"]))
    return {"mode": args.mode, "devices": args.devices, "losses": losses}


def run_edges(args: argparse.Namespace) -> dict:
    import jax.numpy as jnp
    from common import load_data
    from flax import nnx

    from jgnn.graph import from_edge_index
    from jgnn.models import GCN
    from jgnn.nn import gcn_norm
    from jgnn.train import (
        FullGraphBatch,
        adam_l2,
        data_mesh,
        full_graph_loss,
        init_train_state,
        make_train_step,
        replicate,
        shard_full_graph,
    )

    data, x = load_data(args)
    n = len(x)
    edge_index = jnp.stack([jnp.asarray(data.graph.senders), jnp.asarray(data.graph.receivers)])
    # Normalise (and add self loops) once: layers that add edges themselves would gather them.
    graph = gcn_norm(from_edge_index(edge_index, n), num_nodes=n)
    batch = FullGraphBatch(graph, jnp.asarray(x), jnp.asarray(data.labels), data.train_mask)
    model = GCN(x.shape[1], 64, data.num_classes, normalize=False, rngs=nnx.Rngs(args.seed))
    graphdef, state0 = init_train_state(model, adam_l2(0.01, 5e-4))
    step = jax.jit(make_train_step(graphdef, full_graph_loss))
    mesh = data_mesh(args.devices)
    runs = {"one_device": (state0, batch), "sharded": (replicate(state0, mesh), None)}
    runs["sharded"] = (runs["sharded"][0], shard_full_graph(batch, mesh))
    losses = {}
    for name, (state, b) in runs.items():
        losses[name] = []
        for _ in range(args.steps):
            state, metrics = step(state, b)
            losses[name].append(float(metrics["loss"]))
    return {"mode": "edges", "devices": args.devices, **losses}


if __name__ == "__main__":
    main()
