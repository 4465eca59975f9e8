"""jgnn.loader: fixed-shape, prefetching batches from host samplers for jitted steps.

A pipeline of small stages: a batch source (``jgnn.sampling``) samples a subgraph, it is
padded to a rung of a :class:`Budget` (:func:`pad_subgraph`, hop-block layout that
:func:`trim_to_layer` slices), features are gathered and the batch is put on the device ahead
of the step (:class:`Loader`, on ``grain``). :func:`layerwise_inference` runs exact full-
neighbourhood inference layer by layer through the same machinery.
"""

from jgnn.loader._batch import PaddedBatch as PaddedBatch
from jgnn.loader._batch import pad_subgraph as pad_subgraph
from jgnn.loader._budget import Budget as Budget
from jgnn.loader._budget import Rung as Rung
from jgnn.loader._inference import inference_batches as inference_batches
from jgnn.loader._inference import layerwise_inference as layerwise_inference
from jgnn.loader._loader import Loader as Loader
from jgnn.loader._loader import LoaderIterator as LoaderIterator
from jgnn.loader._report import LoaderReport as LoaderReport
from jgnn.loader._trim import trim_to_layer as trim_to_layer

__all__ = [
    "Budget",
    "Loader",
    "LoaderIterator",
    "LoaderReport",
    "PaddedBatch",
    "Rung",
    "inference_batches",
    "layerwise_inference",
    "pad_subgraph",
    "trim_to_layer",
]
