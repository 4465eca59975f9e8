"""Shared graphs and tolerances for the Pallas kernel tests (all in interpret mode).

The interpreter compiles every new shape, so the tests share a handful of fixed graphs.
"""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
import pytest

# Tolerances keyed by dtype: outputs are compared with a float32 oracle run on the same
# (rounded) inputs, so bf16 only pays for the final rounding of the output.
TOLERANCES = {
    jnp.dtype(jnp.float32): dict(rtol=2e-5, atol=2e-5),
    jnp.dtype(jnp.bfloat16): dict(rtol=2e-2, atol=2e-2),
}


def _csr(rows: np.ndarray, cols: np.ndarray, m: int, n: int, rng) -> SimpleNamespace:
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order].astype(np.int32), cols[order].astype(np.int32)
    counts = np.bincount(rows, minlength=m)
    rowptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return SimpleNamespace(
        m=m,
        n=n,
        nnz=int(rows.shape[0]),
        rowptr=rowptr,
        row=rows,
        col=cols,
        counts=counts,
        value=rng.normal(size=rows.shape[0]).astype(np.float32),
    )


@pytest.fixture(scope="session")
def awkward_graph() -> SimpleNamespace:
    """12 x 10 CSR with empty rows (0, 5 and the last), one row holding most edges (row 3),
    duplicate edges, and 2 columns nobody points to (so the transpose has empty rows too)."""
    rng = np.random.default_rng(7)
    m, n = 12, 10
    heavy = np.full(40, 3)
    light = rng.choice([1, 2, 4, 6, 7, 8, 9, 10], size=18)
    rows = np.concatenate([heavy, light])
    cols = rng.integers(0, n - 2, size=rows.shape[0])
    g = _csr(rows, cols, m, n, rng)
    assert g.counts[0] == g.counts[5] == g.counts[11] == 0
    return g


@pytest.fixture(scope="session")
def tiny_graph() -> SimpleNamespace:
    """6 x 5 CSR with 9 edges, one empty row; for the slow (bf16, wide F) cases."""
    rng = np.random.default_rng(3)
    rows = np.array([0, 0, 1, 3, 3, 3, 4, 5, 5])
    cols = np.array([1, 4, 0, 2, 2, 3, 4, 0, 1])
    return _csr(rows, cols, 6, 5, rng)


def dense_adjacency(g: SimpleNamespace, value: np.ndarray | None = None) -> np.ndarray:
    """Dense `[M, N]` float64 matrix of a CSR graph, duplicate entries summed."""
    a = np.zeros((g.m, g.n), np.float64)
    v = np.ones(g.nnz) if value is None else np.asarray(value, np.float64)
    np.add.at(a, (g.row, g.col), v)
    return a


def assert_close(actual, expected, dtype=jnp.float32, scale: float = 1.0) -> None:
    """Compares in float64 with the tolerance of `dtype` (atol scaled by `scale`)."""
    tol = dict(TOLERANCES[jnp.dtype(dtype)])
    tol["atol"] *= scale
    np.testing.assert_allclose(
        np.asarray(jnp.asarray(actual).astype(jnp.float32), np.float64),
        np.asarray(jnp.asarray(expected).astype(jnp.float32), np.float64),
        **tol,
    )


@pytest.fixture(scope="session")
def close():
    """The `assert_close(actual, expected, dtype=float32, scale=1.0)` helper."""
    return assert_close


@pytest.fixture(scope="session")
def dense():
    """The `dense_adjacency(graph, value=None)` helper."""
    return dense_adjacency


TRITON_CALL_TARGETS = ("__gpu$xla.gpu.triton", "triton_kernel_call_ffi")


def lower_for_cuda(fn, *args) -> int:
    """Lowers `jit(fn)` for CUDA from this (GPU-less) machine; returns the Triton call count.

    jaxlib <= 0.10.2 embeds Triton IR in the custom call, so lowering works without a GPU.
    Newer jaxlibs compile the Triton module to PTX while lowering, which needs the CUDA plugin:
    there the check is skipped unless a GPU is present.
    """
    jaxlib_version = tuple(int(p) for p in jaxlib.__version__.split(".")[:3] if p.isdigit())
    try:
        lowered = jax.jit(fn).trace(*args).lower(lowering_platforms=("cuda",))
    except Exception as exc:  # noqa: BLE001 - re-raised below unless the jaxlib explains it
        has_gpu = any(d.platform == "gpu" for d in jax.devices())
        if jaxlib_version > (0, 10, 2) and not has_gpu:
            pytest.skip(
                f"jaxlib {jaxlib.__version__} compiles Triton to PTX while lowering, which needs a "
                f"GPU/CUDA plugin ({type(exc).__name__}: {str(exc)[:200]})"
            )
        raise
    text = lowered.as_text()
    return sum(text.count(f"custom_call @{t}") for t in TRITON_CALL_TARGETS)


@pytest.fixture(scope="session")
def cuda_lowering():
    """The `lower_for_cuda(fn, *args) -> int` helper."""
    return lower_for_cuda


@pytest.fixture(scope="session")
def tjit():
    """`jax.jit` with XLA's CPU backend optimisations off: the interpreter's kernels compile
    about 40% faster and run just as correctly at test sizes."""

    def wrap(fn):
        return jax.jit(fn, compiler_options={"xla_backend_optimization_level": 0})

    return wrap
