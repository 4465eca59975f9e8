"""Compiled memory of GIN-style sum aggregation: fused CSR SpMM (bcsr) vs gather-scatter (segment).

For ``out = A @ x`` with no edge values (GIN's neighbour sum) and average degree >= 50, this
compiles the forward and the forward+backward (gradient of ``sum(out * cotangent)`` w.r.t.
``x``; and, in a second block, also w.r.t. per-edge weights) with ``jax.jit`` and reads XLA's
``memory_analysis()``: temporary bytes (scratch the program allocates) and output bytes. The
gather-scatter path materialises the ``[E, F]`` message array (and its cotangent); the fused
path should need no ``[E, F]`` temporary at all. Nothing is executed, so it is quick.

Run: ``python benchmarks/bench_fused_memory.py [--nodes 20000 --edges 1000000 --features 128]``.
"""

from __future__ import annotations

import argparse
import datetime

import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=20_000)
    p.add_argument("--edges", type=int, default=1_000_000)
    p.add_argument("--features", type=int, default=128)
    args = p.parse_args()

    import jax
    import jax.numpy as jnp

    from jgnn.sparse import SparseTensor, spmm

    n, f = args.nodes, args.features
    rng = np.random.default_rng(0)
    adj = SparseTensor.from_edge_index(rng.integers(0, n, (2, args.edges)), sparse_sizes=(n, n))
    weighted = adj.fill_value(1.0)
    e = adj.nnz()
    x = jax.ShapeDtypeStruct((n, f), jnp.float32)
    v = jax.ShapeDtypeStruct((e,), jnp.float32)
    ef = e * f * 4

    def analyse(fn, *shapes):
        ma = jax.jit(fn).lower(*shapes).compile().memory_analysis()
        return ma.temp_size_in_bytes, ma.output_size_in_bytes

    rows = []
    for impl in ("bcsr", "segment"):

        def fwd(a, x, impl=impl):
            return spmm(a, x, impl=impl)

        def fwd_bwd(a, x, ct, impl=impl):
            return jax.grad(lambda x: jnp.sum(spmm(a, x, impl=impl) * ct))(x)

        def fwd_bwd_w(a, w, x, ct, impl=impl):
            loss = lambda w, x: jnp.sum(spmm(a.set_value(w), x, impl=impl) * ct)
            return jax.grad(loss, argnums=(0, 1))(w, x)

        rows.append((impl, "fwd", *analyse(fwd, adj, x)))
        rows.append((impl, "fwd+bwd (dx)", *analyse(fwd_bwd, adj, x, x)))
        rows.append((impl, "fwd+bwd (dx, d weights)", *analyse(fwd_bwd_w, weighted, v, x, x)))

    mib = 2.0**20
    print(f"## Compiled memory: GIN sum aggregation, N={n:,}, E={e:,} (avg degree {e / n:.0f}),")
    print(f"F={f}, float32. [E, F] float32 = {ef / mib:.1f} MiB.\n")
    print(f"- jax {jax.__version__} ({jax.default_backend()}); {datetime.date.today()}\n")
    print("| impl | program | temp (MiB) | temp / [E,F] | output (MiB) |")
    print("|---|---|---:|---:|---:|")
    for impl, prog, temp, out in rows:
        print(f"| {impl} | {prog} | {temp / mib:.1f} | {temp / ef:.3f} | {out / mib:.1f} |")


if __name__ == "__main__":
    main()
