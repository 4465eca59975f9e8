"""Benchmark the Pallas kernels against XLA, BCSR/cuSPARSE and PyG, side by side in one run.

Synthetic graphs shaped like ogbn-arxiv (169k nodes, 2.3M edges; F = 64, 128, 256) and
ogbn-products (2.4M nodes, 124M edges; F = 64); forward and forward+backward of `spmm` (sum
with edge values), `esa` (edge softmax of given logits + aggregation), `gat` and `gatv2`
(fused attention). Implementations: `pallas` (block sizes from the rule), `pallas_fixed` (the
old fixed sizes: one row per program in CSR order, `block_e=32`, `block_f` up to 128; spmm and
esa), `segment` (the XLA gather/segment composition of the same math), `bcsr` (BCSR @ x, a
cuSPARSE call), `torch_csr` (`torch.sparse.mm`, cuSPARSE; backward gives dx only) and `pyg`
(`torch_geometric.utils.softmax` + scatter, esa).

Every timed fwd+bwd returns the forward output AND the cotangents, and the timer blocks on all
of them: returning only the cotangents lets XLA delete the forward of the segment paths (the
bug of the first H200 run, issue 13); `tests/benchmarks/` checks it with `compiled_op_count`.
It prints the versions, checks for the f32 scatter-add CAS regression (jax#38806), prints one
Markdown table with ratios to the segment path, and starts no cell after `--budget-s`.

    PYTHONPATH=. python benchmarks/bench_kernels_gpu.py                  # everything, GPU
    PYTHONPATH=. python benchmarks/bench_kernels_gpu.py --graphs arxiv --features 128
    PYTHONPATH=. python benchmarks/bench_kernels_gpu.py --small --interpret   # CPU smoke test
"""

from __future__ import annotations

import argparse
import importlib.util
import os
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

import pallas_kernels as pk  # noqa: E402

# name -> (num_nodes, num_edges, divisor used by --small, default features, default ops)
GRAPHS = {
    "arxiv": (169_343, 2_315_598, 100, (64, 128, 256), ("spmm", "esa", "gat", "gatv2")),
    "products": (2_449_029, 123_718_280, 1000, (64,), ("spmm", "gat")),
    "tiny": (64, 512, 1, (8,), ("spmm", "esa", "gat", "gatv2")),
}
OPS = ("spmm", "esa", "gat", "gatv2")
JAX_IMPLS = ("pallas", "pallas_fixed", "segment", "bcsr")
TORCH_IMPLS = ("torch_csr", "pyg")
SLOPE = 0.2


# Peak HBM bandwidth (GB/s) by device-name fragment, for the "% peak" column.
PEAK_GBPS = {"H200": 4800.0, "H100 PCIe": 2000.0, "H100": 3350.0, "A100": 2039.0}
CAS_AFFECTED = ((0, 10, 2), (0, 11, 0))  # jaxlib versions with the scatter-add CAS loop


def make_graph(num_nodes: int, num_edges: int, seed: int) -> dict[str, np.ndarray]:
    """Synthetic CSR graph (host-side): log-normal in-degrees (a heavy tail, like citation and
    co-purchase graphs; median = mean / 1.65), uniformly random sources. Rows are destinations
    (adj_t layout)."""
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
def csc_view(col: jax.Array, row: jax.Array, bounds: jax.Array):
    """`(colptr, row_t, csr2csc)` on the device: the view a stored SparseTensor keeps."""
    perm = jnp.argsort(col, stable=True).astype(jnp.int32)
    colptr = jnp.searchsorted(col[perm], bounds, side="left").astype(jnp.int32)
    return colptr, row[perm], perm


def time_fn(fn: Callable, sync: Callable, reps: int, warmup: int) -> tuple[float, Any]:
    """Median wall time (ms) of `fn()` after compilation and warm-up; `sync(out)` waits for
    everything `fn` returned (so no output is dead code)."""
    out = fn()
    sync(out)
    for _ in range(warmup):
        sync(fn())
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        sync(fn())
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3, out


