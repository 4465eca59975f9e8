"""examples/scaling_benchmark.py in its quick mode."""


def test_scaling_benchmark_quick(run_example):
    out = run_example("scaling_benchmark.py", "--quick", "--only", "data_parallel", "checkpoint")
    env, rest = out[0], out[1:]
    assert env["environment"]["backend"] == "cpu"
    (dp,) = [r for r in rest if r["bench"] == "data_parallel"]
    assert dp["one_device_step_ms"] > 0 and dp["4_device_step_ms"] > 0
    assert dp["ratio"] == dp["4_device_step_ms"] / dp["one_device_step_ms"]
    ck = [r for r in rest if r["bench"] == "checkpoint"]
    assert {(r["model"], r["contents"]) for r in ck} == {
        (m, c) for m in ("gcn", "gat") for c in ("train_state", "train_state+histories")
    }
    for r in ck:
        if r["history_rows"]:
            # Two random float32 tables of rows x 128: compression saves little on them.
            assert r["bytes_on_disk"] >= 0.8 * 2 * r["history_rows"] * 128 * 4
