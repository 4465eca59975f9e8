"""``jgnn`` command line: ``jgnn train ...``, ``jgnn --version``.

Every sub-command registers itself with ``set_defaults(run=..., validate=...,
command_parser=...)``: ``validate(args)`` checks the flags before any work (a ``ValueError``
or ``TypeError`` becomes argparse's usage error, exit status 2) and ``run(args)`` does the
work. Expected errors met while running (see :func:`jgnn.cli._errors.describe_error`) are
printed as one or two lines; other exceptions are bugs and keep their traceback. ``--debug``
(before or after the sub-command) prints the traceback of every error.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from typing import NoReturn

from jgnn.cli._errors import describe_error
from jgnn.cli._profile import add_profile_parser
from jgnn.cli._train import add_train_parser

__all__ = ["build_parser", "main"]


def _version() -> str:
    import jax

    from jgnn import __version__

    return f"jgnn {__version__} (jax {jax.__version__}, Python {sys.version.split()[0]})"


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as two short lines instead of the whole usage (the flags of
    ``jgnn train`` fill a screen and would hide the one line that matters)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n(`{self.prog} --help` lists the flags)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``jgnn`` argument parser with its sub-commands."""
    parser = _Parser(prog="jgnn", description="Graph neural networks in JAX.")
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("--debug", action="store_true", help="show tracebacks of all errors")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    add_profile_parser(sub)
    return parser


@contextlib.contextmanager
def _one_line_warnings(command: str, debug: bool) -> Iterator[None]:
    """Shows warnings as ``jgnn <command>: warning: ...`` lines (unless ``debug``)."""
    if debug:
        yield
        return
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001
        print(f"jgnn {command}: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jgnn`` console script; returns the exit status.

    Args:
        argv: The arguments (default ``sys.argv[1:]``).

    Returns:
        0 on success, 1 when a run failed (training diverged, a sampler failed, an output
        could not be written), 2 for a bad flag or input (also through ``SystemExit`` from
        argparse), 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    validate = getattr(args, "validate", None)
    if validate is not None:
        try:
            validate(args)
        except (TypeError, ValueError) as err:
            if debug:
                traceback.print_exc()
            args.command_parser.error(str(err))
    flags = [action.dest for action in args.command_parser._actions]
    with _one_line_warnings(args.command, debug):
        try:
            return int(args.run(args) or 0)
        except KeyboardInterrupt:
            print(f"jgnn {args.command}: interrupted", file=sys.stderr)
            return 130
        except Exception as err:
            described = describe_error(err, flags)
            if described is None:
                raise  # a bug: keep the traceback
            if debug:
                traceback.print_exc()
            code, message = described
            print(f"jgnn {args.command}: error: {message}", file=sys.stderr)
            return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
