"""``FitResult``: what every training loop of :mod:`jgnn.train` returns."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["FitResult"]


@dataclasses.dataclass(frozen=True)
class FitResult:
    """What a training loop reports (full-batch, mini-batch, GNNAutoScale).

    Attributes:
      metrics: ``test_accuracy`` and ``val_accuracy`` (at the epoch of best validation
        accuracy, PyG's example convention), ``best_epoch``, ``final_train_loss``, median
        ``epoch_time_ms`` (after compilation), ``compile_time_s``,
        ``peak_memory_bytes``/``peak_memory_source``, plus what the loop adds (precision,
        loader and transfer figures, ...).
      history: one dict per epoch with at least ``loss`` and, where evaluated,
        ``val_accuracy``/``test_accuracy``.
    """

    metrics: dict[str, Any]
    history: list[dict[str, float]]
