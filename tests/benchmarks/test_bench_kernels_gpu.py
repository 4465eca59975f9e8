"""The GPU benchmark's own checks, on the CPU: its timed fwd+bwd keeps the forward (the XLA
segment path's forward scatter survives compilation, and the old dropped-output form is caught),
its `main` runs end to end in a tiny interpret-mode smoke test, and its byte counts and
argument checks hold."""

import importlib.util
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench_kernels_gpu.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_kernels_gpu", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = jax.config.jax_bcoo_cusparse_lowering
    yield module
    jax.config.update("jax_bcoo_cusparse_lowering", saved)


def small_problem(bench, op):
    g_np = bench.make_graph(40, 300, seed=0)
    gr = {k: jnp.asarray(v) for k, v in g_np.items()}
    gr["transpose"] = bench.csc_view(gr["col"], gr["row"], jnp.arange(41, dtype=jnp.int32))
    args = bench.parse_args(["--interpret"])
    operands = [
        jnp.asarray(a) for a in bench.make_operands(op, 40, 40, 300, 8, 2, np.random.default_rng(1))
    ]
    return gr, args, operands


def dropped_output_form(fn):
    """The fwd+bwd of the first H200 run: returns only the cotangents."""

    def fwd_bwd(gr, *operands_and_cot):
        *operands, cot = operands_and_cot
        _, vjp = jax.vjp(lambda *ops: fn(gr, *ops), *operands)
        return vjp(cot)

    return jax.jit(fwd_bwd)


@pytest.mark.parametrize("op", ["spmm", "gat"])
def test_timed_fwd_bwd_keeps_the_forward_scatter(bench, op):
    gr, args, operands = small_problem(bench, op)
    segment = bench.jax_impls(op, 40, 40, 8, args)["segment"]
    fwd, fwd_bwd = bench._jit_pair(segment)
    count = bench.compiled_op_count
    forward = count(fwd, gr, *operands[:-1])
    timed = count(fwd_bwd, gr, *operands)
    dropped = count(dropped_output_form(segment), gr, *operands)
    assert forward >= 1
    # The dropped form loses the forward's final aggregation scatter (XLA deletes it); the
    # timed form keeps it. SpMM's backward needs nothing of the forward, so there the whole
    # forward vanishes from the dropped form and the timed form holds both.
    assert timed > dropped
    if op == "spmm":
        assert (forward, dropped, timed) == (1, 1, 2)
    out, _ = fwd_bwd(gr, *operands)
    np.testing.assert_allclose(out, fwd(gr, *operands[:-1]), rtol=1e-6, atol=1e-6)


def test_main_runs_tiny_in_interpret_mode(bench, capsys, monkeypatch):
    monkeypatch.setenv("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    has_torch = importlib.util.find_spec("torch") is not None
    # PyG's row is left out: importing torch_geometric alone takes ~10 s on these CPUs.
    argv = ["--small", "--interpret", "--graphs", "tiny", "--reps", "1", "--warmup", "0"]
    argv += ["--impls", "pallas,pallas_fixed,segment,bcsr,torch_csr"]
    rows = bench.main(argv + ([] if has_torch else ["--no-torch"]))
    printed = capsys.readouterr().out

    assert f"jax {jax.__version__}" in printed
    assert "scatter-add CAS regression" in printed
    assert "| graph | op | F | impl | pass | ms | vs segment | GB/s (min bytes) |" in printed
    cells = {(r["op"], r["impl"], r["pass"]): r for r in rows}
    expected = {(op, impl) for op in bench.OPS for impl in ("pallas", "segment")}
    expected |= {("spmm", "pallas_fixed"), ("esa", "pallas_fixed"), ("spmm", "bcsr")}
    expected |= {("spmm", "torch_csr")} if has_torch else set()
    assert {(op, impl) for op, impl, _ in cells} == expected
    for (op, impl, p), row in cells.items():
        assert math.isfinite(row["ms"]) and row["gbps"] > 0, (op, impl, p)
        if impl == "segment":
            assert row["vs_segment"] == pytest.approx(1.0)
        if p == "fwd":
            assert float(row["err"]) < 1e-5, (op, impl, row["err"])  # vs the segment result
        assert row["note"] in ("", "bwd computes dx only"), (op, impl, p, row["note"])


def test_time_budget_skips_cells(bench, capsys):
    argv = "--small --interpret --graphs tiny --ops spmm --impls segment --budget-s 0 --no-torch"
    rows = bench.main(argv.split())
    assert rows and all(r["note"].startswith("skipped: the 0 s budget") for r in rows)
    assert all(math.isnan(r["ms"]) for r in rows)
    capsys.readouterr()


def test_minimum_bytes_formula(bench):
    # fp32 SpMM forward: nnz * 8 (col + value) + 2 * N * F * 4 (x read, out written) for M = N.
    assert bench.spmm_bytes(10, 10, 100, 16, 4, backward=False) == 100 * 8 + 2 * 10 * 16 * 4
    # The backward's CSC pass: row_t, csr2csc, value read and d value written (16 B per edge),
    # g and x read, dx written.
    assert bench.spmm_bytes(10, 10, 100, 16, 4, backward=True) == 100 * (8 + 16) + (
        (2 + 3) * 10 * 16 * 4
    )
    assert bench.op_bytes("spmm", 10, 10, 100, 16, 1, True) == bench.spmm_bytes(
        10, 10, 100, 16, 4, True
    )


@pytest.mark.parametrize(
    "argv, match",
    [("--graphs cora", "unknown graph"), ("--ops conv", "unknown op"), ("--passes bwd", "pass")],
)
def test_bad_arguments_are_rejected(bench, capsys, argv, match):
    with pytest.raises(SystemExit):
        bench.parse_args(argv.split())
    assert match in capsys.readouterr().err
