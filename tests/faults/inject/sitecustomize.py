"""Faults planted in processes started by the fault tests, loaded through ``PYTHONPATH``.

Python imports ``sitecustomize`` at start-up in every process whose ``PYTHONPATH`` holds this
folder; the tests put it there for the processes they start (``jgnn train`` subprocesses) and
for the sampler workers that ``jgnn.loader.Loader`` spawns (a fault planted in the test
process would not reach a spawned worker). Nothing happens unless ``$JGNN_FAULT`` is set:

* ``raise``, ``hang``, ``kill``: the ``$JGNN_FAULT_AT``-th call (default 3) of
  ``jgnn.sampling.SeedBatches.get`` in a *child* process (a sampler worker, never the main
  process) raises ``KeyError``, sleeps for ten minutes, or SIGKILLs its process. Each worker
  first writes its pid to ``$JGNN_FAULT_PIDS/<pid>.pid``.
* ``kill-commit``: the process SIGKILLs itself when orbax renames its temporary directory of
  the ``$JGNN_FAULT_AT``-th checkpoint into place (a save killed before its commit).
* ``kill-digest``: the process SIGKILLs itself when jgnn starts writing the digest file of the
  ``$JGNN_FAULT_AT``-th checkpoint (a save killed after orbax's commit, before jgnn's).
"""

import os

_FAULT = os.environ.get("JGNN_FAULT")
_AT = int(os.environ.get("JGNN_FAULT_AT", "3"))
_calls = [0]


def _die():
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def _plant_sampler_fault():
    import multiprocessing
    import time

    import jgnn.sampling

    original = jgnn.sampling.SeedBatches.get

    def faulty_get(self, epoch, index):
        if multiprocessing.parent_process() is None:  # the main process samples as usual
            return original(self, epoch, index)
        _calls[0] += 1
        if _calls[0] == 1 and os.environ.get("JGNN_FAULT_PIDS"):
            path = os.path.join(os.environ["JGNN_FAULT_PIDS"], f"{os.getpid()}.pid")
            with open(path, "w") as f:
                f.write(str(os.getpid()))
        if _calls[0] == _AT:
            if _FAULT == "raise":
                raise KeyError(f"planted sampler failure at call {_calls[0]}")
            if _FAULT == "hang":
                time.sleep(600)
            if _FAULT == "kill":
                _die()
        return original(self, epoch, index)

    jgnn.sampling.SeedBatches.get = faulty_get


def _plant_commit_fault():
    for name in ("rename", "replace"):
        original = getattr(os, name)

        def moved(src, dst, *args, _original=original, **kwargs):
            committing = os.path.basename(os.fspath(dst)).isdigit()  # the step's folder
            if "orbax-checkpoint-tmp" in os.fspath(src) and committing:
                _calls[0] += 1
                if _calls[0] == _AT:
                    _die()
            return _original(src, dst, *args, **kwargs)

        setattr(os, name, moved)


def _plant_digest_fault():
    import tempfile

    original = tempfile.mkstemp

    def mkstemp(*args, prefix=None, **kwargs):
        if prefix is not None and prefix.startswith(".jgnn_digest.json"):
            _calls[0] += 1
            if _calls[0] == _AT:
                _die()
        return original(*args, prefix=prefix, **kwargs)

    tempfile.mkstemp = mkstemp


if _FAULT in ("raise", "hang", "kill"):
    _plant_sampler_fault()
elif _FAULT == "kill-commit":
    _plant_commit_fault()
elif _FAULT == "kill-digest":
    _plant_digest_fault()
