"""resolve_impl: the single place where impl="auto" is decided."""

import sys

import pytest

from jgnn.sparse import IMPLS, resolve_impl
from jgnn.sparse._dispatch import pallas_reduces


@pytest.mark.parametrize(
    "reduce, value_ndim, expected",
    [
        ("sum", 0, "bcsr"),
        ("sum", 1, "bcsr"),
        ("mean", 1, "bcsr"),
        ("max", 1, "segment"),
        ("min", 0, "segment"),
        ("sum", 2, "segment"),
        ("mean", 3, "segment"),
    ],
)
def test_auto_on_cpu(reduce, value_ndim, expected):
    assert resolve_impl("auto", reduce=reduce, value_ndim=value_ndim, backend="cpu") == expected


def test_auto_defaults_to_the_current_backend():
    import jax

    assert jax.default_backend() == "cpu"
    assert resolve_impl("auto", reduce="sum", value_ndim=1) == "bcsr"


def test_auto_on_gpu_uses_pallas_when_available(monkeypatch):
    supported = pallas_reduces()
    for reduce in ("sum", "mean", "max", "min"):
        got = resolve_impl("auto", reduce=reduce, value_ndim=1, backend="gpu")
        assert got == ("pallas" if reduce in supported else "segment")
    assert resolve_impl("auto", reduce="sum", value_ndim=2, backend="cuda") == "segment"
    assert resolve_impl("auto", reduce="sum", value_ndim=1, backend="tpu") == "segment"
    monkeypatch.setitem(sys.modules, "pallas_kernels", None)
    assert pallas_reduces() == ()
    assert resolve_impl("auto", reduce="sum", value_ndim=1, backend="gpu") == "segment"


def test_explicit_names_are_validated():
    assert IMPLS == ("auto", "segment", "bcsr", "pallas")
    for impl in ("segment", "bcsr"):
        assert resolve_impl(impl, reduce="sum", value_ndim=1, backend="gpu") == impl
    assert resolve_impl("segment", reduce="max", value_ndim=3) == "segment"
    with pytest.raises(
        ValueError, match=r"impl must be one of \['auto', 'segment', 'bcsr', 'pallas'\], got 'csr'"
    ):
        resolve_impl("csr", reduce="sum", value_ndim=1)
    with pytest.raises(ValueError, match="reduce must be one of"):
        resolve_impl("auto", reduce="prod", value_ndim=1)
    with pytest.raises(NotImplementedError, match="impl='segment'"):
        resolve_impl("bcsr", reduce="max", value_ndim=1)
    with pytest.raises(NotImplementedError, match="impl='segment'"):
        resolve_impl("bcsr", reduce="sum", value_ndim=2)
    with pytest.raises(NotImplementedError, match="impl='segment'"):
        resolve_impl("pallas", reduce="sum", value_ndim=2)
