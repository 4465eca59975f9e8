"""Benchmark the Pallas kernels against XLA, BCSR (cuSPARSE) and PyG / torch_sparse.

Measures CSR SpMM (`out = A @ x`, sum) and fused edge-softmax aggregation on synthetic graphs
shaped like ogbn-arxiv (169k nodes, 2.3M edges) and ogbn-products (2.4M nodes, 124M edges),
forward and forward+backward, and prints one Markdown table with the achieved bandwidth against
the minimum-bytes bound (every index, value and feature row touched once).

Implementations, all on the same device:

* `pallas`: `pallas_kernels.spmm` / `edge_softmax_aggregate` (Triton backend), with the stored
  CSC view passed in so the backward does not sort.
* `segment`: XLA gather + `jax.ops.segment_sum(x[col] * v, row)`; for edge softmax the XLA
  composition segment_max -> exp -> segment_sum -> weighted segment_sum.
* `bcsr`: `jax.experimental.sparse.BCSR @ x` with `jax_bcoo_cusparse_lowering` on.
* `torch_sparse` (`SparseTensor` + `matmul`), `torch_csr` (`torch.sparse.mm` on a CSR tensor)
  and `pyg` (`torch_geometric.utils.softmax` + `scatter`), each skipped when not importable.

Self-contained: imports jax, numpy, `pallas_kernels` and (optionally) torch, so it runs from a
bare checkout with `PYTHONPATH=.`:

    PYTHONPATH=. python benchmarks/bench_kernels_gpu.py                  # full sizes, GPU
    PYTHONPATH=. python benchmarks/bench_kernels_gpu.py --small --graphs arxiv --features 128
    PYTHONPATH=. python benchmarks/bench_kernels_gpu.py --small --interpret   # CPU smoke test

It prints the jax/jaxlib versions and checks for the f32 scatter-add compare-and-swap
regression of jaxlib 0.10.2-0.11.0 (jax#38806, openxla/xla#46225), which makes the `segment`
baseline (and every XLA scatter) up to hundreds of times slower under contention.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

# Leave GPU memory to torch as well (JAX would otherwise take 75% of it up front).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental import sparse as jsparse  # noqa: E402

import pallas_kernels  # noqa: E402

# name -> (num_nodes, num_edges, divisor used by --small)
GRAPHS = {
    "arxiv": (169_343, 2_315_598, 100),
    "products": (2_449_029, 123_718_280, 1000),
    "tiny": (64, 512, 1),
}
SPMM_IMPLS = ("pallas", "segment", "bcsr", "torch_sparse", "torch_csr")
ESA_IMPLS = ("pallas", "segment", "pyg")
# Peak HBM bandwidth (GB/s) by device-name fragment, for the "% peak" column.
PEAK_GBPS = {"H200": 4800.0, "H100 PCIe": 2000.0, "H100": 3350.0, "A100": 2039.0}
CAS_AFFECTED = ((0, 10, 2), (0, 11, 0))  # jaxlib versions with the scatter-add CAS loop


# --------------------------------------------------------------------------- graphs


def make_graph(num_nodes: int, num_edges: int, seed: int) -> dict[str, np.ndarray]:
    """Synthetic CSR graph (host-side): log-normal in-degrees (a heavy tail, like citation and
    co-purchase graphs), uniformly random sources. Rows are destinations (adj_t layout)."""
    rng = np.random.default_rng(seed)
    weight = rng.lognormal(0.0, 1.0, num_nodes)
    deg = np.floor(weight / weight.sum() * num_edges).astype(np.int64)
    short = num_edges - int(deg.sum())
    deg[rng.choice(num_nodes, size=short, replace=short > num_nodes)] += 1
    rowptr = np.concatenate([[0], np.cumsum(deg)]).astype(np.int32)
    col = rng.integers(0, num_nodes, size=num_edges, dtype=np.int32)
    row = np.repeat(np.arange(num_nodes, dtype=np.int32), deg)
    return dict(rowptr=rowptr, col=col, row=row)


@jax.jit
def _csc_view(col: jax.Array, row: jax.Array, colptr_bounds: jax.Array):
    perm = jnp.argsort(col, stable=True).astype(jnp.int32)
    colptr = jnp.searchsorted(col[perm], colptr_bounds, side="left").astype(jnp.int32)
    return colptr, row[perm], perm


# --------------------------------------------------------------------------- timing


def _block(tree: Any) -> None:
    jax.block_until_ready(tree)


def time_jax(fn: Callable, *args: Any, reps: int, warmup: int) -> tuple[float, Any]:
    """Median wall time (ms) of `fn(*args)` after compilation and warm-up."""
    out = fn(*args)
    _block(out)
    for _ in range(warmup):
        _block(fn(*args))
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        _block(fn(*args))
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, out


def time_torch(fn: Callable, reps: int, warmup: int, device: Any) -> tuple[float, Any]:
    import torch

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    out = fn()
    sync()
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, out


def _err(actual: Any, expected: jax.Array) -> float:
    """max |actual - expected| / max(1, max |expected|), on the device where possible."""
    if not isinstance(actual, jax.Array):  # a torch tensor: zero-copy when the devices agree
        try:
            actual = jnp.from_dlpack(actual.detach())
        except Exception:  # noqa: BLE001 - e.g. torch on CPU, jax on GPU
            actual = jnp.asarray(actual.detach().cpu().numpy())
    diff = jnp.max(jnp.abs(actual.astype(jnp.float32) - expected.astype(jnp.float32)))
    scale = jnp.maximum(jnp.max(jnp.abs(expected.astype(jnp.float32))), 1.0)
    return float(diff / scale)


# --------------------------------------------------------------------------- checks


def jaxlib_version() -> tuple[int, ...]:
    import jaxlib

    return tuple(int(p) for p in jaxlib.__version__.split(".")[:3] if p.isdigit())


def scatter_cas_check(on_gpu: bool) -> str:
    """Flags the f32 scatter-add compare-and-swap regression: by jaxlib version, and on a GPU by
    timing a contended scatter (2^24 adds into 256 rows) against an uncontended one."""
    ver = jaxlib_version()
    lo, hi = CAS_AFFECTED
    by_version = "AFFECTED (jax#38806)" if lo <= ver <= hi else "not affected"
    msg = f"scatter-add CAS regression: jaxlib {'.'.join(map(str, ver))} is {by_version}"
    if not on_gpu:
        return msg + " by version; timing probe skipped (no GPU)."
    n = 1 << 24
    ones = jnp.ones((n,), jnp.float32)
    contended = jax.random.randint(jax.random.key(0), (n,), 0, 256, jnp.int32)
    unique = jnp.arange(n, dtype=jnp.int32)
    f_hot = jax.jit(lambda v, i: jax.ops.segment_sum(v, i, 256))
    f_cold = jax.jit(lambda v, i: jax.ops.segment_sum(v, i, n))
    t_hot, _ = time_jax(f_hot, ones, contended, reps=5, warmup=1)
    t_cold, _ = time_jax(f_cold, ones, unique, reps=5, warmup=1)
    ratio = t_hot / max(t_cold, 1e-6)
    verdict = "LIKELY PRESENT" if ratio > 50 else "not observed"
    return (
        f"{msg} by version; probe: contended {t_hot:.3f} ms vs uncontended {t_cold:.3f} ms "
        f"(x{ratio:.1f}) -> {verdict}."
    )


# --------------------------------------------------------------------------- bytes


def spmm_bytes(m: int, n: int, nnz: int, f: int, item: int, backward: bool) -> tuple[int, int]:
    """`(minimum, gathered)` bytes of one SpMM (plus its backward).

    minimum: col + value read once, x read once, out written once (nnz*8 + 2*N*F*4 for fp32,
    M = N); the backward adds the transposed SpMM and the SDDMM for d value, counted the same
    way. gathered: every nonzero reads its whole feature row (what a kernel without cache reuse
    moves), so it bounds the achievable time from the other side.
    """
    feat = (m + n) * f * item
    fwd_min, fwd_gather = nnz * 8 + feat, nnz * (8 + f * item) + m * f * item
    if not backward:
        return fwd_min, fwd_gather
    bwd_min = (nnz * 8 + feat) + (nnz * 12 + feat)
    bwd_gather = (nnz * (8 + f * item) + n * f * item) + nnz * (12 + 2 * f * item)
    return fwd_min + bwd_min, fwd_gather + bwd_gather


def esa_bytes(
    m: int, n: int, nnz: int, h: int, fh: int, item: int, backward: bool
) -> tuple[int, int]:
    """`(minimum, gathered)` bytes of one edge-softmax aggregation (plus its backward).

    minimum: col + logits, x read once, out written once; the backward adds the SDDMM (row, col,
    logits, dlogits, g, x) and the transposed SpMM (row_t, attention, g, dx). gathered: every
    edge reads its whole `[H, F]` feature row.
    """
    row_bytes = h * fh * item
    feat = (m + n) * row_bytes
    fwd_min = nnz * (4 + h * item) + feat
    fwd_gather = nnz * (4 + h * item + row_bytes) + m * row_bytes
    if not backward:
        return fwd_min, fwd_gather
    bwd_min = (nnz * (8 + 2 * h * item) + feat) + (nnz * (8 + h * 4) + feat)
    bwd_gather = nnz * (8 + 2 * h * item + 2 * row_bytes) + nnz * (8 + h * 4 + row_bytes)
    bwd_gather += n * row_bytes
    return fwd_min + bwd_min, fwd_gather + bwd_gather


# --------------------------------------------------------------------------- implementations


# The graph travels as a jit argument `gr` (a dict of device arrays): closing over it would
# embed the index arrays in the program as constants (gigabytes for ogbn-products).


def jax_spmm_impls(m: int, n: int, args: argparse.Namespace) -> dict[str, Callable]:
    """name -> f(gr, value, x) -> [M, F] for the JAX implementations."""
    kw = dict(block_f=args.block_f, block_e=args.block_e, interpret=args.interpret)

    def pallas(gr, v, x):
        return pallas_kernels.spmm(gr["rowptr"], gr["col"], v, x, transpose=gr["transpose"], **kw)

    def segment(gr, v, x):
        return jax.ops.segment_sum(x[gr["col"]] * v[:, None], gr["row"], num_segments=m)

    def bcsr(gr, v, x):
        return jsparse.BCSR((v, gr["col"], gr["rowptr"]), shape=(m, n)) @ x

    return {"pallas": pallas, "segment": segment, "bcsr": bcsr}


def jax_esa_impls(m: int, args: argparse.Namespace) -> dict[str, Callable]:
    """name -> f(gr, logits, x) -> [M, H, F] for the JAX implementations."""
    kw = dict(block_f=args.block_f, block_e=args.block_e, interpret=args.interpret)

    def pallas(gr, logits, x):
        return pallas_kernels.edge_softmax_aggregate(
            gr["rowptr"], gr["col"], logits, x, transpose=gr["transpose"], **kw
        )

    def segment(gr, logits, x):
        row = gr["row"]
        mx = jax.ops.segment_max(logits, row, num_segments=m)
        mx = jax.lax.stop_gradient(jnp.where(jnp.isfinite(mx), mx, 0.0))
        p = jnp.exp(logits - mx[row])
        s = jax.ops.segment_sum(p, row, num_segments=m)
        att = p / jnp.where(s > 0, s, 1.0)[row]
        return jax.ops.segment_sum(att[:, :, None] * x[gr["col"]], row, num_segments=m)

    return {"pallas": pallas, "segment": segment}


def _jit_pair(fn: Callable) -> tuple[Callable, Callable]:
    """`(jit(fn), jit(fwd+bwd of fn))`; the backward returns the cotangents of both operands."""

    def fwd_bwd(gr, a, b, cot):
        _, vjp = jax.vjp(lambda a, b: fn(gr, a, b), a, b)
        return vjp(cot)

    return jax.jit(fn), jax.jit(fwd_bwd)


def torch_spmm_impls(g_np: dict, m: int, n: int, device: Any) -> dict:
    """name -> (f(v, x) -> out) for the importable torch implementations."""
    import torch

    impls: dict[str, Callable] = {}
    rowptr = torch.from_numpy(g_np["rowptr"].astype(np.int64)).to(device)
    col = torch.from_numpy(g_np["col"].astype(np.int64)).to(device)
    try:
        from torch_sparse import SparseStorage, SparseTensor, matmul

        # Build the CSC view once, as a stored SparseTensor would: the backward reuses it.
        cached = SparseTensor(rowptr=rowptr, col=col, sparse_sizes=(m, n), is_sorted=True)
        st = cached.storage
        row, colptr, csr2csc = st.row(), st.colptr(), st.csr2csc()

        def ts(v, x):
            storage = SparseStorage(
                row=row,
                rowptr=rowptr,
                col=col,
                value=v,
                sparse_sizes=(m, n),
                colptr=colptr,
                csr2csc=csr2csc,
                is_sorted=True,
                trust_data=True,
            )
            return matmul(SparseTensor.from_storage(storage), x, reduce="sum")

        impls["torch_sparse"] = ts
    except ImportError:
        pass

    def csr(v, x):
        # torch cannot differentiate a CSR tensor's values here: its backward gives dx only.
        a = torch.sparse_csr_tensor(rowptr, col, v.detach(), size=(m, n))
        return torch.sparse.mm(a, x)

    impls["torch_csr"] = csr
    return impls


def torch_esa_impls(g_np: dict, m: int, device: Any) -> dict:
    import torch

    try:
        from torch_geometric.utils import scatter, softmax
    except ImportError:
        return {}
    row = torch.from_numpy(g_np["row"].astype(np.int64)).to(device)
    col = torch.from_numpy(g_np["col"].astype(np.int64)).to(device)
    ptr = torch.from_numpy(g_np["rowptr"].astype(np.int64)).to(device)

    def pyg(logits, x):
        alpha = softmax(logits, row, ptr=ptr, num_nodes=m)
        return scatter(alpha.unsqueeze(-1) * x[col], row, dim=0, dim_size=m, reduce="sum")

    return {"pyg": pyg}


# --------------------------------------------------------------------------- driver


def _torch_device():
    try:
        import torch
    except ImportError:
        return None
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _run_cell(rows: list, base: dict, timer: Callable, nbytes: tuple, peak: float | None, ref):
    nan = float("nan")
    row = dict(ms=nan, gbps=nan, gather_gbps=nan, pct_peak=nan, err="", note="") | base
    try:
        ms, out = timer()
        row["ms"] = ms
        row["gbps"] = nbytes[0] / (ms * 1e-3) / 1e9
        row["gather_gbps"] = nbytes[1] / (ms * 1e-3) / 1e9
        if peak:
            row["pct_peak"] = 100.0 * row["gather_gbps"] / peak
        if ref is not None and base["pass"] == "fwd":
            row["err"] = f"{_err(out, ref):.1e}"
    except Exception as exc:  # noqa: BLE001 - one failing cell (e.g. OOM) must not end the run
        first = (str(exc).strip().splitlines() or [""])[0]
        row["note"] = f"{type(exc).__name__}: {first[:70]}"
    rows.append(row)
    print(
        f"  {row['op']:5s} F={row['F']:<4d} {row['impl']:13s} {row['pass']:8s} "
        f"{row['ms']:10.3f} ms {row['gbps']:8.1f} GB/s {row['err']:>8s} {row['note']}",
        flush=True,
    )


def bench_graph(name: str, args: argparse.Namespace, peak: float | None, tdev) -> list[dict]:
    nodes, edges, div = GRAPHS[name]
    if args.small:
        nodes, edges = max(nodes // div, 16), max(edges // div, 64)
    t0 = time.perf_counter()
    g_np = make_graph(nodes, edges, args.seed)
    m = n = nodes
    nnz = edges
    g = {k: jnp.asarray(v) for k, v in g_np.items()}
    g["transpose"] = _csc_view(g["col"], g["row"], jnp.arange(n + 1, dtype=jnp.int32))
    _block(g)
    print(
        f"\n## {name}{' (small)' if args.small else ''}: {m} nodes, {nnz} edges "
        f"(built in {time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    rows: list[dict] = []
    reps = dict(reps=args.reps, warmup=args.warmup)
    rng = np.random.default_rng(args.seed + 1)
    for f in args.features:
        if "spmm" in args.ops:
            x_np = rng.normal(size=(n, f)).astype(np.float32)
            v_np = rng.normal(size=nnz).astype(np.float32)
            w_np = rng.normal(size=(m, f)).astype(np.float32)
            x, v, w = jnp.asarray(x_np), jnp.asarray(v_np), jnp.asarray(w_np)
            impls = jax_spmm_impls(m, n, args)
            ref = jax.jit(impls["segment"])(g, v, x)
            for impl in [i for i in SPMM_IMPLS if i in args.impls and i in impls]:
                if impl == "pallas" and not (args.interpret or args.on_gpu):
                    continue
                fwd, bwd = _jit_pair(impls[impl])
                for p in args.passes:
                    base = dict(graph=name, op="spmm", F=f, impl=impl, **{"pass": p})
                    nbytes = spmm_bytes(m, n, nnz, f, 4, p != "fwd")
                    if p == "fwd":
                        timer = lambda fn=fwd, a=(g, v, x): time_jax(fn, *a, **reps)  # noqa: E731
                    else:
                        timer = lambda fn=bwd, a=(g, v, x, w): time_jax(fn, *a, **reps)  # noqa: E731
                    _run_cell(rows, base, timer, nbytes, peak, ref)
            if tdev is not None:
                rows += _bench_torch_spmm(g_np, x_np, v_np, w_np, m, n, f, args, peak, ref, tdev)
            del x, v, w, ref
        if "esa" in args.ops:
            h = args.heads
            fh = max(f // h, 1)
            lg_np = rng.normal(size=(nnz, h)).astype(np.float32)
            x_np = rng.normal(size=(n, h, fh)).astype(np.float32)
            w_np = rng.normal(size=(m, h, fh)).astype(np.float32)
            lg, x, w = jnp.asarray(lg_np), jnp.asarray(x_np), jnp.asarray(w_np)
            impls = jax_esa_impls(m, args)
            ref = jax.jit(impls["segment"])(g, lg, x)
            for impl in [i for i in ESA_IMPLS if i in args.impls and i in impls]:
                if impl == "pallas" and not (args.interpret or args.on_gpu):
                    continue
                fwd, bwd = _jit_pair(impls[impl])
                for p in args.passes:
                    base = dict(graph=name, op="esa", F=f, impl=impl, **{"pass": p})
                    nbytes = esa_bytes(m, n, nnz, h, fh, 4, p != "fwd")
                    if p == "fwd":
                        timer = lambda fn=fwd, a=(g, lg, x): time_jax(fn, *a, **reps)  # noqa: E731
                    else:
                        timer = lambda fn=bwd, a=(g, lg, x, w): time_jax(fn, *a, **reps)  # noqa: E731
                    _run_cell(rows, base, timer, nbytes, peak, ref)
            if tdev is not None and "pyg" in args.impls:
                rows += _bench_torch_esa(g_np, lg_np, x_np, w_np, m, f, args, peak, ref, tdev)
            del lg, x, w, ref
    return rows


def _bench_torch_spmm(g_np, x_np, v_np, w_np, m, n, f, args, peak, ref, device) -> list[dict]:
    import torch

    rows: list[dict] = []
    x = torch.from_numpy(x_np).to(device).requires_grad_(True)
    v = torch.from_numpy(v_np).to(device).requires_grad_(True)
    w = torch.from_numpy(w_np).to(device)
    impls = torch_spmm_impls(g_np, m, n, device)
    for impl, fn in impls.items():
        if impl not in args.impls:
            continue
        for p in args.passes:
            base = dict(graph=args.current_graph, op="spmm", F=f, impl=impl, **{"pass": p})
            if impl == "torch_csr" and p != "fwd":
                base["note"] = "bwd computes dx only"
            nbytes = spmm_bytes(m, n, int(v_np.shape[0]), f, 4, p != "fwd")

            def step(fn=fn, p=p):
                if p == "fwd":
                    with torch.no_grad():
                        return fn(v, x)
                x.grad = v.grad = None
                out = fn(v, x)
                out.backward(w)
                return out

            _run_cell(
                rows,
                base,
                lambda step=step: time_torch(step, args.reps, args.warmup, device),
                nbytes,
                peak,
                ref,
            )
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def _bench_torch_esa(g_np, lg_np, x_np, w_np, m, f, args, peak, ref, device) -> list[dict]:
    import torch

    rows: list[dict] = []
    lg = torch.from_numpy(lg_np).to(device).requires_grad_(True)
    x = torch.from_numpy(x_np).to(device).requires_grad_(True)
    w = torch.from_numpy(w_np).to(device)
    nnz, h = lg_np.shape
    for impl, fn in torch_esa_impls(g_np, m, device).items():
        for p in args.passes:
            base = dict(graph=args.current_graph, op="esa", F=f, impl=impl, **{"pass": p})
            nbytes = esa_bytes(m, x_np.shape[0], nnz, h, x_np.shape[2], 4, p != "fwd")

            def step(fn=fn, p=p):
                if p == "fwd":
                    with torch.no_grad():
                        return fn(lg, x)
                lg.grad = x.grad = None
                out = fn(lg, x)
                out.backward(w)
                return out

            _run_cell(
                rows,
                base,
                lambda step=step: time_torch(step, args.reps, args.warmup, device),
                nbytes,
                peak,
                ref,
            )
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def markdown_table(rows: Sequence[dict]) -> str:
    head = "| graph | op | F | impl | pass | ms | GB/s (min bytes) | GB/s (gathered) | % peak "
    head += "| rel. err | note |"
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        pct = "" if np.isnan(r["pct_peak"]) else f"{r['pct_peak']:.0f}"
        ms = "" if np.isnan(r["ms"]) else f"{r['ms']:.3f}"
        gbps = "" if np.isnan(r["gbps"]) else f"{r['gbps']:.1f}"
        ggbps = "" if np.isnan(r["gather_gbps"]) else f"{r['gather_gbps']:.1f}"
        lines.append(
            f"| {r['graph']} | {r['op']} | {r['F']} | {r['impl']} | {r['pass']} | {ms} | "
            f"{gbps} | {ggbps} | {pct} | {r['err']} | {r['note']} |"
        )
    return "\n".join(lines)


def _csv(kind: Callable) -> Callable[[str], list]:
    return lambda s: [kind(p) for p in s.split(",") if p]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--graphs",
        type=_csv(str),
        default=["arxiv", "products"],
        help=f"comma list of {sorted(GRAPHS)} (default arxiv,products)",
    )
    p.add_argument("--small", action="store_true", help="shrink arxiv 100x and products 1000x")
    p.add_argument("--features", type=_csv(int), default=[64, 128, 256])
    p.add_argument("--ops", type=_csv(str), default=["spmm", "esa"])
    p.add_argument("--impls", type=_csv(str), default=list(dict.fromkeys(SPMM_IMPLS + ESA_IMPLS)))
    p.add_argument("--passes", type=_csv(str), default=["fwd", "fwd+bwd"])
    p.add_argument("--heads", type=int, default=4, help="edge-softmax heads (F split over them)")
    p.add_argument("--reps", type=int, default=None, help="timed runs (default 10; 1 on CPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs (default 2; 0 on CPU)")
    p.add_argument("--block-f", type=int, default=None)
    p.add_argument("--block-e", type=int, default=None)
    p.add_argument("--interpret", action="store_true", help="Pallas interpreter (CPU smoke test)")
    p.add_argument("--no-torch", action="store_true", help="skip the torch implementations")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    unknown = [g for g in args.graphs if g not in GRAPHS]
    if unknown:
        p.error(f"unknown graph(s) {unknown}; choose from {sorted(GRAPHS)}")
    bad_pass = [x for x in args.passes if x not in ("fwd", "fwd+bwd")]
    if bad_pass:
        p.error(f"unknown pass(es) {bad_pass}; choose from ['fwd', 'fwd+bwd']")
    return args


def main(argv: Sequence[str] | None = None) -> list[dict]:
    """Runs the benchmark, prints the Markdown table and returns its rows."""
    args = parse_args(argv)
    dev = jax.devices()[0]
    args.on_gpu = dev.platform == "gpu"
    if args.reps is None:
        args.reps = 10 if args.on_gpu else 1
    if args.warmup is None:
        args.warmup = 2 if args.on_gpu else 0
    peak = next((v for k, v in PEAK_GBPS.items() if k in dev.device_kind), None)
    jax.config.update("jax_bcoo_cusparse_lowering", True)
    tdev = None if args.no_torch else _torch_device()
    warnings.filterwarnings("ignore", message=".*[Ss]parse.*")  # torch's beta/invariant notes
    print("# Pallas kernel benchmark")
    print(f"jax {jax.__version__}, jaxlib {'.'.join(map(str, jaxlib_version()))}")
    print(f"device: {dev.device_kind} ({dev.platform}); peak {peak or 'unknown'} GB/s")
    print(f"torch device: {tdev}; python {sys.version.split()[0]}")
    print(scatter_cas_check(args.on_gpu))
    if not args.on_gpu and not args.interpret:
        print("note: no GPU and no --interpret: the pallas rows are skipped.")
    if args.interpret:
        print("note: --interpret runs the Pallas interpreter; its timings mean nothing.")
    rows: list[dict] = []
    for name in args.graphs:
        args.current_graph = name
        rows += bench_graph(name, args, peak, tdev)
    print("\n" + markdown_table(rows))
    print(
        "\nGB/s (min bytes): indices, values and feature rows touched once (fp32), over the "
        "time; fwd+bwd adds the transposed SpMM and the SDDMM. GB/s (gathered): every edge reads "
        "its whole feature row (no cache reuse); % peak uses that one. rel. err: forward output "
        "vs the XLA segment result."
    )
    return rows


if __name__ == "__main__":
    main()
