"""The implementation decisions of message passing, in one place.

:func:`resolve_impl` turns ``impl="auto"`` into a concrete SpMM kernel; every caller
(``spmm``, ``SparseTensor.matmul``, ``gspmm``, ``propagate``, layers) passes its ``impl``
argument through here and nothing else chooses between implementations.

Implementations:

* ``"segment"``: gather ``x[col] * value`` into an ``[nnz, F]`` message array, then a sorted
  segment reduction over the row ids. Supports every reduce and multi-dimensional values.
* ``"bcsr"``: ``jax.experimental.sparse`` CSR times dense, in a ``custom_vjp`` whose backward
  multiplies by the stored transpose (CSC) and computes the value gradient with an SDDMM.
  Sum and mean only, scalar (or no) values. It never materialises ``[nnz, F]``.
* ``"pallas"``: the fused GPU kernel ``pallas_kernels.spmm``.

The rule behind ``"auto"`` (figures, machines and versions in ``benchmarks/RESULTS.md``):

* CPU: ``bcsr`` for sum/mean with scalar (or no) values, where it measured faster than
  ``segment`` forward and backward ("SpMM on CPU"); ``segment`` for everything else.
* GPU: ``bcsr`` (a cuSPARSE CSR product, with the transposed-CSR backward) for sum/mean with
  scalar values; ``segment`` for max/min and multi-dimensional values. On the first H200 run
  ("GPU kernels") cuSPARSE was the fastest forward or within 10% of it on the arxiv-like graph
  at F=64/128/256, and its forward+backward was within 8% of the fastest at F=64 and the
  fastest at F=128 and on the products-like graph, while the Pallas SpMM trained 1.3-1.5x slower
  than XLA at F=64. ``auto`` is used for training and inference alike (one compiled step does
  both), so it takes the implementation that is never far from the best. ``pallas`` stays
  available by name; the reworked kernels (row packing, one-pass backward) are still to be
  measured on a GPU before ``auto`` picks them.
* other backends: ``segment``.

Both CPU choices are deterministic (bitwise identical across runs); on a GPU, ``segment``'s
scatter-add is not (atomics), ``bcsr`` and ``pallas`` SpMM were bitwise deterministic on the
H200.

The other decisions made here: :func:`use_sparse_product`, whether a message-passing step
runs as ONE generalised sparse product over ``adj_t`` (no ``[E, *F]`` messages) or as
per-edge messages reduced with :mod:`jgnn.segment` (``gspmm``, ``propagate`` and ``update_all``
all ask it; none decides on its own); and :func:`use_fused_attention`, whether an attention
layer (GATConv, GATv2Conv) runs the fused Pallas attention kernel (logits, softmax and
aggregation in one kernel, no ``[E, H]`` logits in memory) or the edge-list composition.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = [
    "IMPLS",
    "REDUCES",
    "pallas_reduces",
    "resolve_impl",
    "row_gather_impl",
    "sparse_product_form",
    "use_fused_attention",
    "use_sparse_product",
]

IMPLS = ("auto", "segment", "bcsr", "pallas")
#: Reduces one sparse product expresses (every ``impl`` has ``sum``/``mean``; ``segment`` and
#: ``pallas`` also ``max``/``min``).
REDUCES = ("sum", "mean", "max", "min")
_SPARSE_IMPLS = ("bcsr", "pallas")
_BCSR_REDUCES = ("sum", "mean")


def pallas_reduces() -> tuple[str, ...]:
    """Reduces supported by ``pallas_kernels.spmm``, or ``()`` when it is not importable.

    The import happens here, at call time, because the Pallas GPU backend is optional: a JAX
    build without it must still run every other implementation.
    """
    try:
        import pallas_kernels
    except ImportError:
        return ()
    return tuple(pallas_kernels.SPMM_REDUCES)


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}.")
    return value


def resolve_impl(impl: str, *, reduce: str, value_ndim: int, backend: str | None = None) -> str:
    """Turns ``impl`` (``"auto"`` or an explicit name) into a concrete SpMM implementation.

    Args:
      impl: ``"auto"``, ``"segment"``, ``"bcsr"`` or ``"pallas"``.
      reduce: ``"sum"``, ``"mean"``, ``"max"`` or ``"min"``.
      value_ndim: ``ndim`` of the values (0 for no values, 1 for ``[nnz]``, 2+ for
        ``[nnz, *D]``).
      backend: ``"cpu"``, ``"gpu"``/``"cuda"``/``"rocm"``, ``"tpu"``; default
        ``jax.default_backend()``.

    Returns:
      ``"segment"``, ``"bcsr"`` or ``"pallas"``.

    Raises:
      ValueError: unknown ``impl`` or ``reduce``.
      NotImplementedError: an explicit ``impl`` cannot express ``reduce`` or the values
        (the message names ``impl="segment"``, which supports everything).

    Examples:
      >>> resolve_impl("auto", reduce="sum", value_ndim=1, backend="cpu")
      'bcsr'
      >>> resolve_impl("auto", reduce="max", value_ndim=1, backend="cpu")
      'segment'
    """
    _check_choice("impl", impl, IMPLS)
    _check_choice("reduce", reduce, REDUCES)
    scalar_values = value_ndim <= 1
    if impl == "bcsr":
        if reduce not in _BCSR_REDUCES:
            raise NotImplementedError(
                f"impl='bcsr' supports reduce in {list(_BCSR_REDUCES)}, got reduce={reduce!r}; "
                "use impl='segment' (or 'auto')."
            )
        if not scalar_values:
            raise NotImplementedError(
                f"impl='bcsr' needs scalar edge values ([nnz]), got values with ndim "
                f"{value_ndim}; use impl='segment' (or 'auto') for multi-dimensional values."
            )
        return impl
    if impl == "pallas":
        if not scalar_values:
            raise NotImplementedError(
                f"impl='pallas' needs scalar edge values ([nnz]), got values with ndim "
                f"{value_ndim}; use impl='segment' (or 'auto') for multi-dimensional values."
            )
        supported = pallas_reduces()
        if supported and reduce not in supported:
            raise NotImplementedError(
                f"impl='pallas' supports reduce in {list(supported)}, got reduce={reduce!r}; "
                "use impl='segment' (or 'auto')."
            )
        return impl
    if impl == "segment":
        return impl
    if backend is None:
        backend = jax.default_backend()
    if backend in ("cpu", "gpu", "cuda"):
        return "bcsr" if reduce in _BCSR_REDUCES and scalar_values else "segment"
    return "segment"


def row_gather_impl(dtype, backend: str | None = None) -> str:
    """How kernels gather whole rows ``x[ids]`` internally (the SDDMM of the backward passes).

    ``"bcsr"`` (a one-nonzero-per-row CSR product, which the CPU runtime executes as row copies)
    on CPU for float32/float64, where it measured faster than XLA's gather inside the blocked
    SDDMM; ``"gather"`` elsewhere (GPU gathers are fast, and other dtypes would hit
    BCSR's slow generic lowering).

    Args:
      dtype: dtype of the gathered array.
      backend: default ``jax.default_backend()``.

    Returns:
      ``"bcsr"`` or ``"gather"``.
    """
    if backend is None:
        backend = jax.default_backend()
    if backend == "cpu" and jnp.dtype(dtype) in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        return "bcsr"
    return "gather"


def sparse_product_form(op: str, reduce: str, rhs_shape: tuple[int, ...] | None) -> bool:
    """Whether the message ``op(lhs[u], rhs[e])`` with ``reduce`` is ONE sparse product.

    True for ``copy_lhs`` (``adj_t @ x``) and for ``mul`` by one scalar per edge (the scalars
    become ``adj_t``'s values), with ``reduce`` in :data:`REDUCES`.

    Args:
      op: a ``gspmm`` op (``"copy_lhs"``, ``"mul"``, ...).
      reduce: the reducer name.
      rhs_shape: shape of the edge operand ``[E, *F]``, or None when there is none.
    """
    if reduce not in REDUCES:
        return False
    if op == "copy_lhs":
        return True
    return op == "mul" and rhs_shape is not None and math.prod(rhs_shape[1:]) == 1


def use_sparse_product(
    impl: str,
    *,
    fusable: bool,
    sparse_graph: bool,
    fuse: bool | str = "auto",
    fn: str,
) -> bool:
    """Decides whether a step runs as one sparse product or as per-edge messages.

    The rule: an explicit sparse ``impl`` (``"bcsr"``/``"pallas"``) or ``fuse=True`` demands
    the product, ``fuse=False`` forbids it, and otherwise (``"auto"``) the product is taken
    when the step is fusable (:func:`sparse_product_form`) and the graph is a
    ``SparseTensor`` ``adj_t`` (a GraphsTuple would need its ``adj_t`` built on the host) or a
    sparse ``impl`` was named.

    Args:
      impl: one of :data:`IMPLS`.
      fusable: whether one sparse product expresses the step.
      sparse_graph: whether the graph is a ``SparseTensor``.
      fuse: ``"auto"``, True or False (``propagate``'s knob; other callers leave it).
      fn: the caller's name, for messages.

    Returns:
      True for one sparse product, False for per-edge messages.

    Raises:
      ValueError: unknown ``impl`` or ``fuse``.
      NotImplementedError: a sparse ``impl`` or ``fuse=True`` for a step that is not fusable,
        or a sparse ``impl`` with ``fuse=False``; the message names the alternative.
    """
    if impl not in IMPLS:
        raise ValueError(f"{fn}: impl must be one of {IMPLS}, got {impl!r}.")
    if not (isinstance(fuse, bool) or (isinstance(fuse, str) and fuse == "auto")):
        raise ValueError(f"{fn}: fuse must be 'auto', True or False, got {fuse!r}.")
    sparse_impl = impl in _SPARSE_IMPLS
    if fuse is False and sparse_impl:
        raise NotImplementedError(
            f"{fn}: impl={impl!r} runs only as one sparse product, but fuse=False forces "
            "per-edge messages; use impl='auto' or 'segment' with fuse=False."
        )
    if not fusable and (sparse_impl or fuse is True):
        raise NotImplementedError(
            f"{fn}: cannot fuse this step into one sparse product (fuse={fuse!r}, "
            f"impl={impl!r}): only a copy of the source features or a product with one "
            f"scalar per edge, reduced with one of {REDUCES}, is one sparse product. Use "
            "impl='auto' or 'segment' (and fuse='auto') for per-edge messages."
        )
    if fuse is False:
        return False
    return fusable and (fuse is True or sparse_graph or sparse_impl)


def pallas_attention_available() -> bool:
    """Whether ``pallas_kernels`` (with its fused GAT kernels) imports in this install."""
    try:
        import pallas_kernels
    except ImportError:
        return False
    return hasattr(pallas_kernels, "gat_aggregate")


def use_fused_attention(
    impl: str,
    *,
    sparse_graph: bool,
    dropout: bool,
    return_attention: bool,
    add_self_loops: bool,
    backend: str | None = None,
    fn: str,
) -> bool:
    """Decides whether an attention layer runs the fused Pallas attention kernel.

    The kernel reads a CSR ``adj_t`` (a ``SparseTensor``: a GraphsTuple would need one built on
    the host), has no random numbers (attention dropout must be off: evaluation, or
    ``dropout=0``), does not return the coefficients, and takes the self loops as stored entries
    (build ``adj_t.set_diag()`` once and use ``add_self_loops=False``). The rule: ``"pallas"``
    demands it (raising if a condition fails); ``"auto"`` takes it on a GPU when every condition
    holds and ``pallas_kernels`` imports, because the fused edge-softmax aggregation measured
    faster than the XLA composition for training at every feature size of the first H200 run
    (``benchmarks/RESULTS.md``); ``"segment"``/``"bcsr"`` never take it.

    Args:
      impl: one of :data:`IMPLS`.
      sparse_graph: whether the graph is a ``SparseTensor``.
      dropout: whether attention dropout is active in this call.
      return_attention: whether the caller returns the coefficients.
      add_self_loops: whether the layer would append self loops.
      backend: default ``jax.default_backend()``.
      fn: the caller's name, for messages.

    Returns:
      True to run the fused kernel.

    Raises:
      ValueError: unknown ``impl``.
      NotImplementedError: ``impl="pallas"`` when a condition fails (the message names it).
    """
    if impl not in IMPLS:
        raise ValueError(f"{fn}: impl must be one of {IMPLS}, got {impl!r}.")
    blockers = [
        (not sparse_graph, "a SparseTensor adj_t graph"),
        (dropout, "attention dropout off (deterministic=True or dropout=0)"),
        (return_attention, "return_attention=False"),
        (add_self_loops, "add_self_loops=False (store the loops: adj_t.set_diag())"),
    ]
    missing = [need for failed, need in blockers if failed]
    if impl == "pallas":
        if missing:
            raise NotImplementedError(
                f"{fn}: impl='pallas' (the fused attention kernel) needs {'; '.join(missing)}. "
                "Use impl='auto' or 'segment' for the edge-list path."
            )
        return True
    if impl != "auto" or missing:
        return False
    if backend is None:
        backend = jax.default_backend()
    return backend in ("gpu", "cuda", "rocm") and pallas_attention_available()