def time_jax(fn: Callable, *args: Any, reps: int, warmup: int) -> tuple[float, Any]:
    return time_fn(lambda: fn(*args), jax.block_until_ready, reps, warmup)


def rel_err(actual: Any, expected: jax.Array) -> float:
    """max |actual - expected| / max(1, max |expected|) (the forward output of a cell)."""
    if isinstance(actual, tuple):
        actual = actual[0]
    if not isinstance(actual, jax.Array):  # a torch tensor
        actual = jnp.asarray(actual.detach().cpu().numpy())
    diff = jnp.max(jnp.abs(actual.astype(jnp.float32) - expected.astype(jnp.float32)))
    return float(diff / jnp.maximum(jnp.max(jnp.abs(expected)), 1.0))


def scatter_cas_check(on_gpu: bool) -> str:
    """Flags the f32 scatter-add compare-and-swap regression: by jaxlib version, and on a GPU by
    timing a contended scatter (2^24 adds into 256 rows) against an uncontended one."""
    ver = tuple(int(p) for p in jax.lib.__version__.split(".")[:3] if p.isdigit())
    hit = "AFFECTED (jax#38806)" if CAS_AFFECTED[0] <= ver <= CAS_AFFECTED[1] else "not affected"
    msg = f"scatter-add CAS regression: jaxlib {'.'.join(map(str, ver))} is {hit}"
    if not on_gpu:
        return msg + " by version; timing probe skipped (no GPU)."
    n = 1 << 24
    ones = jnp.ones((n,), jnp.float32)
    hot = jax.random.randint(jax.random.key(0), (n,), 0, 256, jnp.int32)
    probe = jax.jit(jax.ops.segment_sum, static_argnums=2)
    t_hot, _ = time_jax(probe, ones, hot, 256, reps=5, warmup=1)
    t_cold, _ = time_jax(probe, ones, jnp.arange(n, dtype=jnp.int32), n, reps=5, warmup=1)
    ratio = t_hot / max(t_cold, 1e-6)
    verdict = "LIKELY PRESENT" if ratio > 50 else "not observed"
    return f"{msg} by version; probe: contended/uncontended x{ratio:.1f} -> {verdict}."


def spmm_bytes(m: int, n: int, nnz: int, f: int, item: int, backward: bool) -> int:
    """Minimum bytes of one SpMM (plus its backward): col + value read once, x read once, out
    written once (nnz*8 + 2*N*F*4 for fp32, M = N); the backward adds one pass over the CSC view
    (row_t, csr2csc and value read, d value written; g and x read, dx written)."""
    fwd = nnz * 8 + (m + n) * f * item
    return fwd + (nnz * 16 + (m + 2 * n) * f * item if backward else 0)


def esa_bytes(m: int, n: int, nnz: int, h: int, fh: int, item: int, backward: bool) -> int:
    """Minimum bytes of one edge-softmax aggregation (plus its backward): col and logits, x read
    once, out written once; the backward adds the CSC pass (row_t, csr2csc, attention and
    dlogits; g and x read, dx written)."""
    fwd = nnz * (4 + h * item) + (m + n) * h * fh * item
    return fwd + (nnz * (8 + 3 * h * 4) + (m + 2 * n) * h * fh * item if backward else 0)


def run_cell(rows: list, base: dict, timer: Callable, nbytes: tuple, peak, ref, args) -> None:
    """Times one cell (unless the time budget is spent) and appends its row."""
    nan = float("nan")
    row = dict(ms=nan, gbps=nan, pct_peak=nan, err="", note="") | base
    if time.perf_counter() - args.start > args.budget_s:
        row["note"] = f"skipped: the {args.budget_s:.0f} s budget is spent"
    else:
        try:
            ms, out = timer()
            row["ms"] = ms
            row["gbps"] = nbytes / (ms * 1e-3) / 1e9
            if peak:
                row["pct_peak"] = 100.0 * row["gbps"] / peak
            if base["pass"] == "fwd":
                row["err"] = f"{rel_err(out, ref):.1e}"
        except Exception as exc:  # noqa: BLE001 - one failing cell (e.g. OOM) must not end the run
            first = (str(exc).strip().splitlines() or [""])[0]
            row["note"] = f"{type(exc).__name__}: {first[:70]}"
    rows.append(row)
    print(
        f"  {row['op']:5s} F={row['F']:<4d} {row['impl']:13s} {row['pass']:8s} "
        f"{row['ms']:10.3f} ms {row['gbps']:8.1f} GB/s {row['err']:>8s} {row['note']}",
        flush=True,
    )


