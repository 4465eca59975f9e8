"""GNNAutoScale (Fey et al., ICML 2021): mini-batches of METIS parts with historical embeddings.

    python examples/gnnautoscale.py
    python examples/gnnautoscale.py --dataset cora --parts 40 --parts-per-batch 10

Every step runs the model on a few METIS parts plus their 1-hop halo; the halo's inputs come
from per-layer histories on the host, so no edge is dropped while device memory depends on the
batch, not on the graph. Evaluation is exact (layer-wise inference over all parts).
"""

from __future__ import annotations

import argparse
import json

import optax
from common import add_data_args, load_data
from flax import nnx

from jgnn.models import GCN
from jgnn.train import adam_l2, fit_gas


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(parser)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--parts", type=int, default=16, help="METIS parts")
    parser.add_argument("--parts-per-batch", type=int, default=4)
    parser.add_argument("--cache-dir", help="METIS partition cache (default: jgnn's cache)")
    args = parser.parse_args(argv)

    data, x = load_data(args)
    model = GCN(
        x.shape[1], 64, data.num_classes, dropout=0.5, normalize=False, rngs=nnx.Rngs(args.seed)
    )
    result = fit_gas(
        model,
        data.graph,
        x,
        data.labels,
        data.train_mask,
        data.val_mask,
        data.test_mask,
        # GAS clips gradients; the L2 decay and Adam are the usual GCN ones.
        tx=optax.chain(optax.clip_by_global_norm(1.0), adam_l2(0.01, 5e-4)),
        epochs=args.epochs,
        num_parts=args.parts,
        parts_per_batch=args.parts_per_batch,
        seed=args.seed,
        cache_dir=args.cache_dir,
    )
    keys = ("test_accuracy", "val_accuracy", "best_epoch", "final_train_loss", "epoch_time_ms")
    summary = {k: result.metrics[k] for k in keys}
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
