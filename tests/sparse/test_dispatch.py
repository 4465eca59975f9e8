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

    want = "bcsr" if jax.default_backend() in ("cpu", "gpu", "cuda") else "segment"
    assert resolve_impl("auto", reduce="sum", value_ndim=1) == want


def test_auto_on_gpu_follows_the_measured_rule(monkeypatch):
    """GPU: cuSPARSE (bcsr) for sum/mean with scalar values, segment otherwise (RESULTS.md)."""
    for reduce in ("sum", "mean", "max", "min"):
        got = resolve_impl("auto", reduce=reduce, value_ndim=1, backend="gpu")
        assert got == ("bcsr" if reduce in ("sum", "mean") else "segment")
    assert resolve_impl("auto", reduce="sum", value_ndim=2, backend="cuda") == "segment"
    assert resolve_impl("auto", reduce="sum", value_ndim=1, backend="tpu") == "segment"
    assert set(pallas_reduces()) >= {"sum", "mean"}
    monkeypatch.setitem(sys.modules, "pallas_kernels", None)
    assert pallas_reduces() == ()


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


def test_one_sparse_product_decision():
    """use_sparse_product: the rule every caller (gspmm, propagate, update_all) defers to."""
    from jgnn.sparse import sparse_product_form, use_sparse_product

    assert sparse_product_form("copy_lhs", "max", None)
    assert sparse_product_form("mul", "sum", (5,)) and sparse_product_form("mul", "sum", (5, 1))
    assert not sparse_product_form("mul", "sum", (5, 3))
    assert not sparse_product_form("add", "sum", (5,))
    assert not sparse_product_form("copy_lhs", "prod", None)

    def use(impl="auto", fusable=True, sparse_graph=False, fuse="auto"):
        return use_sparse_product(
            impl, fusable=fusable, sparse_graph=sparse_graph, fuse=fuse, fn="f"
        )

    assert use(sparse_graph=True) and not use() and use(impl="bcsr")
    assert not use(sparse_graph=True, fusable=False)
    assert use(fuse=True) and not use(sparse_graph=True, fuse=False)
    with pytest.raises(NotImplementedError, match="impl='auto' or 'segment'"):
        use(impl="pallas", fusable=False)
    with pytest.raises(NotImplementedError, match="cannot fuse.*fuse='auto'"):
        use(fusable=False, fuse=True)
    with pytest.raises(NotImplementedError, match="fuse=False"):
        use(impl="bcsr", fuse=False)
    with pytest.raises(ValueError, match="f: impl must be one of"):
        use(impl="csr")
    with pytest.raises(ValueError, match="fuse must be 'auto', True or False"):
        use(fuse="yes")


def test_fused_attention_decision():
    """use_fused_attention: pallas demands every condition; auto takes it only on a GPU."""
    from jgnn.sparse import use_fused_attention

    ok = dict(sparse_graph=True, dropout=False, return_attention=False, add_self_loops=False)
    assert use_fused_attention("pallas", **ok, fn="f")
    assert not use_fused_attention("auto", **ok, backend="cpu", fn="f")
    assert use_fused_attention("auto", **ok, backend="gpu", fn="f")
    assert not use_fused_attention("segment", **ok, backend="gpu", fn="f")
    for key, bad in (
        ("sparse_graph", False),
        ("dropout", True),
        ("return_attention", True),
        ("add_self_loops", True),
    ):
        args = {**ok, key: bad}
        assert not use_fused_attention("auto", **args, backend="gpu", fn="f")
        with pytest.raises(NotImplementedError, match="f: impl='pallas'.*needs"):
            use_fused_attention("pallas", **args, fn="f")
    with pytest.raises(ValueError, match="impl must be one of"):
        use_fused_attention("fused", **ok, fn="f")
