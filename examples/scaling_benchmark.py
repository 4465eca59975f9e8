"""Measures what the scaling features cost and give: one JSON line per measurement.

    python examples/scaling_benchmark.py --dataset cora      # the numbers of the report
    python examples/scaling_benchmark.py --quick             # seconds, for CI

* ``precision``: GCN and GAT full batch in fp32 / bf16 / fp16: test accuracy (mean over
  ``--seeds``), median epoch time, and the compiled step's memory (XLA's memory analysis:
  arguments + temporaries + outputs; on CPU there is no device allocator to ask).
* ``data_parallel``: a GraphSAGE step on ``D`` devices, one sampled batch each, against one
  device on one batch of the same size (the same per-device work); batches are on the device
  before timing, and every timed output is waited for.
* ``checkpoint``: save (orbax + jgnn's digest) and restore (digest check + read) time and size
  on disk of the train state, and of the state plus history-sized tables.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import statistics
import sys
import tempfile
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--nodes", type=int, default=20000, help="synthetic graph size")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="tiny settings (CI)")
    parser.add_argument("--only", nargs="*", default=["precision", "data_parallel", "checkpoint"])
    args = parser.parse_args(argv)
    import jax

    jax.config.update("jax_num_cpu_devices", args.devices)
    if args.quick:
        args.nodes, args.seeds = 600, 1
    env = {
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "python": sys.version.split()[0],
    }
    print(json.dumps({"environment": env, "args": vars(args)}))
    for name in args.only:
        globals()[f"bench_{name}"](args)


def _load(args):
    sys.path.insert(0, str(pathlib.Path(__file__).parent))
    from common import load_data

    return load_data(argparse.Namespace(dataset=args.dataset, nodes=args.nodes, seed=0))


def _compiled_bytes(compiled) -> int | None:
    info = compiled.memory_analysis()
    if info is None:
        return None
    return int(info.argument_size_in_bytes + info.temp_size_in_bytes + info.output_size_in_bytes)


def bench_precision(args) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from jgnn.models import RECIPES, prepare_features, prepare_graph
    from jgnn.train import (
        FullGraphBatch,
        adam_l2,
        apply_policy,
        default_loss_scale,
        fit_full_graph,
        full_graph_loss,
        init_train_state,
        make_train_step,
    )

    data, x = _load(args)
    epochs = 20 if args.quick else None
    for name in ("gcn", "gat"):
        recipe = RECIPES[name]
        graph = prepare_graph(data.graph, len(x), recipe)
        feats = prepare_features(x, recipe)
        tx = adam_l2(recipe.lr, recipe.weight_decay, decay_paths=recipe.decay_paths)
        for policy in ("fp32", "bf16", "fp16"):
            accs, times = [], []
            for seed in range(args.seeds):
                model = recipe.build(
                    x.shape[1], data.num_classes, recipe.hidden, recipe.dropout, nnx.Rngs(seed)
                )
                result = fit_full_graph(
                    model,
                    graph,
                    feats,
                    data.labels,
                    data.train_mask,
                    data.val_mask,
                    data.test_mask,
                    tx=tx,
                    epochs=epochs or recipe.epochs,
                    policy=policy,
                )
                accs.append(result.metrics["test_accuracy"])
                times.append(result.metrics["epoch_time_ms"])
            model = apply_policy(
                recipe.build(
                    x.shape[1], data.num_classes, recipe.hidden, recipe.dropout, nnx.Rngs(0)
                ),
                policy,
            )
            ls = default_loss_scale(policy)
            graphdef, state = init_train_state(model, tx, loss_scale=ls)
            step = make_train_step(graphdef, full_graph_loss, policy=policy, loss_scale=ls)
            batch = FullGraphBatch(
                graph, feats, jnp.asarray(data.labels), jnp.asarray(data.train_mask)
            )
            compiled = jax.jit(step).lower(state, batch).compile()
            print(
                json.dumps(
                    {
                        "bench": "precision",
                        "dataset": args.dataset,
                        "nodes": len(x),
                        "model": name,
                        "policy": policy,
                        "test_accuracy_mean": float(np.mean(accs)),
                        "test_accuracy": accs,
                        "epoch_time_ms_median": statistics.median(times),
                        "step_bytes": _compiled_bytes(compiled),
                    }
                )
            )


def _timed(fn, state, batch, repeats):
    import jax

    state, m = fn(state, batch)  # compile
    jax.block_until_ready((state, m))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        state, m = fn(state, batch)
        jax.block_until_ready((state, m))  # keep every output alive and wait for it
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def bench_data_parallel(args) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from jgnn.loader import Budget, Loader
    from jgnn.models import GraphSAGE
    from jgnn.sampling import NeighborSampler, SeedBatches
    from jgnn.train import (
        adam_l2,
        common_rung,
        data_mesh,
        data_parallel_step,
        init_train_state,
        make_train_step,
        replicate,
        sampled_loss,
        shard_batch,
        stack_batches,
    )

    data, x = _load(args)
    d = args.devices
    batch_size = 64 if args.quick else 512
    edge_index = np.stack([data.graph.senders, data.graph.receivers])
    source = SeedBatches(
        NeighborSampler(edge_index, [10, 5], seed=0), np.arange(len(x)), batch_size=batch_size
    )
    budget = Budget.fit(source, num_batches=8, num_rungs=1, percentile=100.0)
    with Loader(source, budget, features=x, labels=data.labels) as loader:
        batches = list(loader.epoch(0))[:d]
    rung = common_rung([b.rung for b in batches])
    stacked = stack_batches(batches, rung=rung)
    model = GraphSAGE(x.shape[1], 128, data.num_classes, rngs=nnx.Rngs(0))
    graphdef, state = init_train_state(model, adam_l2(0.01, 5e-4))
    one = jax.jit(make_train_step(graphdef, sampled_loss))
    first = jax.tree_util.tree_map(lambda a: jnp.asarray(a[0]), stacked)
    repeats = 5 if args.quick else 30
    t_one = _timed(one, state, first, repeats)
    mesh = data_mesh(d)
    dp = data_parallel_step(make_train_step(graphdef, sampled_loss, axis_name="data"), mesh)
    t_dp = _timed(dp, replicate(state, mesh), shard_batch(stacked, mesh), repeats)
    print(
        json.dumps(
            {
                "bench": "data_parallel",
                "dataset": args.dataset,
                "devices": d,
                "batch_size_per_device": batch_size,
                "rung_nodes": rung.num_nodes,
                "rung_edges": rung.num_edges,
                "one_device_step_ms": t_one,
                f"{d}_device_step_ms": t_dp,
                "ratio": t_dp / t_one,
                "seeds_per_s_one": batch_size / t_one * 1e3,
                f"seeds_per_s_{d}": d * batch_size / t_dp * 1e3,
                "cores": len(__import__("os").sched_getaffinity(0)),
            }
        )
    )


def _dir_bytes(path: pathlib.Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def bench_checkpoint(args) -> None:
    import numpy as np
    from flax import nnx

    from jgnn.models import RECIPES
    from jgnn.train import Checkpointer, adam_l2, default_loss_scale, init_train_state

    data, x = _load(args)
    rows = 2000 if args.quick else 100_000
    for name in ("gcn", "gat"):
        recipe = RECIPES[name]
        model = recipe.build(
            x.shape[1], data.num_classes, recipe.hidden, recipe.dropout, nnx.Rngs(0)
        )
        _, state = init_train_state(
            model, adam_l2(0.01, 5e-4), loss_scale=default_loss_scale("fp16")
        )
        rng = np.random.default_rng(0)  # random tables: nothing to compress, as real embeddings
        histories = {str(i): rng.standard_normal((rows, 128), np.float32) for i in range(2)}
        for label, tree in (("train_state", state), ("train_state+histories", (state, histories))):
            root = pathlib.Path(tempfile.mkdtemp())
            try:
                ck = Checkpointer(root, config={"model": name})
                t0 = time.perf_counter()
                ck.save(1, tree, metadata={"loader": {"epoch": 0, "position": 3}})
                save_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                ck.restore(tree)
                restore_s = time.perf_counter() - t0
                print(
                    json.dumps(
                        {
                            "bench": "checkpoint",
                            "model": name,
                            "contents": label,
                            "history_rows": rows if "histories" in label else 0,
                            "bytes_on_disk": _dir_bytes(root),
                            "save_s": save_s,
                            "restore_s": restore_s,
                        }
                    )
                )
            finally:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
