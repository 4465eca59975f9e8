"""What ``jgnn train`` prints: a run header, progress lines and the results, in readable units.

Progress is a tqdm bar when both stdout and stderr are terminals; in a log (CI, a pipe, a
file) it becomes one line every tenth of the run instead of a bar redrawn with carriage
returns.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

__all__ = [
    "EpochLines",
    "format_bytes",
    "format_seconds",
    "interactive",
    "result_lines",
]


def interactive() -> bool:
    """Whether stdout and stderr are both terminals (progress bars make sense)."""
    return all(getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr))


def format_bytes(n: Any) -> str:
    """``n`` bytes in binary units: ``"512 B"``, ``"1.5 KiB"``, ``"587.3 MiB"``, ``"1.20 GiB"``."""
    if n is None:
        return "n/a"
    n = float(n)
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            value = n / size
            return f"{value:.2f} {unit}" if value < 10 else f"{value:.1f} {unit}"
    return f"{int(n)} B"


def format_seconds(seconds: Any) -> str:
    """A duration: ``"0.42 ms"``, ``"12.3 ms"``, ``"3.31 s"``, ``"2 min 5 s"``."""
    if seconds is None or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return "n/a"
    s = float(seconds)
    if s < 1e-2:
        return f"{s * 1e3:.2f} ms"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    if s < 120:
        return f"{s:.2f} s"
    return f"{int(s // 60)} min {round(s % 60)} s"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else "n/a"
    return str(value)


#: metric -> how to print it (seconds-valued metrics are converted from their unit).
_FORMATS: dict[str, Callable[[Any], str]] = {
    "epoch_time_ms": lambda v: format_seconds(None if v is None else v / 1e3),
    "eval_time_ms": lambda v: format_seconds(None if v is None else v / 1e3),
    "compile_time_s": format_seconds,
    "first_epoch_s": format_seconds,
    "warmup_time_s": format_seconds,
    "batches_per_s": lambda v: "n/a" if v is None else f"{v:.1f}",
    "sampled_edges_per_s": lambda v: "n/a" if v is None else f"{v:,.0f}",
    "host_wait_share": lambda v: "n/a" if v is None else f"{100 * v:.1f}%",
}
_NOTES = {
    "epoch_time_ms": "median over epochs after the first",
    "first_epoch_s": "includes compiling every padded shape",
    "host_wait_share": "training time spent waiting for batches",
    "node_waste": "padded / real node slots",
    "edge_waste": "padded / real edge slots",
}


def result_lines(metrics: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    """``key: value`` lines of the results, values in readable units.

    The first line says that the reported accuracy is the test accuracy at the epoch of best
    validation accuracy; peak memory ends the list.

    Args:
        metrics: The run's metrics.
        keys: Which metrics to print, in order (missing ones are skipped).

    Returns:
        The lines.
    """
    lines = []
    best = metrics.get("best_epoch")
    for key in keys:
        if key not in metrics:
            continue
        value = metrics[key]
        text = _FORMATS.get(key, _number)(value)
        note = _NOTES.get(key)
        if key == "test_accuracy" and best is not None:
            note = f"at the best validation epoch, {best + 1} of {metrics.get('epochs', '?')}"
        lines.append(f"{key}: {text}" + (f"  ({note})" if note else ""))
    if "peak_memory_bytes" in metrics:
        source = {"process_rss": "process peak RSS", "device": "device allocator peak"}.get(
            metrics.get("peak_memory_source"), metrics.get("peak_memory_source")
        )
        lines.append(f"peak_memory: {format_bytes(metrics['peak_memory_bytes'])} ({source})")
    return lines


class EpochLines:
    """An ``on_epoch`` callback that prints a line about every tenth of the run (and the last).

    Args:
        epochs: Total epochs of the run.
        stream: Where to print (default stdout).
        every: Print every this many epochs (default ``ceil(epochs / 10)``).
    """

    def __init__(
        self, epochs: int, *, stream: TextIO | None = None, every: int | None = None
    ) -> None:
        self.epochs = epochs
        self.every = every or max(1, math.ceil(epochs / 10))
        self.stream = stream
        self._last: tuple[int, float] | None = None  # (epochs done, time) of the last mark

    def __call__(self, epoch: int, record: Mapping[str, Any]) -> None:
        """Prints the line of ``epoch`` (0-based) if it is due.

        The time per epoch is measured since the previous line (since the end of the first
        epoch this call saw, for the first line), so it leaves compilation out.
        """
        done, now = epoch + 1, time.perf_counter()
        if self._last is None:
            self._last = (done, now)
        if done % self.every and done != self.epochs:
            return
        parts = [f"epoch {done}/{self.epochs}"]
        if "loss" in record:
            parts.append(f"loss {_number(float(record['loss']))}")
        if "val_accuracy" in record:
            parts.append(f"val {_number(float(record['val_accuracy']))}")
        last_done, last_time = self._last
        if done > last_done:
            parts.append(f"{format_seconds((now - last_time) / (done - last_done))}/epoch")
        self._last = (done, now)
        print(", ".join(parts), file=self.stream or sys.stdout, flush=True)
