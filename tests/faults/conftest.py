"""Shared fixtures of the fault-injection tests: a deadline on every test, a read-only folder,
and the environment that plants faults in sampler worker processes."""

import os
import pathlib
import signal
import tempfile

import pytest

INJECT = pathlib.Path(__file__).parent / "inject"  # holds the workers' sitecustomize.py
DEADLINE_S = 240  # no fault test may hang the suite: each fails after this long


@pytest.fixture(autouse=True)
def deadline():
    """Fails the test (instead of hanging the suite) when it runs past ``DEADLINE_S``."""

    def expire(signum, frame):
        raise TimeoutError(f"fault test ran past its {DEADLINE_S} s deadline")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(DEADLINE_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _rejects_files(folder) -> bool:
    try:
        fd, path = tempfile.mkstemp(dir=folder)
    except OSError:
        return True
    os.close(fd)
    os.unlink(path)
    return False


@pytest.fixture
def readonly_dir(tmp_path):
    """A folder where creating a file fails: a chmod 555 folder, or (as root, who ignores the
    mode bits) the read-only ``/sys``; skips when neither refuses files."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if _rejects_files(folder):
            yield folder
        elif os.path.isdir("/sys") and _rejects_files("/sys"):
            yield pathlib.Path("/sys")
        else:
            pytest.skip("no folder here refuses new files (root without a read-only /sys)")
    finally:
        folder.chmod(0o755)


@pytest.fixture
def plant_fault(monkeypatch, tmp_path):
    """``plant_fault(kind, at=3)``: spawned sampler workers misbehave (see inject/).

    Returns the folder where each worker writes its pid.
    """

    def plant(kind: str, at: int = 3) -> pathlib.Path:
        pids = tmp_path / "worker-pids"
        pids.mkdir(exist_ok=True)
        path = os.pathsep.join(p for p in (str(INJECT), os.environ.get("PYTHONPATH")) if p)
        monkeypatch.setenv("PYTHONPATH", path)
        monkeypatch.setenv("JGNN_FAULT", kind)
        monkeypatch.setenv("JGNN_FAULT_AT", str(at))
        monkeypatch.setenv("JGNN_FAULT_PIDS", str(pids))
        return pids

    return plant
