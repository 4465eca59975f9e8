"""Measuring a training loop: time per epoch without compilation, peak memory, isolation.

Framework-neutral helpers behind :func:`jgnn.train.profile_training` and ``jgnn profile``:
:func:`measure_training` times the steps of a loop (each step waited for, so no work is left
out) and takes compilation out of them (:func:`compile_clock`), :func:`memory_window` reads
the peak memory of a block (the device allocator's peak where the backend keeps one, else
the growth of the process's resident set), and :func:`run_isolated` runs one measurement in
a fresh Python process, so that its memory and compilations are its own.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jax

from jgnn._checks import static_int
from jgnn.train._memory import peak_memory

__all__ = ["compile_clock", "measure_training", "memory_window", "run_isolated"]

_RECORDED_LOSSES = 5  # losses of the first steps kept (compiled vs uncompiled checks)


def _proc_status_bytes(field: str) -> int | None:
    """``VmRSS``/``VmHWM`` of this process from ``/proc/self/status``, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Resets the process's resident high-water mark (Linux ``clear_refs``); True if done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _max_rss_bytes() -> int:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss) * (1 if sys.platform == "darwin" else 1024)  # Linux: KiB, macOS: bytes


@contextlib.contextmanager
def memory_window(device: bool = True) -> Iterator[dict[str, Any]]:
    """Measures the peak memory of the block; the yielded dict is filled on exit.

    Host-side: not jittable. Keys: ``peak_memory_bytes`` and ``peak_memory_source``:
    ``"device"`` (with ``device``, where JAX's backend keeps allocator statistics: the
    device's peak since the process started, so run one configuration per process),
    ``"process_rss_growth"`` (Linux: the resident high-water mark is reset on entry, and the
    peak over the block minus the resident size on entry is reported) or
    ``"process_maxrss_growth"`` (elsewhere: growth of the process's lifetime peak, a lower
    bound); and ``peak_rss_bytes``, the process's peak resident size (libraries and data
    included). A CPU allocator may keep memory freed by an earlier block and reuse it, so
    measure one configuration per process.

    Args:
        device: Read JAX's device statistics (the backend is started before the window);
            False for work that runs outside JAX (a PyTorch peer), which gets the process
            reading.

    Yields:
        The dict, empty until the block ends.
    """
    out: dict[str, Any] = {}
    on_device = device and peak_memory()["peak_memory_source"] == "device"
    base = _proc_status_bytes("VmRSS")
    reset = base is not None and _reset_peak_rss()
    base_max = _max_rss_bytes()
    try:
        yield out
    finally:
        high = _proc_status_bytes("VmHWM") if reset else None
        if on_device:
            out.update(peak_memory())
        elif high is not None:
            out.update(
                peak_memory_bytes=max(high - base, 0), peak_memory_source="process_rss_growth"
            )
        else:
            grown = max(_max_rss_bytes() - max(base_max, base or 0), 0)
            out.update(peak_memory_bytes=grown, peak_memory_source="process_maxrss_growth")
        out["peak_rss_bytes"] = high if high is not None else _max_rss_bytes()


@contextlib.contextmanager
def compile_clock() -> Iterator[Callable[[], float]]:
    """Yields a function returning the seconds JAX spent compiling since entry.

    Host-side: not jittable. Sums JAX's tracing, lowering and backend-compilation durations
    (``jax.monitoring`` events ``/jax/core/compile/*``) from every thread.

    Yields:
        The running total.
    """
    total = [0.0]

    def listen(event: str, duration: float, **kwargs: Any) -> None:
        if event.startswith("/jax/core/compile/"):
            total[0] += duration

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        yield lambda: total[0]
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)


