"""examples/multihost.py: two processes on localhost."""


def test_multihost_launches_two_processes(run_example):
    (out,) = run_example("multihost.py", "--launch", 2, "--nodes", 400, "--steps", 4)
    assert out["processes"] == 2 and out["same_parameters"] and len(out["losses"]) == 4
