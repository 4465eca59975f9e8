"""jgnn: functional graph neural networks for JAX.

The graph type is :class:`jraph.GraphsTuple` (re-exported as ``jgnn.GraphsTuple``); every
computation is a pure function over arrays and every layer a thin Flax NNX module around one.

Subpackages: :mod:`jgnn.graph` (construction, validation, padding; its names are also exported
here), :mod:`jgnn.segment` (segment reducers), :mod:`jgnn.ops` (DGL-style
``gspmm``/``gsddmm``/``edge_softmax``),
:mod:`jgnn.fn` (DGL builtin message/reduce functions), :mod:`jgnn.sparse` (``SparseTensor``),
:mod:`jgnn.message_passing` (``propagate``), :mod:`jgnn.nn` (layers), :mod:`jgnn.models`,
:mod:`jgnn.datasets`, :mod:`jgnn.sampling` (host-side samplers), :mod:`jgnn.loader` (static-shape
prefetching batches), :mod:`jgnn.train`.
"""

from jraph import GraphsTuple as GraphsTuple

from jgnn import datasets as datasets
from jgnn import fn as fn
from jgnn import graph as graph
from jgnn import loader as loader
from jgnn import message_passing as message_passing
from jgnn import models as models
from jgnn import nn as nn
from jgnn import ops as ops
from jgnn import sampling as sampling
from jgnn import segment as segment
from jgnn import sparse as sparse
from jgnn import train as train
from jgnn.graph import *  # noqa: F403 - the graph helpers are jgnn's top-level vocabulary
from jgnn.graph import __all__ as _graph_all
from jgnn.message_passing import MessagePassing as MessagePassing
from jgnn.message_passing import propagate as propagate
from jgnn.sparse import Graph as Graph
from jgnn.sparse import SparseTensor as SparseTensor

__version__ = "0.1.0"

__all__ = [
    "Graph",
    "GraphsTuple",
    "MessagePassing",
    "SparseTensor",
    "datasets",
    "fn",
    "graph",
    "loader",
    "message_passing",
    "models",
    "nn",
    "ops",
    "propagate",
    "sampling",
    "segment",
    "sparse",
    "train",
    *_graph_all,
]
