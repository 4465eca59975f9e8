"""Makes the shared oracle module ``_mp_oracle`` of this directory importable.

pytest runs with ``--import-mode=importlib``, which does not put test directories on
``sys.path``; the helper module has a name unique to this directory.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def gspmm_calls(monkeypatch):
    """Records the ``(x, edge values)`` arguments of every gspmm call propagate makes (the
    fused path)."""
    import jgnn.message_passing._propagate as propagate_mod

    calls = []
    real = propagate_mod.gspmm

    def spy(*args, **kwargs):
        calls.append(args[1:3])
        return real(*args, **kwargs)

    monkeypatch.setattr(propagate_mod, "gspmm", spy)
    return calls
