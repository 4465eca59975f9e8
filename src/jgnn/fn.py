"""DGL-style builtin message and reduce functions, as small frozen descriptors.

A descriptor names a computation symbolically so that :func:`jgnn.ops.update_all` and
:func:`jgnn.ops.apply_edges` can map it onto one fused kernel (``gspmm``/``gsddmm``) instead
of running Python code per edge. jgnn is functional, so unlike DGL the descriptors carry no
field names: the arrays are passed to ``update_all(graph, fn.u_mul_e, fn.sum, u=x, e=w)``.

Message functions (DGL's names, each a :class:`MessageFunction`):

* ``copy_u`` / ``copy_e`` (aliases ``copy_src`` / ``copy_edge``): the source-node or edge
  data itself.
* ``{lhs}_{op}_{rhs}`` for every ordered pair of different targets ``lhs, rhs`` in
  ``u`` (source node), ``v`` (destination node), ``e`` (edge) and every ``op`` in ``add``,
  ``sub``, ``mul``, ``div``, ``dot`` (30 names, e.g. ``u_mul_e``, ``e_dot_v``), plus DGL's
  legacy alias ``src_mul_edge`` for ``u_mul_e``. ``dot`` reduces the last feature axis and
  keeps a trailing axis of size 1, as DGL does.

Reduce functions (each a :class:`ReduceFunction`): ``sum``, ``mean``, ``max``, ``min``,
``prod``, and ``none`` ("keep the messages on the edges", i.e. do not reduce). Every reducer
gives 0 at nodes without incoming messages.

These names shadow Python's ``sum``/``max``/``min`` inside this module's namespace only; use
them qualified (``jgnn.fn.sum``), as with DGL's ``dgl.function``.

Examples:
  >>> from jgnn import fn
  >>> fn.u_mul_e
  MessageFunction(name='u_mul_e', lhs_target='u', op='mul', rhs_target='e')
  >>> fn.copy_u.op, fn.sum.name
  ('copy', 'sum')
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

__all__ = [
    "BINARY_OPS",
    "REDUCE_NAMES",
    "TARGETS",
    "MessageFunction",
    "ReduceFunction",
    "as_reduce_function",
    "copy_e",
    "copy_edge",
    "copy_src",
    "copy_u",
    "max",
    "mean",
    "min",
    "none",
    "prod",
    "src_mul_edge",
    "sum",
]

TARGETS: tuple[str, ...] = ("u", "v", "e")
"""Operand targets: source node (``u``), destination node (``v``), edge (``e``)."""

BINARY_OPS: tuple[str, ...] = ("add", "sub", "mul", "div", "dot")
"""Binary operators of the ``{lhs}_{op}_{rhs}`` message functions."""

REDUCE_NAMES: tuple[str, ...] = ("sum", "mean", "max", "min", "prod", "none")
"""Names of the builtin reducers (``none`` keeps messages on the edges)."""


@dataclass(frozen=True)
class MessageFunction:
    """A builtin message function: ``op(lhs_target data, rhs_target data)`` per edge.

    Attributes:
      name: DGL's name, e.g. ``"u_mul_e"`` or ``"copy_u"``.
      lhs_target: where the left operand lives: ``"u"``, ``"v"`` or ``"e"``.
      op: ``"copy"`` (unary: the left operand itself) or one of :data:`BINARY_OPS`.
      rhs_target: where the right operand lives, or ``None`` for ``op == "copy"``.
    """

    name: str
    lhs_target: str
    op: str
    rhs_target: str | None = None

    def __post_init__(self) -> None:
        if self.lhs_target not in TARGETS:
            raise ValueError(
                f"MessageFunction: lhs_target must be one of {TARGETS}, got {self.lhs_target!r}."
            )
        if self.op == "copy":
            if self.rhs_target is not None:
                raise ValueError(
                    f"MessageFunction: a copy message has no rhs_target, got {self.rhs_target!r}."
                )
        elif self.op in BINARY_OPS:
            if self.rhs_target not in TARGETS:
                raise ValueError(
                    f"MessageFunction: rhs_target must be one of {TARGETS} for op {self.op!r}, "
                    f"got {self.rhs_target!r}."
                )
        else:
            raise ValueError(
                f"MessageFunction: op must be 'copy' or one of {BINARY_OPS}, got {self.op!r}."
            )

    @property
    def targets(self) -> tuple[str, ...]:
        """The targets whose data this message reads, e.g. ``("u", "e")``."""
        if self.rhs_target is None:
            return (self.lhs_target,)
        return (self.lhs_target, self.rhs_target)


@dataclass(frozen=True)
class ReduceFunction:
    """A builtin reducer over each destination node's incoming messages.

    Attributes:
      name: one of :data:`REDUCE_NAMES`.
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in REDUCE_NAMES:
            raise ValueError(
                f"ReduceFunction: name must be one of {REDUCE_NAMES}, got {self.name!r}."
            )


