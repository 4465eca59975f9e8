"""The operator methods of :class:`SparseTensor`, attached when :mod:`jgnn.sparse` is imported.

``SparseTensor`` (``_tensor.py``) is the container; the operations live in ``_ops.py``,
``_spmm.py`` and ``_spspmm.py``, which import the container. Attaching the methods here (as JAX
attaches ``jax.Array``'s methods in one place) keeps every import pointing down: nothing in
``_tensor.py`` imports an operation.
"""

from __future__ import annotations

from typing import Any

from jax import Array
from jax.typing import ArrayLike

from jgnn.sparse._ops import elementwise, getitem, reduce_mean, reduce_sum, remove_diag, set_diag
from jgnn.sparse._spmm import spmm
from jgnn.sparse._spspmm import spspmm
from jgnn.sparse._tensor import SparseTensor

__all__: list[str] = []


def _matmul(self: SparseTensor, other: Any, reduce: str = "sum", impl: str = "auto") -> Any:
    """``self @ other``: :func:`jgnn.sparse.spmm` or, for a SparseTensor, ``spspmm``."""
    if isinstance(other, SparseTensor):
        if reduce != "sum":
            raise NotImplementedError(
                f"sparse @ sparse supports reduce='sum' only, got {reduce!r}; densify one "
                "side and use spmm for other reductions."
            )
        return spspmm(self, other)
    return spmm(self, other, reduce=reduce, impl=impl)


def _set_diag(self: SparseTensor, values: ArrayLike | None = None) -> SparseTensor:
    """See :func:`jgnn.sparse.set_diag`."""
    return set_diag(self, values)


def _remove_diag(self: SparseTensor) -> SparseTensor:
    """See :func:`jgnn.sparse.remove_diag`."""
    return remove_diag(self)


def _sum(self: SparseTensor, dim: int) -> Array:
    """See :func:`jgnn.sparse.reduce_sum`."""
    return reduce_sum(self, dim)


def _mean(self: SparseTensor, dim: int) -> Array:
    """See :func:`jgnn.sparse.reduce_mean`."""
    return reduce_mean(self, dim)


def _binary(op: str, swap_scalar: float | None = None):
    """``self <op> other`` through :func:`elementwise`; ``-self`` is ``self * -1``."""
    if swap_scalar is not None:
        return lambda self: elementwise(self, swap_scalar, op)
    return lambda self, other: elementwise(self, other, op)


_METHODS = {
    "matmul": _matmul,
    "__matmul__": lambda self, other: _matmul(self, other),
    "__getitem__": getitem,
    "set_diag": _set_diag,
    "remove_diag": _remove_diag,
    "sum": _sum,
    "mean": _mean,
    "__mul__": _binary("mul"),
    "__rmul__": _binary("mul"),
    "__truediv__": _binary("div"),
    "__rtruediv__": _binary("rdiv"),
    "__add__": _binary("add"),
    "__radd__": _binary("add"),
    "__sub__": _binary("sub"),
    "__rsub__": _binary("rsub"),
    "__neg__": _binary("mul", swap_scalar=-1),
}

for _name, _method in _METHODS.items():
    setattr(SparseTensor, _name, _method)
