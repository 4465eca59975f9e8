"""The examples run in fresh processes, as a user runs them (small settings)."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples"


def _run_example(name, *args, timeout=240):
    """Runs ``examples/<name>`` and returns the JSON lines it printed."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    src = str(EXAMPLES.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


@pytest.fixture
def run_example():
    return _run_example
