"""CPU benchmark of sparse x dense aggregation: jgnn (segment, bcsr, auto) vs PyG and torch_sparse.

Measures, on ONE random graph shared by every contender, the median wall time of

* fwd:      ``out = A @ x`` (sum aggregation with per-edge weights), and
* fwd+bwd:  the gradient of ``sum(out * cotangent)`` with respect to ``x`` and the edge values,

for jgnn's ``spmm`` with ``impl="segment"``, ``"bcsr"`` and ``"auto"`` (jitted), PyG's
``torch_geometric.utils.scatter(x[col] * w, row, reduce="sum")`` and
``torch_sparse.matmul(SparseTensor, x)``. Repeats are interleaved round-robin across contenders
so that load from other processes on a shared machine is spread evenly over them.

Run: ``python benchmarks/bench_spmm_cpu.py [--nodes 100000 --edges 1000000 --features 64]``.
Prints a Markdown table with times and ratios vs torch_sparse, versions, thread counts and date.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=100_000)
    p.add_argument("--edges", type=int, default=1_000_000)
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count(),
        help="torch intra-op threads; 1 also makes XLA's CPU runtime single-threaded",
    )
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main() -> None:
    args = _parse()
    if args.threads == 1:  # must precede the jax import
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    import jax
    import jax.numpy as jnp
    import torch
    import torch_sparse
    from torch_geometric.utils import scatter

    from jgnn.sparse import SparseTensor, resolve_impl, spmm

    torch.set_num_threads(args.threads)
    n, f = args.nodes, args.features
    rng = np.random.default_rng(args.seed)
    edge_index = rng.integers(0, n, (2, args.edges))
    weight = rng.uniform(0.5, 1.5, args.edges).astype(np.float32)
    t0 = time.perf_counter()
    adj = SparseTensor.from_edge_index(edge_index, weight, sparse_sizes=(n, n))
    build_s = time.perf_counter() - t0
    row, col, value = (np.asarray(a) for a in adj.coo())  # coalesced, sorted: same for all
    x_np = rng.standard_normal((n, f)).astype(np.float32)
    ct_np = rng.standard_normal((n, f)).astype(np.float32)

    # ---- jgnn ------------------------------------------------------------------------------
    x, ct = jnp.asarray(x_np), jnp.asarray(ct_np)
    contenders = {}
    for impl in ("segment", "bcsr", "auto"):
        fwd = jax.jit(lambda a, x, impl=impl: spmm(a, x, impl=impl))

        def loss(v, x, a, impl=impl):
            return jnp.sum(spmm(a.set_value(v), x, impl=impl) * ct)

        fb = jax.jit(jax.grad(loss, argnums=(0, 1)))
        contenders[f"jgnn {impl}"] = (
            lambda fwd=fwd: jax.block_until_ready(fwd(adj, x)),
            lambda fb=fb: jax.block_until_ready(fb(adj.value, x, adj)),
        )
    auto = resolve_impl("auto", reduce="sum", value_ndim=1)

    # ---- PyTorch ---------------------------------------------------------------------------
    t_row = torch.from_numpy(row.astype(np.int64))
    t_col = torch.from_numpy(col.astype(np.int64))
    t_val = torch.from_numpy(value.copy())
    t_x, t_ct = torch.from_numpy(x_np), torch.from_numpy(ct_np)
    t_xg = t_x.clone().requires_grad_()
    t_vg = t_val.clone().requires_grad_()

    def pyg_fwd():
        with torch.no_grad():
            return scatter(t_x[t_col] * t_val[:, None], t_row, 0, dim_size=n, reduce="sum")

    def pyg_fb():
        out = scatter(t_xg[t_col] * t_vg[:, None], t_row, 0, dim_size=n, reduce="sum")
        return torch.autograd.grad((out * t_ct).sum(), [t_xg, t_vg])

    ts_adj = torch_sparse.SparseTensor(
        row=t_row, col=t_col, value=t_val, sparse_sizes=(n, n), is_sorted=True
    )
    ts_adj_g = torch_sparse.SparseTensor(
        row=t_row, col=t_col, value=t_vg, sparse_sizes=(n, n), is_sorted=True
    )
    ts_adj_g.storage.csr2csc()  # cache the transpose (jgnn stores it at construction too)
    ts_adj_g.storage.colptr()

    def ts_fwd():
        with torch.no_grad():
            return torch_sparse.matmul(ts_adj, t_x)

    def ts_fb():
        out = torch_sparse.matmul(ts_adj_g, t_xg)
        return torch.autograd.grad((out * t_ct).sum(), [t_xg, t_vg])

    contenders["PyG scatter"] = (pyg_fwd, pyg_fb)
    contenders["torch_sparse.matmul"] = (ts_fwd, ts_fb)

    # ---- sanity: everyone computes the same thing ------------------------------------------
    ref = ts_fwd().numpy()
    np.testing.assert_allclose(np.asarray(contenders["jgnn auto"][0]()), ref, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(pyg_fwd().numpy(), ref, rtol=1e-3, atol=1e-3)
    g_ref = [g.numpy() for g in ts_fb()]
    for name in ("jgnn segment", "jgnn bcsr"):
        dv, dx = contenders[name][1]()
        np.testing.assert_allclose(np.asarray(dx), g_ref[0], rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(np.asarray(dv), g_ref[1], rtol=1e-3, atol=1e-2)

    # ---- timing: warm up, then interleave repeats ------------------------------------------
    load_before = os.getloadavg()
    times = {name: ([], []) for name in contenders}
    for fns in contenders.values():
        fns[0](), fns[1]()
    for _ in range(args.repeats):
        for name, fns in contenders.items():
            for k in (0, 1):
                t = time.perf_counter()
                fns[k]()
                times[name][k].append(time.perf_counter() - t)
    load_after = os.getloadavg()

    med = {name: (np.median(a) * 1e3, np.median(b) * 1e3) for name, (a, b) in times.items()}
    base = med["torch_sparse.matmul"]
    print(f"## SpMM on CPU: N={n:,}, E={adj.nnz():,} (coalesced), F={f}, float32\n")
    print(
        f"- date {datetime.datetime.now().isoformat(timespec='minutes')}; "
        f"{platform.processor() or platform.machine()}, os.cpu_count()={os.cpu_count()}"
    )
    print(
        f"- jax {jax.__version__} ({jax.default_backend()}, XLA_FLAGS="
        f"{os.environ.get('XLA_FLAGS', '')!r}); torch {torch.__version__} "
        f"(torch.get_num_threads()={torch.get_num_threads()}); torch_sparse "
        f"{torch_sparse.__version__}"
    )
    print(f"- jgnn auto resolves to {auto!r}; SparseTensor build (host) {build_s:.2f} s")
    print(
        f"- median of {args.repeats} interleaved repeats; load average before/after "
        f"{load_before[0]:.1f}/{load_after[0]:.1f}\n"
    )
    print("| impl | fwd (ms) | fwd+bwd (ms) | fwd / torch_sparse | fwd+bwd / torch_sparse |")
    print("|---|---:|---:|---:|---:|")
    for name, (a, b) in med.items():
        print(f"| {name} | {a:.1f} | {b:.1f} | {a / base[0]:.2f}x | {b / base[1]:.2f}x |")
    goal = med["jgnn auto"][0] <= 0.5 * base[0] and med["jgnn auto"][1] <= 0.5 * base[1]
    print(
        f"\nGoal (jgnn auto <= 0.5x torch_sparse, fwd and fwd+bwd): {'met' if goal else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
