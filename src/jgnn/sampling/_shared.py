"""Read-only NumPy arrays in one memory-mapped file that processes share instead of copying.

``SharedArrays`` writes a set of named arrays once into a file on a RAM-backed file system
(``/dev/shm`` when it has room, else the temporary directory, whose pages the OS cache shares
the same way) and maps it read-only. Pickling sends only the path and the layout, so every
worker process that unpickles it maps the same physical pages: a sampler holding a 10M-edge
graph pickles to a few hundred bytes.

Lifetime: the creating object owns the file and deletes it when it is garbage collected or the
interpreter exits. Processes that already mapped it keep reading it (POSIX keeps an unlinked
file alive while it is mapped); keep the owner alive while new workers start.
"""

from __future__ import annotations

import mmap
import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

__all__ = ["SharedArrays", "maybe_share"]

_ALIGN = 64
_SHM = "/dev/shm"


def _default_directory(nbytes: int) -> str:
    """``/dev/shm`` when it exists and has twice ``nbytes`` free, else the temp directory."""
    if os.path.isdir(_SHM) and os.access(_SHM, os.W_OK):
        if shutil.disk_usage(_SHM).free >= 2 * nbytes:
            return _SHM
    return tempfile.gettempdir()


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class SharedArrays(Mapping[str, np.ndarray]):
    """A read-only mapping ``name -> np.ndarray`` backed by one shared, memory-mapped file.

    Host-side: not jittable.

    Args:
        arrays: Arrays to place in shared memory (copied once into the file).
        directory: Folder for the file; default ``/dev/shm`` when it has room, else
            ``tempfile.gettempdir()``.

    Raises:
        ValueError: If an array has an object dtype.

    Examples:
        >>> import pickle
        >>> shared = SharedArrays({"a": np.arange(1_000_000)})
        >>> len(pickle.dumps(shared)) < 1_000
        True
        >>> int(pickle.loads(pickle.dumps(shared))["a"][-1])
        999999
    """

    def __init__(
        self, arrays: Mapping[str, np.ndarray], directory: str | os.PathLike[str] | None = None
    ) -> None:
        layout = []
        offset = 0
        host = {}
        for name, value in arrays.items():
            arr = np.ascontiguousarray(value)
            if arr.dtype.hasobject:
                raise ValueError(f"SharedArrays: array {name!r} has object dtype {arr.dtype}.")
            offset = -(-offset // _ALIGN) * _ALIGN
            layout.append((name, arr.dtype.str, arr.shape, offset))
            host[name] = arr
            offset += arr.nbytes
        nbytes = max(offset, 1)
        folder = os.fspath(directory) if directory is not None else _default_directory(nbytes)
        path = os.path.join(folder, f"jgnn-shared-{os.getpid()}-{uuid.uuid4().hex}.bin")
        try:
            with open(path, "wb") as f:
                f.truncate(nbytes)
                for name, _, _, start in layout:
                    if host[name].size:
                        f.seek(start)
                        f.write(memoryview(host[name].reshape(-1).view(np.uint8)))
        except BaseException:
            _unlink(path)
            raise
        self._finalizer = weakref.finalize(self, _unlink, path)
        self._attach_file(path, tuple(layout), nbytes)

    def _attach_file(self, path: str, layout: tuple, nbytes: int) -> None:
        self._path = path
        self._layout = layout
        self._nbytes = nbytes
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size != nbytes:
                raise ValueError(
                    f"SharedArrays: {path} holds {size} bytes, expected {nbytes}; the file was "
                    "changed or truncated."
                )
            self._mmap = mmap.mmap(f.fileno(), nbytes, access=mmap.ACCESS_READ)
        self._arrays = {}
        for name, dtype, shape, start in layout:
            count = int(np.prod(shape, dtype=np.int64))
            if count == 0:
                arr = np.empty(shape, np.dtype(dtype))
                arr.flags.writeable = False
            else:
                arr = np.frombuffer(self._mmap, dtype=np.dtype(dtype), count=count, offset=start)
            self._arrays[name] = arr.reshape(shape)

    @classmethod
    def _attach(cls, path: str, layout: tuple, nbytes: int) -> SharedArrays:
        obj = cls.__new__(cls)
        obj._finalizer = None  # not the owner: never deletes the file
        obj._attach_file(path, layout, nbytes)
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return SharedArrays._attach, (self._path, self._layout, self._nbytes)

    @property
    def path(self) -> str:
        """The backing file."""
        return self._path

    @property
    def is_owner(self) -> bool:
        """Whether this object created the file (and deletes it when collected)."""
        return self._finalizer is not None and self._finalizer.alive

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._arrays)

    def __len__(self) -> int:
        return len(self._arrays)

    def __repr__(self) -> str:
        names = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self._arrays.items())
        return f"SharedArrays({names}; {self._path})"


def maybe_share(arrays: Mapping[str, np.ndarray], shared: bool) -> Mapping[str, np.ndarray]:
    """``SharedArrays(arrays)`` when ``shared``, else a plain dict of the arrays.

    Host-side. Objects derived from a shared graph keep their own large arrays in shared
    memory too, so that pickling them stays cheap; they must hold the returned mapping (not
    the arrays themselves) for pickling to send names only.
    """
    return SharedArrays(arrays) if shared else dict(arrays)
