"""``adam_l2``: Adam with PyTorch-style L2 weight decay, per parameter group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import optax

__all__ = ["adam_l2"]


def adam_l2(
    learning_rate: float,
    weight_decay: float | Mapping[str, float],
    decay_paths: Sequence[str] | None = None,
) -> optax.GradientTransformation:
    """Adam with L2 regularisation added to the gradient (PyTorch ``Adam(weight_decay=...)``).

    Args:
      learning_rate: Adam step size.
      weight_decay: L2 coefficient ``wd`` (``wd * p`` is added to the gradient of ``p``), or a
        mapping from parameter-path prefix to coefficient for per-group decay (GCNII decays its
        convolutions with 0.01 and its linear layers with 5e-4: ``{"convs/": 0.01, "lins/":
        5e-4}``).
      decay_paths: with a float ``weight_decay``, only parameters whose ``/``-joined path starts
        with one of these prefixes are decayed (Kipf & Welling decay the first layer only:
        ``["convs/0/"]``); None decays every parameter.

    Returns:
      An optax transformation.
    """

    def prefix_mask(prefixes):
        def mask(params):
            def keep(path, _):
                name = "/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path)
                return any(name.startswith(p) for p in prefixes)

            return jax.tree_util.tree_map_with_path(keep, params)

        return mask

    if isinstance(weight_decay, Mapping):
        if decay_paths is not None:
            raise ValueError("pass decay_paths only with a single float weight_decay")
        groups = [
            optax.add_decayed_weights(wd, mask=prefix_mask((prefix,)))
            for prefix, wd in weight_decay.items()
        ]
    else:
        mask = prefix_mask(tuple(decay_paths)) if decay_paths else None
        groups = [optax.add_decayed_weights(weight_decay, mask=mask)]
    return optax.chain(*groups, optax.adam(learning_rate))