def as_reduce_function(reduce: ReduceFunction | str) -> ReduceFunction:
    """Normalises a reducer given as a descriptor or its name.

    Args:
      reduce: a :class:`ReduceFunction` or one of :data:`REDUCE_NAMES`.

    Returns:
      The matching :class:`ReduceFunction` (the module-level singleton for a name).

    Raises:
      TypeError: ``reduce`` is neither a string nor a :class:`ReduceFunction`.
      ValueError: an unknown reducer name.

    Examples:
      >>> from jgnn import fn
      >>> fn.as_reduce_function("max") is fn.max
      True
    """
    if isinstance(reduce, ReduceFunction):
        return reduce
    if isinstance(reduce, str):
        if reduce not in _REDUCERS:
            raise ValueError(f"Unknown reducer {reduce!r}; expected one of {REDUCE_NAMES}.")
        return _REDUCERS[reduce]
    raise TypeError(
        f"Expected a jgnn.fn reducer or one of {REDUCE_NAMES}, got {type(reduce).__name__}."
    )


# ---------------------------------------------------------------------------------------------
# The builtin instances
# ---------------------------------------------------------------------------------------------

copy_u = MessageFunction("copy_u", "u", "copy")
"""Message = source-node data (``[E, *F]`` gathered from ``u``)."""
copy_e = MessageFunction("copy_e", "e", "copy")
"""Message = edge data."""
copy_src = copy_u
"""DGL's legacy alias of :data:`copy_u`."""
copy_edge = copy_e
"""DGL's legacy alias of :data:`copy_e`."""


def _register_binary() -> list[str]:
    names = []
    for lhs, rhs in itertools.permutations(TARGETS, 2):
        for op in BINARY_OPS:
            name = f"{lhs}_{op}_{rhs}"
            globals()[name] = MessageFunction(name, lhs, op, rhs)
            names.append(name)
    return names


_BINARY_NAMES = _register_binary()
__all__ += _BINARY_NAMES  # generated names stay importable and listed

src_mul_edge: MessageFunction = globals()["u_mul_e"]
"""DGL's legacy alias of ``u_mul_e`` (the same object)."""

sum = ReduceFunction("sum")
"""Sum of the incoming messages (0 without any)."""
mean = ReduceFunction("mean")
"""Mean of the incoming messages (0 without any)."""
max = ReduceFunction("max")
"""Elementwise maximum of the incoming messages (0 without any)."""
min = ReduceFunction("min")
"""Elementwise minimum of the incoming messages (0 without any)."""
prod = ReduceFunction("prod")
"""Elementwise product of the incoming messages (0 without any, DGL's convention)."""
none = ReduceFunction("none")
"""No reduction: the messages stay on the edges (``update_all`` then returns ``[E, *F]``)."""

_REDUCERS: dict[str, ReduceFunction] = {
    "sum": sum,
    "mean": mean,
    "max": max,
    "min": min,
    "prod": prod,
    "none": none,
}