def measure_training(
    run_step: Callable[[Any], float],
    batches: Callable[[int], Iterable[Any]],
    *,
    steps_per_epoch: int,
    epochs: int | None = None,
    steps: int | None = None,
    compile_clock: Callable[[], float] | None = None,
    device_memory: bool = True,
) -> dict[str, Any]:
    """Times a training loop and reads its peak memory (:func:`memory_window`).

    Host-side: not jittable. Framework-neutral: ``run_step(batch)`` runs one training step,
    waits for its results (``jax.block_until_ready``; ``loss.item()`` in PyTorch) and returns
    the loss as a float. A step's time runs from the previous step's completion, so waiting
    for a batch counts; with ``compile_clock`` (a running total of compilation seconds, e.g.
    :func:`compile_clock`), the compilation inside a step is taken out of its time and
    reported as ``compile_s``. Give ``epochs`` to time whole epochs (``batches(epoch)`` for each):
    ``epoch_time_ms`` is the median epoch after the first, which holds the compilations and
    is reported as ``first_epoch_s``. Give ``steps`` to time only the first ``steps`` steps
    (over as many epochs as that takes) and extrapolate: ``epoch_time_ms`` is the median
    step after the first (which fills op caches: ``first_step_s``) times
    ``steps_per_epoch``, and ``epoch_time_extrapolated`` is True.

    Args:
        run_step: One step on a batch; returns the loss.
        batches: ``epoch -> iterable of batches``.
        steps_per_epoch: Steps in one epoch.
        epochs: Epochs to time (>= 2), or None.
        steps: Steps to time (>= 2), or None; exactly one of ``epochs`` and ``steps``.
        compile_clock: Returns the compilation seconds so far, or None.
        device_memory: Passed to :func:`memory_window` (False for a loop outside JAX).

    Returns:
        ``epoch_time_ms``, ``epoch_time_extrapolated``, ``step_time_ms`` (median step of the
        epochs after the first, or of the measured steps after the first),
        ``steps_per_epoch``, ``measured_steps``, ``compile_s`` (None without a clock; the
        first epoch and step are reported whole), ``first_epoch_s`` or ``first_step_s``,
        ``epochs`` (None when extrapolated), ``losses`` (the losses of the first 5 steps),
        and the keys of :func:`memory_window`.

    Raises:
        ValueError: Unless exactly one of ``epochs`` and ``steps`` is given and >= 2, or if an
            epoch yields no batch.
    """
    if (epochs is None) == (steps is None):
        raise ValueError(f"give exactly one of `epochs` and `steps`, got {epochs!r}, {steps!r}.")
    count = static_int(epochs if steps is None else steps, "`epochs`/`steps`", minimum=2)
    clock = compile_clock or (lambda: 0.0)
    walls: list[list[float]] = []  # per epoch, each step's seconds
    compiles: list[list[float]] = []  # per epoch, each step's compilation seconds
    losses: list[float] = []

    def done() -> bool:
        return len(walls) == count if steps is None else sum(map(len, walls)) == count

    with memory_window(device_memory) as memory:
        while not done():
            walls.append([])
            compiles.append([])
            last, last_compile = time.perf_counter(), clock()
            for batch in batches(len(walls) - 1):
                loss = run_step(batch)
                now, now_compile = time.perf_counter(), clock()
                walls[-1].append(now - last)
                compiles[-1].append(now_compile - last_compile)
                last, last_compile = now, now_compile
                if len(losses) < _RECORDED_LOSSES:
                    losses.append(float(loss))
                if steps is not None and done():
                    break
            if not walls[-1]:
                raise ValueError(f"epoch {len(walls) - 1} of `batches` yielded no batch.")
    net = [  # each step's time without its compilation
        [w - c for w, c in zip(ws, cs, strict=True)] for ws, cs in zip(walls, compiles, strict=True)
    ]
    flat = [t for epoch in net for t in epoch]
    row: dict[str, Any] = {
        "steps_per_epoch": steps_per_epoch,
        "measured_steps": len(flat),
        "compile_s": sum(map(sum, compiles)) if compile_clock else None,
    }
    if steps is None:
        row.update(
            epoch_time_ms=statistics.median(sum(epoch) for epoch in net[1:]) * 1e3,
            epoch_time_extrapolated=False,
            step_time_ms=statistics.median(t for epoch in net[1:] for t in epoch) * 1e3,
            first_epoch_s=sum(walls[0]),
            epochs=count,
        )
    else:
        step_ms = statistics.median(flat[1:]) * 1e3
        row.update(
            epoch_time_ms=step_ms * steps_per_epoch,
            epoch_time_extrapolated=True,
            step_time_ms=step_ms,
            first_step_s=walls[0][0],
            epochs=None,
        )
    return {**row, "losses": losses, **memory}


_MARK = "JGNN-ISOLATED-RESULT "  # prefix of the child's result line


def run_isolated(function: str, spec: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
    """Calls ``function(spec)`` in a fresh Python process and returns its JSON result.

    Host-side: not jittable. One configuration per process keeps its peak memory its own
    (an allocator reuses what an earlier run freed) and its compilations cold. The child
    must be able to import ``function``; its stdout and stderr are captured.

    Args:
        function: ``"module:function"``, taking the spec and returning a JSON-able dict.
        spec: JSON-able arguments.
        timeout_s: Seconds before the child is killed.

    Returns:
        The child's dict (a NaN stays a float NaN) plus ``wall_s`` (the child's whole life,
        imports included), or
        ``{"error": ...}`` with the exit status and the last line of its stderr (a
        traceback's exception), or the timeout.
    """
    code = "from jgnn.train._measure import _isolated_child; _isolated_child()"
    t0 = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps({"function": function, "spec": spec}),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:g} s"}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith(_MARK)]
    if done.returncode or not lines:
        last = ([ln for ln in done.stderr.splitlines() if ln.strip()] or ["no output"])[-1]
        return {"error": f"exit status {done.returncode}: {last.strip()}"}
    return {**json.loads(lines[-1][len(_MARK) :]), "wall_s": time.perf_counter() - t0}


def _isolated_child() -> None:
    """The child of :func:`run_isolated`: reads the call from stdin, prints the result."""
    call = json.loads(sys.stdin.read())
    module, name = call["function"].split(":")
    result = getattr(importlib.import_module(module), name)(call["spec"])
    print(_MARK + json.dumps(result), flush=True)  # NaN as the token NaN: Python reads it
