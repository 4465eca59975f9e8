"""``ExactEvaluator``: accuracy of a model over every node, computed exactly (not sampled)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from jgnn._checks import static_int
from jgnn.loader import Budget, inference_batches
from jgnn.sampling import as_csc_graph
from jgnn.sparse import as_graph

__all__ = ["ExactEvaluator"]


@functools.partial(jax.jit, static_argnums=0)
def _full_forward(graphdef: Any, state: Any, graph: Any, x: jax.Array) -> jax.Array:
    return nnx.merge(graphdef, state)(graph, x, deterministic=True)


class ExactEvaluator:
    """Accuracy on named node masks from the model's exact output for every node.

    Models with an ``inference`` method (:meth:`jgnn.models.BasicGNN.inference`) run it:
    layer-wise, full-neighbourhood, in batches of ``batch_size`` destination nodes, so device
    memory is bounded by a batch (the padding budget is fitted on the first call and reused).
    Any other model runs once over the whole graph on the device, ``model(graph, x,
    deterministic=True)`` with the graph as a ``GraphsTuple`` whose ``edges`` are
    ``edge_weight`` (compiled once, reused). Either way the result is the full-batch model's
    output, not a sampled estimate.

    Args:
        x: ``[N, F]`` host node features.
        graph: The full graph: an edge index ``[2, E]`` or anything
            ``jgnn.sampling.as_csc_graph`` takes.
        labels: int ``[N]`` classes.
        masks: Name -> bool ``[N]``; accuracy is reported as ``{name}_accuracy``.
        edge_weight: ``[E]`` edge weights (models with edge weights, e.g. GCN with the full
            graph's normalisation), or None.
        batch_size: Destination nodes per inference batch.
        num_workers: Worker processes of the inference loader.
        device: ``jax.device_put`` target, or None.

    Raises:
        ValueError: If the shapes disagree.

    Examples:
        >>> from flax import nnx
        >>> from jgnn.models import GraphSAGE
        >>> edges, x = np.array([[0, 1, 2], [1, 2, 0]]), np.eye(3, dtype=np.float32)
        >>> evaluate = ExactEvaluator(x, edges, np.array([0, 1, 2]), {"all": np.ones(3, bool)})
        >>> list(evaluate(GraphSAGE(3, 4, 3, rngs=nnx.Rngs(0))))
        ['all_accuracy']
    """

    def __init__(
        self,
        x: Any,
        graph: Any,
        labels: Any,
        masks: Mapping[str, Any],
        *,
        edge_weight: Any = None,
        batch_size: int = 2048,
        num_workers: int = 0,
        device: Any = None,
    ) -> None:
        self.x = np.asarray(x)
        n = self.x.shape[0]
        self.labels = np.asarray(labels)
        if self.labels.shape != (n,):
            raise ValueError(f"`labels` must have shape ({n},), got {self.labels.shape}.")
        self.masks = {name: np.asarray(m, bool) for name, m in masks.items()}
        for name, m in self.masks.items():
            if m.shape != (n,):
                raise ValueError(f"mask {name!r} must have shape ({n},), got {m.shape}.")
        self.graph = as_csc_graph(graph, num_nodes=n, edge_weight=edge_weight)
        self.num_workers = static_int(num_workers, "`num_workers`", minimum=0)
        if self.num_workers:
            self.graph = self.graph.share()
        self.batch_size = static_int(batch_size, "`batch_size`", minimum=1)
        self.device = device
        self._budget: Budget | None = None
        self._device_graph: Any = None

    def logits(self, model: Any) -> np.ndarray:
        """``[N, C]`` exact output of ``model`` for every node (host).

        Args:
            model: The model (an NNX module).

        Returns:
            The logits.
        """
        if callable(getattr(model, "inference", None)):
            if self._budget is None:
                self._budget = Budget.fit(
                    inference_batches(self.graph, self.x.shape[0], self.batch_size),
                    num_batches=64,
                    percentile=90.0,
                    num_rungs=3,
                    growth=1.25,
                )
            return model.inference(
                self.x,
                self.graph,
                batch_size=self.batch_size,
                budget=self._budget,
                num_workers=self.num_workers,
                device=self.device,
            )
        if self._device_graph is None:
            g = self.graph
            graph = as_graph(jnp.asarray(g.to_edge_index(), jnp.int32), "ExactEvaluator")
            if g.weight is not None:
                weight = np.empty(g.num_edges, np.float32)
                weight[g.edge_ids] = g.weight
                graph = graph._replace(edges=jnp.asarray(weight))
            self._device_graph = (jax.device_put(graph, self.device), jnp.asarray(self.x))
        graphdef, state = nnx.split(model)
        return np.asarray(_full_forward(graphdef, state, *self._device_graph))

    def __call__(self, model: Any) -> dict[str, float]:
        """``{"{name}_accuracy": float}`` for every mask (0 for an empty mask)."""
        pred = np.argmax(self.logits(model), axis=-1)
        hit = pred == self.labels
        return {
            f"{name}_accuracy": float(hit[m].mean()) if m.any() else 0.0
            for name, m in self.masks.items()
        }
