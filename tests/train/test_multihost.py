"""Two processes on localhost (jax.distributed, gloo): each samples its own shard of the seed
batches, gradients are all-reduced across processes, and both end with the same parameters
as one process running the same global batches on two local devices."""

import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).parents[2]

SCRIPT = textwrap.dedent(
    """
    import sys
    mode, out = sys.argv[1], sys.argv[2]
    from jgnn.train import initialize_distributed
    if mode == "multi":
        port, pid = sys.argv[3], int(sys.argv[4])
        initialize_distributed(f"localhost:{port}", 2, pid, local_device_count=1, timeout_s=120)
    else:
        import jax
        jax.config.update("jax_num_cpu_devices", 2)

    import jax, numpy as np, optax
    from flax import nnx
    from jgnn.loader import Budget, Loader
    from jgnn.models import GCN
    from jgnn.sampling import NeighborSampler, SeedBatches
    from jgnn.train import (agree_rung, assert_same_across_processes, data_mesh,
        data_parallel_step, init_train_state, make_train_step, process_shard, replicate,
        sampled_loss, shard_batch, stack_batches, take_batches)

    N, F, C = 300, 8, 3
    rng = np.random.default_rng(0)
    edge_index = rng.integers(0, N, (2, 1800)).astype(np.int32)
    x = rng.normal(size=(N, F)).astype(np.float32)
    y = rng.integers(0, C, N).astype(np.int32)
    source = SeedBatches(NeighborSampler(edge_index, [4, 3], seed=1), np.arange(160),
                         batch_size=16, seed=2)
    budget = Budget.fit(source, num_batches=10, percentile=50.0, num_rungs=2, multiple=4)

    graphdef, state = init_train_state(GCN(F, 16, C, dropout=0.5, rngs=nnx.Rngs(0)),
                                       optax.adam(0.01))
    mesh = data_mesh()  # every process's devices: 2 in both modes
    state = replicate(state, mesh)
    step = data_parallel_step(make_train_step(graphdef, sampled_loss, axis_name="data"), mesh)
    if mode == "multi":  # this process's shard of every epoch
        loaders = [Loader(source, budget, features=x, labels=y, **process_shard())]
    else:  # one process, both shards, one per local device
        loaders = [Loader(source, budget, features=x, labels=y, shard_index=s, num_shards=2)
                   for s in range(2)]
    losses = []
    for epoch in range(2):
        its = [loader.epoch(epoch) for loader in loaders]
        while True:
            if mode == "multi":
                batches = take_batches(its[0], 1)
            else:
                batches = [b for it in its for b in (take_batches(it, 1) or [])]
                batches = batches if len(batches) == 2 else None
            if batches is None:
                break
            stacked = stack_batches(batches, rung=agree_rung(batches))
            state, metrics = step(state, shard_batch(stacked, mesh))
            losses.append(float(metrics["loss"]))
    assert_same_across_processes(state.model, "parameters after training")
    leaves = {}
    for i, leaf in enumerate(jax.tree_util.tree_leaves(state.model)):
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        leaves[str(i)] = np.asarray(leaf.addressable_shards[0].data)
    np.savez(out, losses=np.asarray(losses), **leaves)
    for loader in loaders:
        loader.close()
    if mode == "multi":
        jax.distributed.shutdown()
    """
)


def _free_port():
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env():
    env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=str(ROOT / "src"))
    env.pop("XLA_FLAGS", None)
    return env


def test_two_processes_match_one_process(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    port = str(_free_port())
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), "multi", str(tmp_path / f"p{pid}.npz"), port, str(pid)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )
        for pid in range(2)
    ]
    try:
        single = subprocess.run(
            [sys.executable, str(script), "single", str(tmp_path / "single.npz")],
            capture_output=True,
            text=True,
            timeout=300,
            env=_env(),
        )
        logs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:  # no orphans, whatever happened
            if p.poll() is None:
                p.kill()
                p.wait()
    assert single.returncode == 0, single.stderr[-3000:]
    for pid, (p, log) in enumerate(zip(procs, logs, strict=True)):
        assert p.returncode == 0, f"process {pid}:\n{log[-3000:]}"
    p0, p1, one = (np.load(tmp_path / f"{n}.npz") for n in ("p0", "p1", "single"))
    assert len(one["losses"]) == 2 * (10 // 2)  # 2 epochs of 10 batches, 2 per step
    for key in one.files:
        np.testing.assert_array_equal(p0[key], p1[key], err_msg=key)  # identical processes
        np.testing.assert_allclose(p0[key], one[key], rtol=1e-6, atol=1e-7, err_msg=key)
    # Training moved the parameters, and the processes agree with each other on the loss.
    assert one["losses"][-1] < one["losses"][0]


def test_initialize_checks_its_arguments():
    from jgnn.train import initialize_distributed

    with pytest.raises(ValueError, match=r"`process_id` must be in \[0, 2\), got 2"):
        initialize_distributed("localhost:1234", 2, 2)
    with pytest.raises(ValueError, match="`coordinator_address` must be 'host:port'"):
        initialize_distributed("localhost", 2, 0)
    with pytest.raises(ValueError, match="`num_processes` must be an int >= 1"):
        initialize_distributed("localhost:1234", 0, 0)
