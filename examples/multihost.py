"""Several processes (hosts): each samples its own shard of the seeds; gradients are averaged
across all of them.

    python examples/multihost.py                      # launches 2 processes on this machine
    python examples/multihost.py --launch 4 --steps 30

On a cluster, start one process per host yourself (process 0's host is the coordinator)::

    python examples/multihost.py --coordinator host0:12355 --num-processes 2 --process-id 0
    python examples/multihost.py --coordinator host0:12355 --num-processes 2 --process-id 1

Each process builds the same model from the same seed, keeps ``len(source) // P`` of every
epoch's batches (``Loader(..., **process_shard())``), takes one per local device per step,
agrees with the others on the padded shape (``agree_rung``) and runs the data-parallel step
over a mesh of every process's devices. On CPU the collectives go through gloo; every
process ends with the same parameters.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys


def main(argv: list[str] | None = None) -> dict | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launch", type=int, default=2, help="processes to start locally")
    parser.add_argument("--coordinator", help="host:port of process 0 (worker mode)")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per process")
    from common import add_data_args

    add_data_args(parser)
    args = parser.parse_args(argv)
    if args.coordinator is None:
        return launch(args, list(argv if argv is not None else sys.argv[1:]))
    worker(args)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def launch(args: argparse.Namespace, argv: list[str]) -> dict:
    """Starts ``--launch`` workers on localhost, waits for them, and kills any left over."""
    address = f"localhost:{_free_port()}"
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, *argv, "--coordinator", address]
            + ["--num-processes", str(args.launch), "--process-id", str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(args.launch)
    ]
    results = []
    try:
        for i, p in enumerate(procs):
            out, err = p.communicate(timeout=args.timeout)
            if p.returncode != 0:
                sys.exit(f"process {i} failed ({p.returncode}):\n{err[-3000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:  # no orphans if one failed or timed out
            if p.poll() is None:
                p.kill()
                p.wait()
    same = len({r["param_checksum"] for r in results}) == 1
    summary = {"processes": args.launch, "same_parameters": same, "losses": results[0]["losses"]}
    print(json.dumps(summary))
    return summary


def worker(args: argparse.Namespace) -> None:
    from jgnn.train import initialize_distributed

    # Before any other JAX call: joins the job; one CPU device per process here.
    initialize_distributed(
        args.coordinator, args.num_processes, args.process_id, local_device_count=1
    )

    import jax
    import numpy as np
    from common import load_data
    from flax import nnx

    from jgnn.loader import Budget, Loader
    from jgnn.models import GraphSAGE
    from jgnn.sampling import NeighborSampler, SeedBatches
    from jgnn.train import (
        adam_l2,
        agree_rung,
        assert_same_across_processes,
        data_mesh,
        data_parallel_step,
        init_train_state,
        make_train_step,
        process_shard,
        replicate,
        sampled_loss,
        shard_batch,
        stack_batches,
        take_batches,
    )

    data, x = load_data(args)  # every process reads the same data (or its own part of it)
    edge_index = np.stack([data.graph.senders, data.graph.receivers])
    source = SeedBatches(
        NeighborSampler(edge_index, [10, 5], seed=args.seed),
        data.train_mask,
        batch_size=8,
        seed=args.seed,
    )
    budget = Budget.fit(source, num_batches=16, num_rungs=2)  # deterministic: same everywhere
    model = GraphSAGE(x.shape[1], 64, data.num_classes, dropout=0.5, rngs=nnx.Rngs(args.seed))
    graphdef, state = init_train_state(model, adam_l2(0.01, 5e-4))
    mesh = data_mesh()  # all devices of all processes
    state = replicate(state, mesh)
    train = data_parallel_step(make_train_step(graphdef, sampled_loss, axis_name="data"), mesh)
    local = jax.local_device_count()
    losses, epoch = [], 0
    with Loader(source, budget, features=x, labels=data.labels, **process_shard()) as loader:
        if len(loader) < local:
            sys.exit(f"this shard has {len(loader)} batches an epoch, fewer than {local} devices")
        it = loader.epoch(epoch)
        while len(losses) < args.steps:
            batches = take_batches(it, local)
            if batches is None:  # this shard's epoch is over (the same step on every process)
                epoch += 1
                it = loader.epoch(epoch)
                continue
            stacked = stack_batches(batches, rung=agree_rung(batches))
            state, metrics = train(state, shard_batch(stacked, mesh))
            losses.append(float(metrics["loss"]))
    assert_same_across_processes(state.model, "parameters")
    leaves = [
        np.asarray(a.addressable_shards[0].data)
        for a in jax.tree_util.tree_leaves(state.model)
        if not jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key)
    ]
    checksum = float(sum(np.abs(a.astype(np.float64)).sum() for a in leaves))
    print(
        json.dumps({"process": jax.process_index(), "losses": losses, "param_checksum": checksum})
    )
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
