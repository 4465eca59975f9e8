"""``resolve_impl``: the single place where ``impl="auto"`` becomes a concrete SpMM kernel.

Every caller (``spmm``, ``SparseTensor.matmul``, ``gspmm``, ``propagate``, layers) passes its
``impl`` argument through here; nothing else chooses between implementations.

Implementations:

* ``"segment"``: gather ``x[col] * value`` into an ``[nnz, F]`` message array, then a sorted
  segment reduction over the row ids. Supports every reduce and multi-dimensional values.
* ``"bcsr"``: ``jax.experimental.sparse`` CSR times dense, in a ``custom_vjp`` whose backward
  multiplies by the stored transpose (CSC) and computes the value gradient with an SDDMM.
  Sum and mean only, scalar (or no) values. It never materialises ``[nnz, F]``.
* ``"pallas"``: the fused GPU kernel ``pallas_kernels.spmm``.

Measurements behind ``"auto"`` (``benchmarks/bench_spmm_cpu.py``: CPU, 2 cores, jax 0.10.2,
N=100k nodes, E=1M random edges with weights, F=64 float32, median of 9 interleaved repeats;
provisional, taken on a machine shared with other jobs, load average ~7; the lead's quiet re-run
goes to ``benchmarks/RESULTS.md``). Times in ms; fwd+bwd is the gradient of ``sum(out * ct)``
with respect to ``x`` and the edge values:

=====================  =====  =========  =====  =========
threads                2      2          1      1
impl                   fwd    fwd+bwd    fwd    fwd+bwd
=====================  =====  =========  =====  =========
segment (sorted)       302    585        319    607
bcsr (custom VJP)      112    332        135    368
auto (resolves: bcsr)  90     272        101    362
torch_sparse.matmul    363    1290       377    1354
=====================  =====  =========  =====  =========

(``bcsr`` and ``auto`` run the same program; their gap is the noise of the shared machine.)
``bcsr`` wins both forward and forward+backward for sum and mean on CPU, so ``auto`` picks it
there; ``max``/``min`` and multi-dimensional values are only expressible as ``segment``. On GPU
``auto`` picks ``pallas`` when the kernel supports the reduce (and scalar values), else
``segment``; on other backends ``segment``. Both CPU choices are deterministic: two runs give
bitwise identical results (tested).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["IMPLS", "REDUCES", "resolve_impl", "row_gather_impl"]

IMPLS = ("auto", "segment", "bcsr", "pallas")
REDUCES = ("sum", "mean", "max", "min")
_BCSR_REDUCES = ("sum", "mean")
# Reduces the Pallas kernel implements when it does not advertise its own list.
_PALLAS_DEFAULT_REDUCES = ("sum", "mean")


def pallas_reduces() -> tuple[str, ...]:
    """Reduces supported by ``pallas_kernels.spmm``, or ``()`` when it is not importable."""
    try:
        import pallas_kernels
    except ImportError:
        return ()
    if getattr(pallas_kernels, "spmm", None) is None:
        return ()
    reduces = getattr(pallas_kernels, "SPMM_REDUCES", None)
    if reduces is None:
        try:
            from pallas_kernels._spmm import REDUCTIONS as reduces
        except ImportError:
            reduces = _PALLAS_DEFAULT_REDUCES
    return tuple(reduces)


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
    if backend == "cpu":
        return "bcsr" if reduce in _BCSR_REDUCES and scalar_values else "segment"
    if backend in ("gpu", "cuda", "rocm"):
        if scalar_values and reduce in pallas_reduces():
            return "pallas"
        return "segment"
    return "segment"


def row_gather_impl(dtype, backend: str | None = None) -> str:
    """How kernels gather whole rows ``x[ids]`` internally (the SDDMM of the backward passes).

    ``"bcsr"`` (a one-nonzero-per-row CSR product, which the CPU runtime executes as row copies)
    on CPU for float32/float64, where it measured about 2x faster than XLA's gather inside the
    blocked SDDMM; ``"gather"`` elsewhere (GPU gathers are fast, and other dtypes would hit
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
