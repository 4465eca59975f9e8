"""Functions run in a spawned worker process (importable by reference from the tests)."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np


def read_store(payload: bytes) -> dict:
    """Unpickles a store and reports its arrays' digests and whether they are file-backed."""
    store = pickle.loads(payload)
    out = {"shared": store.is_shared}
    for name in ("indptr", "indices", "edge_ids", "weight"):
        arr = getattr(store, name)
        if arr is None:
            continue
        out[name] = hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()
        out[name + "_owns_data"] = bool(arr.flags.owndata)
        out[name + "_writeable"] = bool(arr.flags.writeable)
    return out


def get_batch(payload: bytes, epoch: int, index: int):
    """Unpickles a batch source and returns one of its batches."""
    return pickle.loads(payload).get(epoch, index)
