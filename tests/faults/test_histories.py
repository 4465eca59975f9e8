"""GNNAutoScale histories that do not match the model: restoring tables saved for another
model (other hidden sizes, other depth) is refused with a message naming the sizes, and no
table is written, so the histories in use are not half-overwritten; inference refuses
histories of the wrong shapes."""

import numpy as np
import pytest
from flax import nnx

from jgnn.history import (
    GASData,
    GASModel,
    MiniInference,
    check_histories,
    history_arrays,
    init_history,
    restore_histories,
)
from jgnn.models import GCN

N, F = 60, 5


def _model(hidden, layers=3):
    return GCN(F, hidden, 3, num_layers=layers, normalize=False, rngs=nnx.Rngs(0))


def _histories(gm, storage="host", value=1.0):
    hists = [init_history(N, f, storage=storage) for f in gm.history_sizes]
    if storage == "host":
        for h in hists:
            h.emb[...] = value
    return hists


@pytest.mark.parametrize("storage", ["host", "device"])
def test_tables_of_another_model_are_refused_and_nothing_is_written(storage):
    mine = GASModel(_model(16), F)  # histories [N, 16], [N, 16]
    saved = history_arrays(_histories(GASModel(_model(16, layers=2), F), value=7.0))
    saved["1"] = np.full((N, 32), 7.0, np.float32)  # layer 0 matches, layer 1 does not
    hists = _histories(mine, storage)
    before = [np.asarray(h.emb).copy() for h in hists]
    with pytest.raises(ValueError, match=r"history 1 is \(60, 16\), the saved table is \(60, 32\)"):
        restore_histories(hists, saved)
    for h, b in zip(hists, before, strict=True):
        np.testing.assert_array_equal(np.asarray(h.emb), b)  # layer 0 was not overwritten


def test_tables_of_a_model_of_another_depth_are_refused():
    mine = GASModel(_model(16, layers=3), F)
    saved = history_arrays(_histories(GASModel(_model(16, layers=2), F), value=7.0))
    hists = _histories(mine)
    with pytest.raises(ValueError, match=r"expected keys \['0', '1'\], got \['0'\]"):
        restore_histories(hists, saved)
    assert all(float(h.emb.max()) == 1.0 for h in hists)


def test_inference_refuses_histories_of_another_model():
    rng = np.random.default_rng(0)
    src, dst = rng.integers(0, N, 200), rng.integers(0, N, 200)
    src, dst = src[src != dst], dst[src != dst]
    edges = np.stack([np.r_[src, dst], np.r_[dst, src]])
    model = _model(16)
    gm = GASModel(model, F)
    wrong = [init_history(N, 32), init_history(N, 32)]
    with pytest.raises(ValueError, match="mismatched hidden sizes"):
        check_histories(gm, wrong, None, N)
    data = GASData(edges, num_parts=4, num_nodes=N, normalize=gm.program.normalize)
    x = data.permute(rng.normal(size=(N, F)).astype(np.float32))
    infer = MiniInference(gm, data, x, parts_per_batch=2)
    with pytest.raises(ValueError, match="mismatched hidden sizes"):
        infer(model, wrong, None)
    assert all(float(np.abs(h.emb).max()) == 0.0 for h in wrong)  # untouched
