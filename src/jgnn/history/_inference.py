"""Layer-wise exact inference over GAS batches (GNNAutoScale's ``mini_inference``).

Evaluating with histories left by training would mix embeddings of several parameter states.
:class:`MiniInference` instead fills every history in layer order with the current
parameters: pass 0 runs ``encode`` and layer 0 on every batch and pushes the batch rows to
history 0 (and the context, e.g. GCNII's ``x_0``, to the context store); pass ``l`` reads
*all* its rows, batch and halo, from history ``l - 1`` (complete by then), runs layer ``l`` and
pushes to history ``l``; the last pass decodes into the ``[N, C]`` output. Every pass sees the
exact previous layer, so the output equals the full-batch model's (up to float rounding), in
device memory bounded by one batch. It is also how histories are warmed up before training.

Host histories are pulled and pushed with the asynchronous machinery of
:mod:`jgnn.history._transfer`: while batch ``b`` computes, batch ``b + 1``'s rows are gathered
and sent, and batch ``b - 1``'s outputs land on a writer thread. Device histories are read and
updated on the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from flax import nnx

from jgnn.history._batches import GASBatches, GASBudget, GASData
from jgnn.history._forward import GASModel, batch_graph
from jgnn.history._history import History, pull, push
from jgnn.history._program import GASProgram
from jgnn.history._transfer import PushWriter, TransferStats

__all__ = ["MiniInference", "check_histories", "mini_inference"]


def check_histories(
    gas_model: GASModel,
    histories: Sequence[History],
    context: History | None,
    num_nodes: int,
) -> None:
    """Raises ``ValueError`` unless the stores match the model's history and context sizes."""
    sizes = gas_model.history_sizes
    if len(histories) != len(sizes):
        raise ValueError(
            f"the model has {gas_model.num_layers} layers and needs {len(sizes)} histories "
            f"(sizes {sizes}), got {len(histories)}."
        )
    for i, (h, f) in enumerate(zip(histories, sizes, strict=True)):
        if not isinstance(h, History) or h.emb.ndim != 2:
            raise TypeError(f"histories[{i}] must be a jgnn.history.History, got {h!r}.")
        if h.features != f or h.num_nodes != num_nodes:
            raise ValueError(
                f"histories[{i}] is [{h.num_nodes}, {h.features}] but layer {i} of the model "
                f"outputs {f} features for {num_nodes} nodes (mismatched hidden sizes)."
            )
    want = gas_model.context_size
    if (want is None) != (context is None):
        raise ValueError(
            f"the model's context size is {want}; pass context="
            f"{'None' if want is None else f'a [{num_nodes}, {want}] History'}."
        )
    if context is not None and (context.features != want or context.num_nodes != num_nodes):
        raise ValueError(
            f"the context store is [{context.num_nodes}, {context.features}], expected "
            f"[{num_nodes}, {want}]."
        )


def _layer_fn(
    graphdef: Any,
    program: GASProgram,
    index: int,
    state: Any,
    batch: Any,
    h: Any,
    ctx: Any,
    earlier: Any,
) -> tuple[jax.Array, Any]:
    """Layer ``index`` on one batch in evaluation mode: batch rows (or logits), context rows."""
    model = nnx.merge(graphdef, state)
    num_b = batch.node_blocks[0]
    graph = batch_graph(batch, program.normalize)
    ctx_b = None
    if index == 0:
        h, ctx = program.encode(model, batch.x, True)
        ctx_b = None if ctx is None else ctx[:num_b]
    out = program.layer(model, index, graph, h, ctx, True, batch.seed_mask)[:num_b]
    if index == program.num_layers - 1:
        outs = [*earlier, out] if program.all_outputs else [out]
        out = program.decode(model, outs, True)
    return out, ctx_b


_jit_layer = jax.jit(_layer_fn, static_argnums=(0, 1, 2))


def _device_push(history: History, rows: jax.Array, ids: jax.Array) -> History:
    return push(history, rows, ids)


def _jit_device_push(history: History, rows: jax.Array, ids: jax.Array) -> History:
    """The jitted device push; the old table is donated where the backend can donate."""
    donate = () if jax.default_backend() == "cpu" else (0,)
    return jax.jit(_device_push, donate_argnums=donate)(history, rows, ids)


