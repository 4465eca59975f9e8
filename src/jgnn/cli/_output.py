"""Output files of the ``jgnn`` command: checked before any work, written atomically.

A path given on the command line is checked when the flags are (before data is loaded or a
step compiled): it must not be a directory, no component of its parent may be a file, and
the nearest existing folder must accept a new file (tried, not guessed from permission bits:
read-only mounts and ACLs count, and so does running as root). JSON is written to a
temporary file in the target folder, flushed to disk and renamed over the target, so a
reader never sees half a file and a failed write leaves the previous file as it was.
Non-finite floats are written as ``null``: the file is always valid JSON.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jgnn.cli._errors import RunError, UsageError

__all__ = ["check_output_dir", "check_output_file", "json_safe", "write_json"]


def _nearest_existing(path: Path, flag: str) -> Path:
    """The deepest existing ancestor of ``path`` (a folder), or UsageError."""
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UsageError(
                    f"{flag} {path}: {parent} is a file, not a folder; choose a path in a folder."
                )
            return parent
    raise UsageError(f"{flag} {path}: no part of the path exists.")  # pragma: no cover


def _probe_writable(folder: Path, flag: str, path: Path) -> None:
    """Creates and removes a file in ``folder``; UsageError naming ``flag`` if it fails."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".jgnn-probe-")
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        raise UsageError(
            f"{flag} {path}: cannot create files in {folder} ({reason}); choose a writable folder."
        ) from None
    os.close(fd)
    os.unlink(tmp)


def check_output_file(path: str | os.PathLike[str], flag: str) -> Path:
    """Checks that a file can be written at ``path`` (its folders are created on writing).

    Host-side: not jittable.

    Args:
        path: The output file.
        flag: The flag that named it, for messages (``--metrics-json``).

    Returns:
        ``path`` as an absolute :class:`Path`.

    Raises:
        UsageError: If ``path`` is a directory, lies under a file, or its nearest existing
            folder does not accept new files.
    """
    path = Path(path).expanduser().absolute()
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file name, e.g. {path}/m.json.")
    _probe_writable(_nearest_existing(path, flag), flag, path)
    return path


def check_output_dir(path: str | os.PathLike[str], flag: str) -> Path:
    """Checks that ``path`` is, or can be created as, a writable folder.

    Host-side: not jittable.

    Args:
        path: The folder.
        flag: The flag that named it (``--checkpoint-dir``).

    Returns:
        ``path`` as an absolute :class:`Path`.

    Raises:
        UsageError: If ``path`` is a file, lies under a file, or cannot take new files.
    """
    path = Path(path).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file; give a folder.")
    folder = path if path.is_dir() else _nearest_existing(path, flag)
    _probe_writable(folder, flag, path)
    return path


def json_safe(value: Any) -> Any:
    """``value`` with NumPy scalars and arrays as Python values, tuples as lists and
    non-finite floats as None, so ``json.dumps(..., allow_nan=False)`` accepts it."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):  # NumPy / JAX values
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike[str], payload: Mapping[str, Any], flag: str) -> None:
    """Writes ``payload`` as JSON at ``path`` atomically (temp file, fsync, rename).

    Host-side: not jittable. Missing folders are created. On failure the temporary file is
    removed and a file already at ``path`` is left as it was.

    Args:
        path: Target file.
        payload: JSON-able mapping (see :func:`json_safe`: NaN and infinities become null).
        flag: The flag that named ``path``, for messages.

    Raises:
        RunError: If the file cannot be written (disk full, read-only, ...).
    """
    path = Path(path)
    text = json.dumps(json_safe(payload), indent=2, sort_keys=True, allow_nan=False) + "\n"
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno else str(err)
        hint = "free some space" if err.errno == errno.ENOSPC else "choose a writable path"
        raise RunError(
            f"could not write {flag} {path} ({reason}); {hint}. The results above were not "
            "saved to it."
        ) from err
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
