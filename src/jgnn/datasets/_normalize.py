"""Row normalisation of node features, matching PyG's ``NormalizeFeatures``."""

from __future__ import annotations

import numpy as np

__all__ = ["normalize_features"]


def normalize_features(x: np.ndarray) -> np.ndarray:
    """Row-normalises a feature matrix so that each row sums to 1, like PyG's transform.

    Host-side NumPy (accepts NumPy or JAX arrays). Follows ``torch_geometric.transforms.
    NormalizeFeatures`` exactly: the global minimum is subtracted first (a no-op for
    non-negative features with a zero entry, such as bag-of-words), then each row is divided by
    ``max(row_sum, 1)``. Rows of zeros therefore stay zero, and a row whose sum is below 1 is
    left unscaled (PyG's clamp) rather than blown up; for the integer-valued Cora and CiteSeer
    features every non-zero row sums to exactly 1 afterwards.

    Args:
        x: Features ``[N, F]`` (any real dtype).

    Returns:
        float32 ``[N, F]``, a new array.

    Raises:
        ValueError: If ``x`` is not 2-D.

    Examples:
        >>> import numpy as np
        >>> normalize_features(np.array([[1.0, 3.0], [0.0, 0.0]]))
        array([[0.25, 0.75],
               [0.  , 0.  ]], dtype=float32)
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"`x` must be 2-D [N, F], got shape {x.shape}.")
    out = x.astype(np.float32, copy=True)
    if out.size == 0:
        return out
    out -= out.min()
    out /= np.maximum(out.sum(axis=1, keepdims=True), np.float32(1.0))
    return out