class MiniInference:
    """Exact layer-wise inference over the fixed GAS batches of a graph (see the module).

    Host-side: not jittable (a loop around jitted layers, one compilation per layer). Build it once
    and call it after every epoch: the batches are padded once, and the compiled layers are reused.

    Args:
      gas_model: The :class:`GASModel`.
      data: The :class:`GASData`.
      x: ``[N, F]`` input features in ``data``'s new numbering (``data.permute(x)``).
      parts_per_batch: Parts per inference batch.
      budget: Padding sizes; default: fitted to the fixed batches.
      device: ``jax.device_put`` target, or None.

    Raises:
      ValueError: If ``x`` does not have one row per node.
    """

    def __init__(
        self,
        gas_model: GASModel,
        data: GASData,
        x: Any,
        *,
        parts_per_batch: int,
        budget: GASBudget | None = None,
        device: Any = None,
    ) -> None:
        self.gas_model = gas_model
        self.data = data
        x = np.asarray(x, np.float32)
        if x.ndim != 2 or x.shape[0] != data.num_nodes:
            raise ValueError(
                f"`x` must be [N={data.num_nodes}, F] features in the GAS numbering, got {x.shape}."
            )
        self.features = History(x)
        self.source = GASBatches(data, parts_per_batch, shuffle=False, budget=budget)
        self.batches = [self.source.pad(s) for s in self.source.iter_epoch(0)]
        self.ranges = [data.ranges(self.source.parts(0, i)) for i in range(len(self.source))]
        self.device = device
        self.stats = TransferStats()

    def __call__(
        self,
        model: Any,
        histories: Sequence[History],
        context: History | None = None,
        *,
        transfers: str = "async",
    ) -> tuple[np.ndarray, tuple[History, ...], History | None]:
        """Fills every history with ``model``'s exact embeddings and returns its logits.

        Args:
          model: The model (its current parameters are used, in evaluation mode).
          histories: ``L - 1`` histories of the model's sizes (host or device).
          context: The context store, when the model has one.
          transfers: ``"async"`` or ``"sync"`` (host histories).

        Returns:
          ``(logits, histories, context)``: float32 ``[N, C]`` logits in the new numbering
          (``data.unpermute`` maps them back) and the filled stores. Host stores are the same
          objects, written in place; device stores are new arrays, and the ones passed in are
          donated (invalid afterwards) on backends that support donation.

        Raises:
          ValueError: If the stores do not match the model.
        """
        gm, program = self.gas_model, self.gas_model.program
        check_histories(gm, histories, context, self.data.num_nodes)
        graphdef, state = nnx.split(model)
        stores = list(histories)
        out_store: History | None = None
        with PushWriter(transfers, self.stats) as writer:
            for index in range(program.num_layers):
                last = index == program.num_layers - 1
                inputs = self._inputs(index, 0, stores, context, last)
                for b in range(len(self.batches)):
                    batch, h, ctx, earlier = inputs
                    out, ctx_b = _jit_layer(graphdef, program, index, state, batch, h, ctx, earlier)
                    ids = batch.n_id[: batch.node_blocks[0]]
                    if last:
                        if out_store is None:
                            shape = (self.data.num_nodes, out.shape[1])
                            out_store = History(np.zeros(shape, out.dtype))
                        self._push(writer, out_store, out, ids, b)
                    else:
                        stores[index] = self._push(writer, stores[index], out, ids, b)
                    if ctx_b is not None:
                        context = self._push(writer, context, ctx_b, ids, b)
                    if b + 1 < len(self.batches):  # gathered while batch b computes
                        inputs = self._inputs(index, b + 1, stores, context, last)
                writer.wait_all()
        return np.asarray(out_store.emb), tuple(stores), context

    def _push(
        self, writer: PushWriter, store: History, rows: jax.Array, ids: jax.Array, b: int
    ) -> History:
        """Batch ``b``'s rows into ``store``: on the device at once, through the writer else."""
        if store.on_device:
            return _jit_device_push(store, rows, ids)
        writer.submit([rows], [store], self.ranges[b])
        return store

    def _inputs(
        self,
        index: int,
        b: int,
        stores: Sequence[History],
        context: History | None,
        last: bool,
    ) -> tuple[Any, Any, Any, Any]:
        """Batch ``b``'s arguments for layer ``index``, put on the device (asynchronously)."""
        host = self.batches[b]
        n_id = host.n_id
        num_b = host.node_blocks[0]
        if index == 0:
            batch = host.replace(x=pull(self.features, n_id))
            h = ctx = None
        else:
            batch = host
            h = self._pull(stores[index - 1], n_id)
            ctx = None if context is None else self._pull(context, n_id)
        earlier = ()
        if last and self.gas_model.program.all_outputs:
            earlier = tuple(self._pull(s, n_id[:num_b]) for s in stores)
        return jax.device_put((batch, h, ctx, earlier), self.device)

    def _pull(self, store: History, ids: np.ndarray) -> Any:
        if store.on_device:
            return pull(store, jax.device_put(ids, store.emb.sharding))
        rows = pull(store, ids)
        self.stats.pulled_bytes += rows.nbytes
        return rows


def mini_inference(
    gas_model: GASModel,
    data: GASData,
    x: Any,
    histories: Sequence[History],
    context: History | None = None,
    *,
    parts_per_batch: int,
    transfers: str = "async",
) -> tuple[np.ndarray, tuple[History, ...], History | None]:
    """One-off :class:`MiniInference` (build the class to reuse the padded batches).

    Args:
      gas_model: The :class:`GASModel`.
      data: The :class:`GASData`.
      x: ``[N, F]`` features in the new numbering.
      histories: The model's histories.
      context: Its context store, if any.
      parts_per_batch: Parts per batch.
      transfers: ``"async"`` or ``"sync"``.

    Returns:
      ``(logits [N, C] in the new numbering, histories, context)``.
    """
    infer = MiniInference(gas_model, data, x, parts_per_batch=parts_per_batch)
    return infer(gas_model.model, histories, context, transfers=transfers)