def bench_torch(fn, host, base: dict, nbytes, args, peak, ref, device) -> list[dict]:
    """Times a torch implementation: `fn(*operands)`; fwd+bwd backpropagates the cotangent."""
    import torch

    *operands, cot = [torch.from_numpy(a).to(device) for a in host]
    operands = [o.requires_grad_(True) for o in operands]
    rows: list[dict] = []
    for p in args.passes:

        def step(p=p):
            if p == "fwd":
                with torch.no_grad():
                    return fn(*operands)
            for o in operands:
                o.grad = None
            out = fn(*operands)
            out.backward(cot)
            return out

        cell = dict(base, **{"pass": p})
        sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
        timer = lambda step=step, sync=sync: time_fn(step, lambda _: sync(), args.reps, args.warmup)  # noqa: E731
        run_cell(rows, cell, timer, nbytes(p != "fwd"), peak, ref, args)
        if base["impl"] == "torch_csr" and p != "fwd" and not rows[-1]["note"]:
            rows[-1]["note"] = "bwd computes dx only"
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def add_ratios(rows: list[dict]) -> None:
    """Adds `vs_segment`: the segment row's time over each row's time, per (graph, op, F, pass)."""
    seg = {
        (r["graph"], r["op"], r["F"], r["pass"]): r["ms"] for r in rows if r["impl"] == "segment"
    }
    for r in rows:
        r["vs_segment"] = seg.get((r["graph"], r["op"], r["F"], r["pass"]), float("nan")) / r["ms"]


def markdown_table(rows: Sequence[dict]) -> str:
    cols = ("graph", "op", "F", "impl", "pass", "ms", "vs segment", "GB/s (min bytes)")
    cols += ("% peak", "rel. err", "note")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    fmt = lambda v, spec: "" if np.isnan(v) else format(v, spec)  # noqa: E731
    for r in rows:
        cells = (r["graph"], r["op"], r["F"], r["impl"], r["pass"], fmt(r["ms"], ".3f"))
        cells += (fmt(r["vs_segment"], ".2f"), fmt(r["gbps"], ".1f"), fmt(r["pct_peak"], ".0f"))
        cells += (r["err"], r["note"])
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines)


def csv(kind: Callable) -> Callable[[str], list]:
    return lambda s: [kind(p) for p in s.split(",") if p]


