"""Peak-memory readings for training reports."""

from __future__ import annotations

import resource
import sys

import jax

__all__ = ["peak_memory"]


def peak_memory(device: jax.Device | None = None) -> dict[str, int | str]:
    """Returns the peak memory seen so far, in bytes, and where it was read.

    Device allocator statistics are used where the backend keeps them (GPU, TPU); on the CPU
    backend, which keeps none, the process's peak resident set size is reported instead.

    Args:
      device: device to ask (default: the first local device).

    Returns:
      ``{"peak_memory_bytes": int, "peak_memory_source": "device" | "process_rss"}``.
    """
    device = device or jax.local_devices()[0]
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 - backends without allocator stats raise or return None
        stats = None
    if stats and "peak_bytes_in_use" in stats:
        return {
            "peak_memory_bytes": int(stats["peak_bytes_in_use"]),
            "peak_memory_source": "device",
        }
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB, macOS bytes
    return {"peak_memory_bytes": int(rss) * scale, "peak_memory_source": "process_rss"}
