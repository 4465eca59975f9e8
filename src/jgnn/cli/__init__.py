"""The ``jgnn`` console script."""

from jgnn.cli._main import main as main

__all__ = ["main"]
