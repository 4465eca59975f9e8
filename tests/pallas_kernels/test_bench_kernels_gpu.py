"""Smoke test: the GPU benchmark's `main` runs on the CPU in interpret mode at a tiny size."""

import importlib.util
import math
import pathlib

import jax
import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench_kernels_gpu.py"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # restored after the test
    spec = importlib.util.spec_from_file_location("bench_kernels_gpu", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = jax.config.jax_bcoo_cusparse_lowering
    yield module
    jax.config.update("jax_bcoo_cusparse_lowering", saved)


def test_main_runs_tiny_in_interpret_mode(bench, capsys):
    try:
        import torch  # noqa: F401

        has_torch = True
    except ImportError:
        has_torch = False
    argv = "--small --interpret --graphs tiny --features 8 --reps 1 --warmup 0 --passes fwd"
    # PyG's ESA row is left out: importing torch_geometric alone takes ~10 s on these CPUs.
    argv = argv.split() + ["--impls", "pallas,segment,bcsr,torch_sparse,torch_csr"]
    rows = bench.main(argv if has_torch else argv + ["--no-torch"])
    printed = capsys.readouterr().out

    assert f"jax {jax.__version__}" in printed
    assert "scatter-add CAS regression" in printed
    assert "| graph | op | F | impl | pass | ms | GB/s (min bytes) |" in printed
    cells = {(r["op"], r["impl"]): r for r in rows}
    expected = {("spmm", "pallas"), ("spmm", "segment"), ("spmm", "bcsr"), ("esa", "pallas")}
    expected |= {("esa", "segment")}
    if has_torch:
        expected |= {("spmm", "torch_csr")}
    assert expected <= set(cells)
    for key in expected:
        row = cells[key]
        assert row["note"] == "", (key, row["note"])
        assert math.isfinite(row["ms"]) and row["gbps"] > 0
        assert float(row["err"]) < 1e-5, (key, row["err"])  # vs the XLA segment result


def test_minimum_bytes_formula(bench):
    # fp32 SpMM forward: nnz * 8 (col + value) + 2 * N * F * 4 (x read, out written) for M = N.
    minimum, gathered = bench.spmm_bytes(10, 10, 100, 16, 4, backward=False)
    assert minimum == 100 * 8 + 2 * 10 * 16 * 4
    assert gathered == 100 * (8 + 16 * 4) + 10 * 16 * 4  # each edge reads a whole row
    assert bench.spmm_bytes(10, 10, 100, 16, 4, backward=True)[0] > 2 * minimum


def test_unknown_graph_is_rejected(bench):
    with pytest.raises(SystemExit):
        bench.parse_args(["--graphs", "cora"])
