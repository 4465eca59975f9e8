"""jgnn.fn: DGL's builtin names as frozen descriptors."""

import dataclasses
import itertools

import pytest

from jgnn import fn

# DGL's documented builtin message functions (docs/source/api/python/function.rst).
DGL_MESSAGES = {
    "copy_src", "copy_edge", "src_mul_edge", "copy_u", "copy_e",
    "u_add_v", "u_sub_v", "u_mul_v", "u_div_v", "u_add_e", "u_sub_e", "u_mul_e", "u_div_e",
    "v_add_u", "v_sub_u", "v_mul_u", "v_div_u", "v_add_e", "v_sub_e", "v_mul_e", "v_div_e",
    "e_add_u", "e_sub_u", "e_mul_u", "e_div_u", "e_add_v", "e_sub_v", "e_mul_v", "e_div_v",
    "u_dot_v", "u_dot_e", "v_dot_e", "v_dot_u", "e_dot_u", "e_dot_v",
}  # fmt: skip


def test_every_dgl_message_is_importable_and_listed():
    for name in DGL_MESSAGES:
        assert name in fn.__all__, name
        assert isinstance(getattr(fn, name), fn.MessageFunction)
    from jgnn.fn import e_dot_v, u_mul_e  # noqa: F401 -- plain imports work

    binary = [n for n in fn.__all__ if n.count("_") == 2 and n[0] in "uve"]
    assert len(binary) == 30  # ordered pairs of different targets x 5 ops


@pytest.mark.parametrize(
    ("lhs", "rhs", "op"),
    [(a, b, op) for a, b in itertools.permutations("uve", 2) for op in fn.BINARY_OPS],
)
def test_binary_descriptor_fields(lhs, rhs, op):
    m = getattr(fn, f"{lhs}_{op}_{rhs}")
    assert (m.lhs_target, m.op, m.rhs_target) == (lhs, op, rhs)
    assert m.name == f"{lhs}_{op}_{rhs}"
    assert m.targets == (lhs, rhs)


def test_copy_and_aliases():
    assert (fn.copy_u.lhs_target, fn.copy_u.op, fn.copy_u.rhs_target) == ("u", "copy", None)
    assert fn.copy_e.targets == ("e",)
    assert fn.copy_src is fn.copy_u and fn.copy_edge is fn.copy_e
    assert fn.src_mul_edge is fn.u_mul_e
    assert not hasattr(fn, "u_add_u")  # same-target pairs are not DGL builtins


def test_reducers():
    for name in ("sum", "mean", "max", "min", "prod", "none"):
        r = getattr(fn, name)
        assert isinstance(r, fn.ReduceFunction) and r.name == name
        assert fn.as_reduce_function(name) is r
        assert fn.as_reduce_function(r) is r
    with pytest.raises(ValueError, match="Unknown reducer 'std'"):
        fn.as_reduce_function("std")
    with pytest.raises(TypeError, match="got int"):
        fn.as_reduce_function(3)


def test_descriptors_are_frozen_hashable_and_validated():
    with pytest.raises(dataclasses.FrozenInstanceError):
        fn.u_mul_e.op = "add"
    assert {fn.u_mul_e: 1}[fn.MessageFunction("u_mul_e", "u", "mul", "e")] == 1
    assert fn.sum == fn.ReduceFunction("sum")
    with pytest.raises(ValueError, match="lhs_target must be one of"):
        fn.MessageFunction("x", "w", "copy")
    with pytest.raises(ValueError, match="op must be 'copy' or one of"):
        fn.MessageFunction("x", "u", "pow", "e")
    with pytest.raises(ValueError, match="rhs_target must be one of"):
        fn.MessageFunction("x", "u", "add", None)
    with pytest.raises(ValueError, match="a copy message has no rhs_target"):
        fn.MessageFunction("x", "u", "copy", "e")
    with pytest.raises(ValueError, match="name must be one of"):
        fn.ReduceFunction("median")
