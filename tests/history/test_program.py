"""GAS programs: which models and settings are accepted, and the history sizes they need."""

import pytest
from flax import nnx

from jgnn.history import GASModel, check_histories, gas_program, init_history
from jgnn.models import GCN, GCNII, APPNPNet


def test_unsupported_models_and_settings_are_refused(csbm):
    rngs = nnx.Rngs(0)
    with pytest.raises(TypeError, match="GASProgram"):
        gas_program(nnx.Linear(3, 4, rngs=rngs))
    with pytest.raises(ValueError, match="normalize=False"):
        gas_program(GCN(4, 8, 2, rngs=rngs))
    with pytest.raises(ValueError, match="normalize=False"):
        gas_program(GCNII(4, 8, 2, num_layers=2, normalize=True, rngs=rngs))
    with pytest.raises(NotImplementedError, match="K >= 1"):
        gas_program(APPNPNet(4, 8, 2, k=0, rngs=rngs))


def test_mismatched_histories_are_refused(csbm):
    model = GCN(12, 16, 4, num_layers=3, normalize=False, rngs=nnx.Rngs(0))
    gm = GASModel(model, 12)
    assert gm.history_sizes == (16, 16) and gm.context_size is None
    n = csbm.num_nodes
    with pytest.raises(ValueError, match="mismatched hidden sizes"):
        check_histories(gm, [init_history(n, 16), init_history(n, 8)], None, n)
    with pytest.raises(ValueError, match="needs 2 histories"):
        check_histories(gm, [init_history(n, 16)], None, n)
    with pytest.raises(ValueError, match="context"):
        check_histories(gm, [init_history(n, 16)] * 2, init_history(n, 3), n)
    gm2 = GASModel(GCNII(12, 8, 4, num_layers=3, rngs=nnx.Rngs(0)), 12)
    assert gm2.history_sizes == (8, 8) and gm2.context_size == 8