def fixed_blocks(num_features: int) -> pk.BlockSizes:
    """The sizes used before the block-size rule (issue 13's "default blocks")."""
    block_f = min(1 << max(num_features - 1, 0).bit_length(), 128)
    block_e = min(max(4096 // block_f, 8), 32)
    return pk.BlockSizes(block_e, block_f, 1, 0, False)


# --------------------------------------------------------------------------- implementations
# The graph travels as a jit argument `gr` (a dict of device arrays): closing over it would
# embed the index arrays in the program as constants (gigabytes for ogbn-products). Every
# implementation is f(gr, *operands) -> out.


def _segment_attention(gr, m, logits, x):
    """XLA composition: segment_max -> exp -> segment_sum -> weighted segment_sum."""
    row = gr["row"]
    mx = jax.ops.segment_max(logits, row, num_segments=m)
    mx = jax.lax.stop_gradient(jnp.where(jnp.isfinite(mx), mx, 0.0))
    p = jnp.exp(logits - mx[row])
    s = jax.ops.segment_sum(p, row, num_segments=m)
    att = p / jnp.where(s > 0, s, 1.0)[row]
    return jax.ops.segment_sum(att[:, :, None] * x[gr["col"]], row, num_segments=m)


def _segment_spmm(gr, m, v, x):
    return jax.ops.segment_sum(x[gr["col"]] * v[:, None], gr["row"], num_segments=m)


def _segment_gat(gr, m, x, a_src, a_dst):
    z = a_src[gr["col"]] + a_dst[gr["row"]]
    return _segment_attention(gr, m, jax.nn.leaky_relu(z, SLOPE), x)


def _segment_gatv2(gr, m, x_src, x_dst, att):
    z = jax.nn.leaky_relu(x_src[gr["col"]] + x_dst[gr["row"]], SLOPE)
    return _segment_attention(gr, m, jnp.sum(z * att, axis=-1), x_src)


# op -> (Pallas op, XLA composition); each takes the CSR, then the operands of make_operands.
OP_IMPLS = {
    "spmm": (pk.spmm, _segment_spmm),
    "esa": (pk.edge_softmax_aggregate, _segment_attention),
    "gat": (pk.gat_aggregate, _segment_gat),
    "gatv2": (pk.gatv2_aggregate, _segment_gatv2),
}


def jax_impls(op: str, m: int, n: int, f: int, args: argparse.Namespace) -> dict[str, Callable]:
    """name -> f(gr, *operands) for the JAX implementations of `op`."""
    kernel, segment = OP_IMPLS[op]

    def pallas(blocks):
        def run(gr, *operands):
            csr = dict(transpose=gr["transpose"], row=gr["row"], interpret=args.interpret)
            return kernel(gr["rowptr"], gr["col"], *operands, blocks=blocks, **csr)

        return run

    block_f = None if op == "gatv2" else args.block_f  # GATv2 holds all of F in a program
    impls = {"pallas": pallas(pk.BlockSizes(block_e=args.block_e, block_f=block_f))}
    if op in ("spmm", "esa"):
        impls["pallas_fixed"] = pallas(fixed_blocks(f // (1 if op == "spmm" else args.heads)))
    impls["segment"] = lambda gr, *operands: segment(gr, m, *operands)
    if op == "spmm":
        impls["bcsr"] = lambda gr, v, x: (
            jsparse.BCSR((v, gr["col"], gr["rowptr"]), shape=(m, n)) @ x
        )
    return impls


def make_operands(op: str, m: int, n: int, nnz: int, f: int, h: int, rng) -> list[np.ndarray]:
    """Host-side: the differentiated operands of `op` (float32), then the output cotangent."""
    normal = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    fh = max(f // h, 1)
    if op == "spmm":
        return [normal(nnz), normal(n, f), normal(m, f)]
    if op == "esa":
        return [normal(nnz, h), normal(n, h, fh), normal(m, h, fh)]
    if op == "gat":
        return [normal(n, h, fh), normal(n, h), normal(m, h), normal(m, h, fh)]
    return [normal(n, h, fh), normal(m, h, fh), normal(h, fh), normal(m, h, fh)]


def op_bytes(op: str, m: int, n: int, nnz: int, f: int, h: int, backward: bool) -> int:
    """Minimum bytes of `op` (fp32); see `spmm_bytes` and `esa_bytes`."""
    if op == "spmm":
        return spmm_bytes(m, n, nnz, f, 4, backward)
    fh = max(f // h, 1)
    nbytes = esa_bytes(m, n, nnz, h, fh, 4, backward)
    if op == "gat":  # per-node scalars instead of per-edge logits
        return nbytes - nnz * h * 4 + (m + n) * h * 4 * (2 if backward else 1)
    return nbytes + (m * h * fh * 4 if op == "gatv2" else 0)  # gatv2 reads x_dst too


def torch_impls(op: str, g_np: dict, m: int, n: int, device: Any) -> dict[str, Callable]:
    """name -> f(*operands) for the torch implementations of `op` (cuSPARSE, PyG)."""
    import torch

    rowptr, col, row = (torch.from_numpy(g_np[k].astype(np.int64)).to(device) for k in g_np)
    if op == "spmm":

        def torch_csr(v, x):  # no gradient for the values: its backward gives dx only
            return torch.sparse.mm(torch.sparse_csr_tensor(rowptr, col, v.detach(), (m, n)), x)

        return {"torch_csr": torch_csr}
    try:
        from torch_geometric.utils import scatter, softmax
    except ImportError:
        return {}

    def pyg(logits, x):
        alpha = softmax(logits, row, ptr=rowptr, num_nodes=m)
        return scatter(alpha.unsqueeze(-1) * x[col], row, dim=0, dim_size=m, reduce="sum")

    return {"pyg": pyg} if op == "esa" else {}


# --------------------------------------------------------------------------- driver


def _jit_pair(fn: Callable) -> tuple[Callable, Callable]:
    """`(jit(fn), jit(fwd+bwd))`; the fwd+bwd returns the forward output AND the cotangents of
    every operand, so XLA cannot delete the forward."""

    def fwd_bwd(gr, *operands_and_cot):
        *operands, cot = operands_and_cot
        out, vjp = jax.vjp(lambda *ops: fn(gr, *ops), *operands)
        return out, vjp(cot)

    return jax.jit(fn), jax.jit(fwd_bwd)


def compiled_op_count(fn: Callable, *args: Any, op: str = "scatter") -> int:
    """Number of `op` instructions in the optimized HLO of `jit(fn)(*args)` (DCE checks)."""
    text = jax.jit(fn).lower(*args).compile().as_text()
    return text.count(f" {op}(")


def _torch_device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def bench_graph(name: str, args: argparse.Namespace, peak: float | None, tdev) -> list[dict]:
    nodes, edges, div, features, ops = GRAPHS[name]
    features = args.features or features
    ops = [o for o in (args.ops or ops)]
    if args.small:
        nodes, edges = max(nodes // div, 16), max(edges // div, 64)
    t0 = time.perf_counter()
    g_np = make_graph(nodes, edges, args.seed)
    m = n = nodes
    nnz = edges
    gr = {k: jnp.asarray(v) for k, v in g_np.items()}
    gr["transpose"] = csc_view(gr["col"], gr["row"], jnp.arange(n + 1, dtype=jnp.int32))
    jax.block_until_ready(gr)
    deg = np.diff(g_np["rowptr"])
    print(
        f"\n## {name}{' (small)' if args.small else ''}: {m} nodes, {nnz} edges, degree mean "
        f"{deg.mean():.1f} median {np.median(deg):.0f} max {deg.max()} "
        f"(built in {time.perf_counter() - t0:.1f} s)",
        flush=True,
    )
    rows: list[dict] = []
    rng = np.random.default_rng(args.seed + 1)
    for f in features:
        for op in ops:
            h = 1 if op == "spmm" else args.heads
            kind = op if op in ("spmm", "gatv2") else "softmax"
            rule = pk.choose_block_sizes(f // h, m, nnz, num_heads=h, kernel=kind)
            print(f"  {op} F={f}: rule {tuple(rule)}, fixed {tuple(fixed_blocks(f // h))}")
            host = make_operands(op, m, n, nnz, f, h, rng)
            dev = [jnp.asarray(a) for a in host]
            impls = jax_impls(op, m, n, f, args)
            ref = jax.jit(impls["segment"])(gr, *dev[:-1])
            for impl, fn in impls.items():
                if impl not in args.impls:
                    continue
                if impl.startswith("pallas") and not (args.interpret or args.on_gpu):
                    continue
                fwd, fwd_bwd = _jit_pair(fn)
                for p in args.passes:
                    base = dict(graph=name, op=op, F=f, impl=impl, **{"pass": p})
                    nbytes = op_bytes(op, m, n, nnz, f, h, p != "fwd")
                    call = (fwd, (gr, *dev[:-1])) if p == "fwd" else (fwd_bwd, (gr, *dev))
                    timer = lambda c=call: time_jax(c[0], *c[1], reps=args.reps, warmup=args.warmup)  # noqa: E731
                    run_cell(rows, base, timer, nbytes, peak, ref, args)
            if tdev is not None:
                for impl, fn in torch_impls(op, g_np, m, n, tdev).items():
                    if impl in args.impls:
                        base = dict(graph=name, op=op, F=f, impl=impl)
                        nbytes = lambda bwd, op=op, f=f, h=h: op_bytes(op, m, n, nnz, f, h, bwd)  # noqa: E731
                        rows += bench_torch(fn, host, base, nbytes, args, peak, ref, tdev)
            del dev, ref
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graphs", type=csv(str), default=["arxiv", "products"])
    p.add_argument("--small", action="store_true", help="shrink arxiv 100x and products 1000x")
    p.add_argument("--features", type=csv(int), default=None, help="default: per graph")
    p.add_argument("--ops", type=csv(str), default=None, help=f"subset of {OPS}")
    p.add_argument("--impls", type=csv(str), default=list(JAX_IMPLS + TORCH_IMPLS))
    p.add_argument("--passes", type=csv(str), default=["fwd", "fwd+bwd"])
    p.add_argument("--heads", type=int, default=4, help="attention heads (F split over them)")
    p.add_argument("--reps", type=int, default=None, help="timed runs (default 10; 1 on CPU)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs (default 2; 0 on CPU)")
    p.add_argument("--block-f", type=int, default=None, help="override the rule's block_f")
    p.add_argument("--block-e", type=int, default=None, help="override the rule's block_e")
    p.add_argument("--budget-s", type=float, default=280.0, help="start no cell after this")
    p.add_argument("--interpret", action="store_true", help="Pallas interpreter (CPU smoke test)")
    p.add_argument("--no-torch", action="store_true", help="skip the torch implementations")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    for name, given, allowed in (
        ("graph", args.graphs, GRAPHS),
        ("op", args.ops or [], OPS),
        ("pass", args.passes, ("fwd", "fwd+bwd")),
    ):
        unknown = [g for g in given if g not in allowed]
        if unknown:
            p.error(f"unknown {name}(s) {unknown}; choose from {sorted(allowed)}")
    return args


def main(argv: Sequence[str] | None = None) -> list[dict]:
    """Runs the benchmark, prints the Markdown table and returns its rows."""
    args = parse_args(argv)
    dev = jax.devices()[0]
    args.on_gpu = dev.platform == "gpu"
    args.reps = args.reps if args.reps is not None else (10 if args.on_gpu else 1)
    args.warmup = args.warmup if args.warmup is not None else (2 if args.on_gpu else 0)
    args.start = time.perf_counter()
    peak = next((v for k, v in PEAK_GBPS.items() if k in dev.device_kind), None)
    jax.config.update("jax_bcoo_cusparse_lowering", True)
    has_torch = importlib.util.find_spec("torch") is not None
    tdev = _torch_device() if has_torch and not args.no_torch else None
    warnings.filterwarnings("ignore", message=".*[Ss]parse.*")  # torch's beta/invariant notes
    warnings.filterwarnings("ignore", message=".*Triton backend is deprecated.*")
    print("# Pallas kernel benchmark")
    print(f"jax {jax.__version__}, jaxlib {jax.lib.__version__}")
    print(f"device: {dev.device_kind} ({dev.platform}); peak {peak or 'unknown'} GB/s")
    print(f"torch device: {tdev}; python {sys.version.split()[0]}")
    print(scatter_cas_check(args.on_gpu))
    if not args.on_gpu and not args.interpret:
        print("note: no GPU and no --interpret: the pallas rows are skipped.")
    if args.interpret:
        print("note: --interpret runs the Pallas interpreter; its timings mean nothing.")
    rows: list[dict] = []
    for name in args.graphs:
        rows += bench_graph(name, args, peak, tdev)
    add_ratios(rows)
    print("\n" + markdown_table(rows))
    print(
        "\nGB/s (min bytes): indices, values and feature rows touched once (fp32), over the "
        "time; % peak of the HBM bandwidth. vs segment: time of the XLA segment path over this "
        "row's time (>1: faster). rel. err: forward output vs the XLA segment result. Runs "
        f"vary ~20% between calls. Total {time.perf_counter() - args.start:.0f} s."
    )
    return rows


if __name__ == "__main__":
    main()
