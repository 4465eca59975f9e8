"""Multi-layer perceptron applied node-wise, with optional padding-aware normalisation.

The layout follows PyG's ``torch_geometric.nn.MLP``: every hidden layer is
``Linear -> norm -> act -> dropout`` (``act -> norm`` with ``act_first=True``) and, with
``plain_last=True``, the last layer is a bare ``Linear``. The math of each step is a pure
function (``x @ kernel + bias``, :func:`jgnn.nn.batch_norm` / :func:`jgnn.nn.layer_norm` /
:func:`jgnn.nn.graph_norm`, the activation, dropout); :class:`MLP` only owns the sub-modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
from flax import nnx

from jgnn.nn._batch_norm import BatchNorm
from jgnn.nn._features import check_features
from jgnn.nn._graph_norm import GraphNorm
from jgnn.nn._layer_norm import LayerNorm
from jgnn.nn._linear import linear_on_features
from jgnn.sparse import SparseTensor

__all__ = ["MLP"]

_NORMS = {"batch_norm": BatchNorm, "layer_norm": LayerNorm, "graph_norm": GraphNorm}


def _resolve_act(act: str | Callable[[jax.Array], jax.Array] | None):
    if act is None or callable(act):
        return act
    if isinstance(act, str) and callable(getattr(jax.nn, act, None)):
        return getattr(jax.nn, act)
    raise ValueError(
        f"MLP: `act` must be a callable, None or the name of a jax.nn activation "
        f"(e.g. 'relu', 'gelu'), got {act!r}."
    )


def _channel_list(
    channel_list: Sequence[int] | int | None,
    in_features: int | None,
    hidden_features: int | None,
    out_features: int | None,
    num_layers: int | None,
) -> list[int]:
    if isinstance(channel_list, int) and not isinstance(channel_list, bool):
        if in_features is not None:
            raise ValueError("MLP: pass `in_features` either positionally or by name, not both.")
        in_features, channel_list = channel_list, None
    if channel_list is not None:
        if any(v is not None for v in (in_features, hidden_features, out_features, num_layers)):
            raise ValueError(
                "MLP: pass either `channel_list` or `in_features`/`hidden_features`/"
                "`out_features`/`num_layers`, not both."
            )
        channels = list(channel_list)
    else:
        if in_features is None or out_features is None or num_layers is None:
            raise ValueError(
                "MLP: without `channel_list`, `in_features`, `out_features` and `num_layers` "
                f"are required; got in_features={in_features}, out_features={out_features}, "
                f"num_layers={num_layers}."
            )
        if num_layers < 1:
            raise ValueError(f"MLP: `num_layers` must be >= 1, got {num_layers}.")
        if num_layers > 1 and hidden_features is None:
            raise ValueError(f"MLP: `hidden_features` is required for num_layers={num_layers}.")
        channels = [in_features] + [hidden_features] * (num_layers - 1) + [out_features]
    if len(channels) < 2 or any(
        isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in channels
    ):
        raise ValueError(
            f"MLP: `channel_list` must hold at least two positive ints, got {channels!r}."
        )
    return channels


class MLP(nnx.Module):
    """Multi-layer perceptron over node features, in the layout of PyG's ``MLP``.

    Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors"
    (Nature 1986); normalisation by Ioffe & Szegedy (2015), Ba et al. (2016) or Cai et al.
    (2021). Each hidden layer applies ``Linear -> norm -> act -> dropout``; with
    ``plain_last=True`` the last layer is a plain ``Linear`` (followed only by its dropout rate,
    which is 0 when ``dropout`` is a float).

    Padding: linear layers and activations act row by row, so padding rows can only reach real
    rows through normalisation statistics; ``mask`` keeps them out. With a ``mask`` the input's
    masked rows are zeroed first (garbage or NaN there cannot leak) and the output's masked rows
    are 0.

    Modes: ``deterministic`` switches dropout off, ``use_running_average`` makes
    :class:`BatchNorm` use its running statistics; ``model.eval()`` / ``model.train()`` set both.
    A ``deterministic`` passed to the call also sets ``use_running_average`` unless that is
    given too, so ``mlp(x, deterministic=True)`` is PyG's evaluation mode.

    Departures from PyG: ``norm`` defaults to None (PyG: ``"batch_norm"``); ``"layer_norm"``
    builds :class:`LayerNorm` with jgnn's default ``mode="node"`` (PyG's MLP normalises per
    graph); pass ``norm_kwargs={"mode": "graph"}`` for PyG's behaviour. Kernels are ``[in, out]``
    (torch: ``[out, in]``) and initialised as ``flax.nnx.Linear`` does.

    Shapes:
      - input: ``[N, in_features]``; optional ``mask [N]``; ``graph`` (``n_node [G]``) or
        ``batch [N]`` for the per-graph norms.
      - output: ``[N, out_features]``.

    Args:
      channel_list: feature sizes ``[in, hidden..., out]``, or ``in_features`` as an int.
      in_features: input size (with ``hidden_features``, ``out_features``, ``num_layers``).
      hidden_features: hidden size (needed when ``num_layers > 1``).
      out_features: output size.
      num_layers: number of linear layers.
      dropout: dropout rate, or one rate per layer.
      act: activation (callable, a ``jax.nn`` name such as ``"relu"``, or None).
      act_first: apply the activation before the normalisation.
      norm: None, ``"batch_norm"``, ``"layer_norm"`` or ``"graph_norm"``.
      norm_kwargs: extra keyword arguments for the norm constructor (e.g. ``momentum``).
      plain_last: leave the last layer without norm and activation.
      use_bias: linear layers learn a bias.
      dtype: computation dtype (None: the input's).
      param_dtype: parameter storage dtype.
      rngs: random number generators (keyword-only; ``params`` initialises the kernels,
        ``dropout`` drives dropout).

    Raises:
      ValueError: inconsistent sizes, an unknown ``norm`` or ``act``, or a ``dropout`` list of
        the wrong length.

    Examples:
      >>> from flax import nnx
      >>> import jax.numpy as jnp
      >>> mlp = MLP([4, 16, 2], norm="batch_norm", rngs=nnx.Rngs(0))
      >>> mlp(jnp.ones((5, 4)), deterministic=True).shape
      (5, 2)
    """

    def __init__(
        self,
        channel_list: Sequence[int] | int | None = None,
        *,
        in_features: int | None = None,
        hidden_features: int | None = None,
        out_features: int | None = None,
        num_layers: int | None = None,
        dropout: float | Sequence[float] = 0.0,
        act: str | Callable[[jax.Array], jax.Array] | None = nnx.relu,
        act_first: bool = False,
        norm: str | None = None,
        norm_kwargs: Mapping[str, Any] | None = None,
        plain_last: bool = True,
        use_bias: bool = True,
        dtype: jnp.dtype | None = None,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        channels = _channel_list(
            channel_list, in_features, hidden_features, out_features, num_layers
        )
        n_lin = len(channels) - 1
        if isinstance(dropout, int | float):
            rates = [float(dropout)] * n_lin
            if plain_last:
                rates[-1] = 0.0
        else:
            rates = [float(r) for r in dropout]
            if len(rates) != n_lin:
                raise ValueError(
                    f"MLP: got {len(rates)} dropout rates for {n_lin} layers; pass a float or "
                    f"{n_lin} rates."
                )
        if any(not 0.0 <= r <= 1.0 for r in rates):
            raise ValueError(f"MLP: dropout rates must be in [0, 1], got {rates}.")
        if norm is not None and norm not in _NORMS:
            raise ValueError(f"MLP: `norm` must be None or one of {sorted(_NORMS)}, got {norm!r}.")

        self.channel_list = tuple(channels)
        self.act = _resolve_act(act)
        self.act_first = act_first
        self.plain_last = plain_last
        self.norm = norm
        self.dtype = dtype
        self.linears = nnx.List(
            [
                nnx.Linear(
                    c_in,
                    c_out,
                    use_bias=use_bias,
                    dtype=dtype,
                    param_dtype=param_dtype,
                    rngs=rngs,
                )
                for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
            ]
        )
        n_norm = n_lin - 1 if plain_last else n_lin
        if norm is None:
            self.norms = None
        else:
            cls = _NORMS[norm]
            kwargs = dict(norm_kwargs or {})
            self.norms = nnx.List(
                [
                    cls(c, dtype=dtype, param_dtype=param_dtype, rngs=rngs, **kwargs)
                    for c in channels[1 : 1 + n_norm]
                ]
            )
        self.dropouts = nnx.List([nnx.Dropout(r, rngs=rngs) for r in rates])

    @property
    def in_features(self) -> int:
        """Input feature size."""
        return self.channel_list[0]

    @property
    def out_features(self) -> int:
        """Output feature size."""
        return self.channel_list[-1]

    @property
    def num_layers(self) -> int:
        """Number of linear layers."""
        return len(self.channel_list) - 1

    def __call__(
        self,
        x: jax.Array,
        graph: jraph.GraphsTuple | None = None,
        *,
        batch: jax.Array | None = None,
        num_graphs: int | None = None,
        mask: jax.Array | None = None,
        deterministic: bool | None = None,
        use_running_average: bool | None = None,
    ) -> jax.Array:
        """Applies the MLP to every node.

        Args:
          x: ``[N, in_features]``, dense or a ``SparseTensor`` (bag-of-words inputs: the first
            layer is then a sparse product; no ``mask``).
          graph: batch of graphs for ``"layer_norm"`` in graph mode or ``"graph_norm"``.
          batch: instead of ``graph``: graph index of every node ``[N]``.
          num_graphs: static number of graphs with ``batch``.
          mask: optional ``[N]`` bool, True for real nodes.
          deterministic: disable dropout (None: each Dropout's own ``deterministic``
            attribute, False unless ``model.eval()`` was called).
          use_running_average: BatchNorm mode (None: ``deterministic`` when given, else the
            BatchNorm's own attribute).

        Returns:
          ``[N, out_features]``.

        Raises:
          ValueError: ``x`` is not ``[N, in_features]`` or ``mask`` is not ``[N]``.
        """
        check_features(x, self.in_features, "MLP")
        keep = None
        if mask is not None and isinstance(x, SparseTensor):
            raise ValueError("MLP: `mask` is not supported with SparseTensor features")
        if mask is not None:
            keep = jnp.asarray(mask)
            if keep.shape != (x.shape[0],):
                raise ValueError(
                    f"MLP: `mask` must have shape ({x.shape[0]},) to match `x`, got {keep.shape}."
                )
            keep = keep.astype(jnp.bool_)
            x = jnp.where(keep[:, None], x, jnp.zeros((), x.dtype))
        if use_running_average is None:
            use_running_average = deterministic
        for i, linear in enumerate(self.linears):
            x = linear_on_features(linear, x)
            last = i == self.num_layers - 1
            if not (last and self.plain_last):
                if self.act is not None and self.act_first:
                    x = self.act(x)
                if self.norms is not None:
                    x = self._apply_norm(
                        self.norms[i], x, graph, batch, num_graphs, mask, use_running_average
                    )
                if self.act is not None and not self.act_first:
                    x = self.act(x)
            x = self.dropouts[i](x, deterministic=deterministic)
        if keep is not None:
            x = jnp.where(keep[:, None], x, jnp.zeros((), x.dtype))
        return x

    @staticmethod
    def _apply_norm(norm, x, graph, batch, num_graphs, mask, use_running_average):
        if isinstance(norm, BatchNorm):
            return norm(x, mask=mask, use_running_average=use_running_average)
        if isinstance(norm, LayerNorm) and norm.mode == "node":
            return norm(x, mask=mask)
        return norm(x, graph, batch=batch, num_graphs=num_graphs, mask=mask)
