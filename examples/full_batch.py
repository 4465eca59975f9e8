"""Full-batch GCN under a precision policy, with checkpoints and exact resume.

    python examples/full_batch.py                           # synthetic graph, float32
    python examples/full_batch.py --dataset cora --precision bf16
    python examples/full_batch.py --checkpoint /tmp/gcn --epochs 50   # ... interrupted, then
    python examples/full_batch.py --checkpoint /tmp/gcn --epochs 200 --resume

``--precision``: ``fp32`` (full float32 matrix products), ``tf32`` (TF32 products on NVIDIA
GPUs), ``bf16`` or ``fp16`` (float32 parameters and optimizer state, low-precision compute,
float32 loss; ``fp16`` adds dynamic loss scaling). A resumed run ends bit for bit where an
uninterrupted one would (on CPU).
"""

from __future__ import annotations

import argparse
import json

from common import add_data_args, load_data

from jgnn.models import RECIPES
from jgnn.train import Checkpointer, fit_full_graph, recipe_fit_args, recipe_hparams


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_args(parser)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16", "fp16"])
    parser.add_argument("--checkpoint", help="checkpoint directory (none: no checkpoints)")
    parser.add_argument("--checkpoint-every", type=int, default=0, help="epochs; 0: at the end")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    args = parser.parse_args(argv)

    data, x = load_data(args)
    recipe = RECIPES["gcn"]
    fit_args, tx = recipe_fit_args(recipe, data, x, recipe_hparams(recipe), args.seed)
    checkpointer = None
    if args.checkpoint:
        # Everything that changes the numbers goes into the configuration: a checkpoint
        # written under another one is refused on resume.
        config = {k: getattr(args, k) for k in ("dataset", "nodes", "seed", "precision")}
        checkpointer = Checkpointer(args.checkpoint, config=dict(config, model="gcn"))
    result = fit_full_graph(
        *fit_args,
        tx=tx,
        epochs=args.epochs,
        policy=args.precision,
        checkpointer=checkpointer,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
    )
    keys = ("test_accuracy", "best_epoch", "final_train_loss", "epoch_time_ms", "resumed_from")
    summary = {k: result.metrics[k] for k in keys}
    summary["precision"] = args.precision
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
