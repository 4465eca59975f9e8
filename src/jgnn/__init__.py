"""jgnn: functional graph neural networks for JAX.

The graph type is :class:`jraph.GraphsTuple` (re-exported as ``jgnn.GraphsTuple``); every
computation is a pure function over arrays and every layer a thin Flax NNX module around one.
"""

from jraph import GraphsTuple as GraphsTuple

from jgnn import datasets as datasets
from jgnn import graph as graph
from jgnn import ops as ops
from jgnn.graph import *  # noqa: F403 - the graph helpers are jgnn's top-level vocabulary
from jgnn.graph import __all__ as _graph_all

__version__ = "0.1.0"

__all__ = ["GraphsTuple", "datasets", "graph", "ops", *_graph_all]
