"""``jgnn`` command line: ``jgnn train ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jgnn.cli._train import add_train_parser

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jgnn", description="Graph neural networks in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jgnn`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (FileNotFoundError, ValueError) as err:
        print(f"jgnn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
