"""Mini-batch GraphSAGE on neighbour-sampled subgraphs, with precision and exact resume.

    python examples/neighbor_sampling.py
    python examples/neighbor_sampling.py --dataset cora --precision bf16 --workers 2
    python examples/neighbor_sampling.py --checkpoint /tmp/sage --epochs 2   # ... then
    python examples/neighbor_sampling.py --checkpoint /tmp/sage --epochs 5 --resume

The loop is the pattern to copy: a ``Loader`` pads every sampled subgraph to a rung of a
``Budget`` (one compilation per rung), ``make_train_step`` builds the pure step, and a
``Checkpointer`` saves the train state (parameters, optimizer, loss scale, RNG) together with
the loader's position and the budget, so a resumed run sees exactly the batches and dropout
masks the uninterrupted one would have.
"""

from __future__ import annotations

import argparse
import json

import jax
import numpy as np
from common import add_data_args, load_data
from flax import nnx

from jgnn.loader import Budget, Loader
from jgnn.models import GraphSAGE
from jgnn.sampling import NeighborSampler, SeedBatches
from jgnn.train import (
    Checkpointer,
    adam_l2,
    apply_policy,
    default_loss_scale,
    init_train_state,
    make_train_step,
    masked_accuracy,
    predict,
    sampled_loss,
    training_labels,
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(parser)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--fanouts", type=int, nargs="+", default=[10, 5])
    parser.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16", "fp16"])
    parser.add_argument("--workers", type=int, default=0, help="sampling worker processes")
    parser.add_argument("--checkpoint", help="checkpoint directory (saved after every epoch)")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    args = parser.parse_args(argv)

    data, x = load_data(args)
    edge_index = np.stack([data.graph.senders, data.graph.receivers])
    sampler = NeighborSampler(edge_index, args.fanouts, seed=args.seed)
    source = SeedBatches(sampler, data.train_mask, batch_size=args.batch_size, seed=args.seed)
    model = GraphSAGE(x.shape[1], 64, data.num_classes, dropout=0.5, rngs=nnx.Rngs(args.seed))
    apply_policy(model, args.precision)
    loss_scale = default_loss_scale(args.precision)
    graphdef, state = init_train_state(model, adam_l2(0.01, 5e-4), loss_scale=loss_scale)
    step = jax.jit(
        make_train_step(graphdef, sampled_loss, policy=args.precision, loss_scale=loss_scale)
    )

    checkpointer, start, loader_state = None, 0, None
    budget = Budget.fit(source, num_batches=16, num_rungs=2)
    if args.checkpoint:
        config = {k: getattr(args, k) for k in ("dataset", "nodes", "seed", "precision")}
        config.update(fanouts=args.fanouts, batch_size=args.batch_size, model="sage")
        checkpointer = Checkpointer(args.checkpoint, config=config)
        if args.resume:
            restored = checkpointer.restore(state)
            state, loader_state = restored.state, restored.metadata["loader"]
            start = loader_state["epoch"]
            budget = Budget.from_dict(restored.metadata["budget"])  # the same padded shapes
    labels = training_labels(data.labels, data.train_mask)  # -1: not in the loss
    record = {}
    with Loader(source, budget, features=x, labels=labels, num_workers=args.workers) as loader:
        for epoch in range(start, args.epochs):
            if loader_state is not None and epoch == start:
                batches = loader.restore(loader_state)
            else:
                batches = loader.epoch(epoch)
            losses = []
            for batch in batches:
                state, metrics = step(state, batch)
                losses.append(float(metrics["loss"]))
            logits = predict(graphdef, state, edge_index, x, args.precision)
            record = {
                "epoch": epoch,
                "loss": float(np.mean(losses)),
                "val_accuracy": float(masked_accuracy(logits, data.labels, data.val_mask)),
                "test_accuracy": float(masked_accuracy(logits, data.labels, data.test_mask)),
            }
            print(json.dumps(record))
            if checkpointer is not None:  # saved at an epoch's end: the next starts at 0
                metadata = {
                    "loader": loader.epoch(epoch + 1).get_state(),
                    "budget": budget.to_dict(),
                }
                checkpointer.save(epoch + 1, state, metadata=metadata)
        report = loader.report()
    record["padded_nodes_per_real_node"] = report.padded_nodes / max(report.real_nodes, 1)
    print(json.dumps(record))
    return record


if __name__ == "__main__":
    main()
