"""examples/data_parallel.py: shard_map, pmap and edge sharding on 4 fake CPU devices."""

import numpy as np


def test_shard_map_and_pmap_spellings_agree(run_example):
    args = ("--nodes", 400, "--steps", 6, "--devices", 4, "--batch-size", 8)
    (a,) = run_example("data_parallel.py", "--mode", "shard_map", *args)
    (b,) = run_example("data_parallel.py", "--mode", "pmap", *args)
    assert len(a["losses"]) == 6 and np.isfinite(a["losses"]).all()
    np.testing.assert_allclose(a["losses"], b["losses"], rtol=1e-5)


def test_edge_sharding_equals_one_device(run_example):
    (out,) = run_example("data_parallel.py", "--mode", "edges", "--nodes", 400, "--steps", 6)
    np.testing.assert_allclose(out["sharded"], out["one_device"], rtol=1e-5)
    assert out["one_device"][-1] < out["one_device"][0]
