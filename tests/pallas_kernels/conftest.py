"""Shared graphs, tolerances and helpers for the Pallas kernel tests.

On a CPU the kernels run in the Pallas interpreter; on a GPU (see `benchmarks/gpu_check.sh`)
the same tests compile them with Triton (the `interpret` fixture). The interpreter compiles
every new shape, so the tests share a handful of fixed graphs.
"""

from types import SimpleNamespace

import jax
import jax.numpy as jnp
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
ON_GPU = jax.default_backend() == "gpu"


def lower_for_cuda(fn, *args) -> str:
    """Lowers `jit(fn)` for CUDA, on this machine, and returns the StableHLO text.

    Without a GPU the Triton lowering needs to know the target: an abstract H200 (jax >= 0.10
    reads it from the abstract mesh; jaxlib 0.11 asks for it). The Triton IR is embedded in
    the custom calls, so this checks every kernel's lowering without a GPU.
    """
    lower = lambda: jax.jit(fn).trace(*args).lower(lowering_platforms=("cuda",))  # noqa: E731
    if ON_GPU:
        return lower().as_text()
    device = jax.sharding.AbstractDevice(device_kind="NVIDIA H200", num_cores=132, platform="gpu")
    with jax.sharding.use_abstract_mesh(
        jax.sharding.AbstractMesh((1,), ("d",), abstract_device=device)
    ):
        return lower().as_text()


def triton_calls(text: str) -> int:
    """Number of Triton kernel launches in lowered StableHLO text."""
    return sum(text.count(f"custom_call @{t}") for t in TRITON_CALL_TARGETS)


@pytest.fixture(scope="session")
def cuda_lowering():
    """`lower(fn, *args) -> int`: lowers for CUDA and counts the Triton kernel launches."""
    return lambda fn, *args: triton_calls(lower_for_cuda(fn, *args))


@pytest.fixture(scope="session")
def count_triton():
    """The `triton_calls(stablehlo_text) -> int` helper."""
    return triton_calls


@pytest.fixture(scope="session")
def cuda_text():
    """`lower(fn, *args) -> str`: the StableHLO text of `fn` lowered for CUDA."""
    return lower_for_cuda


@pytest.fixture(scope="session")
def interpret() -> bool:
    """True on a CPU (Pallas interpreter), False on a GPU (compiled with Triton)."""
    return not ON_GPU


@pytest.fixture(scope="session")
def tjit():
    """`jax.jit`; on the CPU with XLA's backend optimisations off: the interpreter's kernels
    compile about 40% faster and run just as correctly at test sizes."""

    def wrap(fn):
        if ON_GPU:
            return jax.jit(fn)
        return jax.jit(fn, compiler_options={"xla_backend_optimization_level": 0})

    return wrap


def fwd_and_vjp(fn, cot, *primals):
    """`(fn(*primals), vjp(cot))`."""
    out, vjp = jax.vjp(fn, *primals)
    return out, vjp(cot)


@pytest.fixture(scope="session")
def fwd_vjp():
    """The `fwd_and_vjp(fn, cot, *primals)` helper."""
    return fwd_and_vjp


def stored_transpose(g: SimpleNamespace):
    """The CSC view `(colptr, row_t, csr2csc)` of a test graph, built in NumPy."""
    perm = np.argsort(g.col, kind="stable").astype(np.int32)
    colptr = np.concatenate([[0], np.cumsum(np.bincount(g.col, minlength=g.n))]).astype(np.int32)
    return colptr, g.row[perm], perm


@pytest.fixture(scope="session")
def csc():
    """The `stored_transpose(graph)` helper."""
    return stored_transpose
