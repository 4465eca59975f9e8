"""Checkpoints: exact resume in a fresh process, complete-step selection, clear errors."""

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from jgnn.models import GCN
from jgnn.train import (
    Checkpointer,
    CheckpointError,
    adam_l2,
    config_hash,
    dynamic_loss_scale,
    fit_full_graph,
    init_train_state,
)

ROOT = pathlib.Path(__file__).parents[2]

# "straight" runs N epochs / steps; "part" runs k and saves; "resume" restores and runs the
# remaining N - k, in a process of its own. Full batch through fit_full_graph; mini-batch
# through a hand-written loop over a shuffled Loader, float16 with a dynamic loss scale whose
# value changes during the run, dropout on, and the checkpoint taken mid-epoch.
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    from flax import nnx
    from jgnn.loader import Budget, Loader
    from jgnn.models import GCN
    from jgnn.sampling import NeighborSampler, SeedBatches
    from jgnn.train import adam_l2, training_labels
    from jgnn.train import (Checkpointer, apply_policy, dynamic_loss_scale,
        fit_full_graph, init_train_state, make_train_step, sampled_loss)

    N, F, C = 200, 10, 4
    rng = np.random.default_rng(0)
    edge_index = rng.integers(0, N, (2, 1200)).astype(np.int32)
    x = rng.normal(size=(N, F)).astype(np.float32)
    y = rng.integers(0, C, N).astype(np.int32)
    train = rng.random(N) < 0.4
    config = {"model": "gcn", "hidden": 16, "seed": 0}


    def run(mode, out, ckdir):

        # Full batch: 12 epochs, or 5 + 7.
        epochs = 5 if mode == "part" else 12
        ck = None if mode == "straight" else Checkpointer(ckdir + "/full", config=config)
        model = GCN(F, 16, C, dropout=0.5, rngs=nnx.Rngs(0))
        result = fit_full_graph(model, jnp.asarray(edge_index), jnp.asarray(x), y, train, ~train,
            ~train, tx=adam_l2(0.01, 5e-4), epochs=epochs, checkpointer=ck,
            resume=mode == "resume")
        full = {jax.tree_util.keystr(p): np.asarray(v) for p, v in
                jax.tree_util.tree_leaves_with_path(nnx.state(model, nnx.Param))}

        # Mini-batch: 14 steps (5 batches per epoch), or 6 (epoch 1, position 1) + 8.
        source = SeedBatches(NeighborSampler(edge_index, [5, 3], seed=1), np.flatnonzero(train),
            batch_size=16, seed=2)
        ck2 = Checkpointer(ckdir + "/mini", config=dict(config, precision="fp16"))
        budget = Budget.fit(source, num_batches=5, percentile=60.0, num_rungs=2, multiple=4)
        ls = dynamic_loss_scale(2.0**12, growth_interval=3)
        model = apply_policy(GCN(F, 16, C, dropout=0.5, rngs=nnx.Rngs(1)), "fp16")
        graphdef, state = init_train_state(model, adam_l2(0.01, 5e-4), loss_scale=ls)
        done, losses, scales = 0, [], []
        if mode == "resume":
            r = ck2.restore(state)
            state, done = r.state, r.step
            losses, scales = r.metadata["losses"], r.metadata["scales"]
            budget = Budget.from_dict(r.metadata["budget"])
        loader = Loader(source, budget, features=x, labels=training_labels(y, train),
            shuffle=True, seed=3)
        it = loader.restore(r.metadata["loader"]) if mode == "resume" else loader.epoch(0)
        step = jax.jit(make_train_step(graphdef, sampled_loss, policy="fp16", loss_scale=ls))
        target = 6 if mode == "part" else 14
        while done < target:
            for batch in it:
                state, m = step(state, batch)
                losses.append(float(m["loss"]))
                scales.append(float(m["loss_scale"]))
                done += 1
                if done == target:
                    break
            else:
                it = loader.epoch(it.epoch + 1)
        if mode == "part":
            ck2.save(done, state, metadata={"loader": it.get_state(), "budget": budget.to_dict(),
                "losses": losses, "scales": scales})
        loader.close()
        mini = {}
        for i, leaf in enumerate(jax.tree_util.tree_leaves(state)):
            if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
                leaf = jax.random.key_data(leaf)
            mini[str(i)] = np.asarray(leaf)
        np.savez(out + ".npz", **{"full/" + k: v for k, v in full.items()},
                 **{"mini/" + k: v for k, v in mini.items()})
        with open(out + ".json", "w") as f:
            json.dump({"history": result.history, "losses": losses, "scales": scales,
                       "resumed_from": result.metrics["resumed_from"]}, f)


    for spec in sys.argv[1:]:
        run(*spec.split(','))
    """
)


def _env(tmp_path):
    """Subprocess environment: CPU, this checkout, and a compilation cache shared by the
    runs (the same programs are compiled by each; a cached executable is the same program)."""
    return dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        PYTHONPATH=str(ROOT / "src"),
        JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax_cache"),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )


def _run(script, *args):
    env = _env(pathlib.Path(script).parent)
    proc = subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_resume_in_a_fresh_process_is_bit_exact(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    # The uninterrupted run and the first part share a process; the resume has its own.
    _run(
        script,
        f"straight,{tmp_path / 'a'},{tmp_path / 'unused'}",
        f"part,{tmp_path / 'b'},{tmp_path / 'ck'}",
    )
    _run(script, f"resume,{tmp_path / 'c'},{tmp_path / 'ck'}")
    a, c = np.load(tmp_path / "a.npz"), np.load(tmp_path / "c.npz")
    assert sorted(a.files) == sorted(c.files) and any(k.startswith("mini/") for k in a.files)
    for key in a.files:
        np.testing.assert_array_equal(a[key], c[key], err_msg=key)  # bit for bit
    ja, jb, jc = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "abc")
    assert jc["resumed_from"] == 5 and len(jb["history"]) == 5
    assert ja["history"] == jc["history"]
    assert ja["losses"] == jc["losses"] and len(ja["losses"]) == 14
    assert ja["scales"] == jc["scales"] and len(set(ja["scales"])) > 1  # the scale moved
    assert jc["losses"][:6] == jb["losses"]


@pytest.fixture
def state():
    ls = dynamic_loss_scale(2.0**10)
    _, st = init_train_state(
        GCN(6, 8, 3, dropout=0.5, rngs=nnx.Rngs(0)), optax.adam(0.1), loss_scale=ls
    )
    return st


def _same(a, b):
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b), strict=True):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _bumped(state, k):
    return jax.tree_util.tree_map(
        lambda a: a if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) else a + k, state
    )


def test_round_trip_keeps_last_k_and_history_arrays(tmp_path, state):
    histories = {
        "0": np.arange(12, dtype=np.float32).reshape(4, 3),
        "1": np.ones((4, 2), np.float32),
    }
    with Checkpointer(tmp_path, config={"lr": 0.1}, max_to_keep=2) as ck:
        for step in (1, 2, 3):
            ck.save(step, (_bumped(state, step), histories), metadata={"loader": {"epoch": step}})
        assert ck.steps() == [2, 3] and ck.latest_step() == 3
        restored = ck.restore((state, histories))
    assert restored.step == 3 and restored.metadata == {"loader": {"epoch": 3}}
    _same(restored.state[0], _bumped(state, 3))
    _same(restored.state[1], histories)
    assert restored.state[0].loss_scale.scale.dtype == jnp.float32
    # Another process (or object) with the same configuration reads it back too.
    again = Checkpointer(tmp_path, config={"lr": 0.1}).restore((state, histories), step=2)
    _same(again.state[0], _bumped(state, 2))


def _corrupt_biggest_file(folder):
    files = [p for p in folder.rglob("*") if p.is_file() and p.name != "jgnn_digest.json"]
    victim = max(files, key=lambda p: p.stat().st_size)
    with victim.open("r+b") as f:
        f.truncate(victim.stat().st_size // 2)
    return victim


def test_corrupt_latest_step_falls_back_and_explicit_step_errors(tmp_path, state):
    ck = Checkpointer(tmp_path / "run")
    for step in (1, 2):
        ck.save(step, _bumped(state, step))
    _corrupt_biggest_file(tmp_path / "run" / "2")
    assert ck.latest_step() == 1
    with pytest.warns(UserWarning, match=r"skipped newer checkpoints \(step 2: corrupt"):
        restored = ck.restore(state)
    assert restored.step == 1
    _same(restored.state, _bumped(state, 1))
    with pytest.raises(CheckpointError, match=r"step 2 in checkpoint directory .*run is corrupt"):
        ck.restore(state, step=2)
    _corrupt_biggest_file(tmp_path / "run" / "1")
    with pytest.raises(CheckpointError, match=r"holds no complete checkpoint .*delete it"):
        ck.restore(state)


KILLED_SAVE = textwrap.dedent(
    """
    import os, sys
    import optax
    from flax import nnx
    from jgnn.models import GCN
    import jgnn.train._checkpoint as checkpoint
    from jgnn.train import Checkpointer, init_train_state
    from orbax.checkpoint._src.path import atomicity

    where, directory = sys.argv[1:3]
    _, state = init_train_state(GCN(6, 8, 3, rngs=nnx.Rngs(0)), optax.adam(0.1))
    ck = Checkpointer(directory)
    ck.save(1, state)

    def die(*args, **kwargs):
        os._exit(9)  # the process is killed here, files written so far stay on disk

    if where == "before_commit":  # orbax wrote every file of step 2 to its temporary dir
        atomicity.AtomicRenameTemporaryPath.finalize = die
    else:  # orbax committed step 2, jgnn had not written its digest yet
        checkpoint._write_json_atomic = die
    ck.save(2, state)
    """
)


@pytest.mark.parametrize("where", ["before_commit", "before_digest"])
def test_a_killed_save_is_never_restored(tmp_path, state, where):
    script = tmp_path / "kill.py"
    script.write_text(KILLED_SAVE)
    env = _env(tmp_path)
    proc = subprocess.run(
        [sys.executable, str(script), where, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 9, proc.stderr[-2000:]
    leftovers = sorted(p.name for p in (tmp_path / "run").iterdir())
    if where == "before_commit":
        assert any(name.startswith("2.orbax-checkpoint-tmp") for name in leftovers), leftovers
    else:
        assert "2" in leftovers
    ck = Checkpointer(tmp_path / "run")
    assert ck.latest_step() == 1
    with pytest.warns(UserWarning) if where == "before_digest" else _no_warning():
        restored = ck.restore(state)
    assert restored.step == 1


class _no_warning:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error")

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def test_other_configuration_missing_directory_and_other_layout(tmp_path, state):
    Checkpointer(tmp_path / "run", config={"lr": 0.1, "hidden": 8}).save(1, state)
    with pytest.raises(
        CheckpointError,
        match=r"written by a run with another configuration \(lr: saved 0.1, now 0.2\); "
        r"resume with the same configuration or use another directory",
    ):
        Checkpointer(tmp_path / "run", config={"lr": 0.2, "hidden": 8}).restore(state)
    with pytest.raises(CheckpointError, match=r"nowhere does not exist; check the path"):
        Checkpointer(tmp_path / "nowhere").restore(state)
    _, other = init_train_state(GCN(6, 16, 3, rngs=nnx.Rngs(0)), optax.adam(0.1))
    with pytest.raises(CheckpointError, match=r"another layout .*\(8,\).* saved vs .*\(16,\)"):
        Checkpointer(tmp_path / "run", config={"lr": 0.1, "hidden": 8}).restore(other)
    with pytest.raises(CheckpointError, match="has no committed step 7"):
        Checkpointer(tmp_path / "run", config={"lr": 0.1, "hidden": 8}).restore(state, step=7)
    assert config_hash({"b": 1, "a": 2}) == config_hash({"a": 2, "b": 1}) != config_hash({})
    with pytest.raises(TypeError, match="`config` must be JSON-serialisable"):
        Checkpointer(tmp_path, config={"f": object()})
    with pytest.raises(TypeError, match="`metadata` must be JSON-serialisable"):
        Checkpointer(tmp_path / "x").save(1, state, metadata={"a": np.float32(1)})
    with pytest.raises(ValueError, match="`max_to_keep` must be an int >= 1"):
        Checkpointer(tmp_path, max_to_keep=0)


def test_fit_full_graph_checkpoint_arguments(tmp_path):
    rng = np.random.default_rng(0)
    edge_index = jnp.asarray(rng.integers(0, 30, (2, 90)), jnp.int32)
    x = jnp.asarray(rng.normal(size=(30, 4)), jnp.float32)
    y, mask = rng.integers(0, 2, 30), rng.random(30) < 0.5
    args = (edge_index, x, y, mask, ~mask, ~mask)
    with pytest.raises(ValueError, match="`resume=True` needs a `checkpointer`"):
        fit_full_graph(
            GCN(4, 8, 2, rngs=nnx.Rngs(0)), *args, tx=adam_l2(0.01, 0.0), epochs=2, resume=True
        )
    ck = Checkpointer(tmp_path / "run")
    fit_full_graph(
        GCN(4, 8, 2, rngs=nnx.Rngs(0)),
        *args,
        tx=adam_l2(0.01, 0.0),
        epochs=4,
        checkpointer=ck,
        checkpoint_every=2,
    )
    assert ck.steps() == [2, 4]
    with pytest.raises(CheckpointError, match="holds 4 epochs, more than `epochs` = 3"):
        fit_full_graph(
            GCN(4, 8, 2, rngs=nnx.Rngs(0)),
            *args,
            tx=adam_l2(0.01, 0.0),
            epochs=3,
            checkpointer=ck,
            resume=True,
        )
