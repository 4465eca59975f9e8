"""``jgnn`` command line: ``jgnn train ...``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jgnn.cli._train import add_train_parser

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``jgnn`` argument parser with its sub-commands."""
    parser = argparse.ArgumentParser(prog="jgnn", description="Graph neural networks in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jgnn`` console script; returns the exit status.

    Flags are validated before any work; a bad flag exits with status 2 through argparse
    (``SystemExit``), naming the flag. Errors met while running (missing or corrupt data
    files, inconsistent inputs) are printed on one line and return 2.
    """
    from jgnn.datasets import DatasetError

    parser = build_parser()
    args = parser.parse_args(argv)
    validate = getattr(args, "validate", None)
    if validate is not None:
        try:
            validate(args)
        except (TypeError, ValueError) as err:
            args.command_parser.error(str(err))
    try:
        return int(args.run(args) or 0)
    except (DatasetError, FileNotFoundError, ValueError) as err:
        print(f"jgnn {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
