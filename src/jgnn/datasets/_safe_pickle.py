"""A restricted unpickler for the raw Planetoid files.

The raw Planetoid files (Yang et al., 2016) are Python 2 pickles. Unpickling runs whatever
callables a pickle names, so a tampered file could run arbitrary code; this module admits only
the few globals the genuine files use (found with ``pickletools.genops``) and refuses
everything else before it is imported or called:

=============================  ===============  ==================================
module in the pickle           name             resolved to
=============================  ===============  ==================================
``numpy``                      ``ndarray``      ``numpy.ndarray``
``numpy``                      ``dtype``        ``numpy.dtype`` (no object dtypes)
``numpy.core.multiarray``      ``_reconstruct`` ``numpy._core.multiarray._reconstruct``
``scipy.sparse.csr``           ``csr_matrix``   ``scipy.sparse.csr_matrix``
``collections``                ``defaultdict``  ``collections.defaultdict``
``__builtin__``                ``list``         ``builtins.list``
=============================  ===============  ==================================

Object dtypes are refused too, so arrays can only hold plain numbers. The allow-list stops code
execution, not resource exhaustion: a hostile file can still ask for a very large array.
"""

from __future__ import annotations

import collections
import importlib
import io
import os
import pickle
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from jgnn.datasets._errors import DatasetFormatError

__all__ = ["ALLOWED_GLOBALS", "PickleFormatError", "RestrictedUnpickler", "safe_load", "safe_loads"]


class PickleFormatError(DatasetFormatError, pickle.UnpicklingError):
    """A pickle was refused (a global off the allow-list) or is malformed; names the file.

    It is both a :class:`~jgnn.datasets.DatasetError` (so dataset tools report it in one line)
    and a ``pickle.UnpicklingError``.
    """


def _numpy_reconstruct() -> Callable[..., Any]:
    # NumPy 2 moved ``numpy.core`` to ``numpy._core``; NumPy 1.26 still has ``numpy.core``.
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            return importlib.import_module(module)._reconstruct
        except (ImportError, AttributeError):
            continue
    raise ImportError("Cannot find numpy's `_reconstruct` in numpy._core or numpy.core.")


def _csr_matrix() -> Callable[..., Any]:
    import scipy.sparse

    return scipy.sparse.csr_matrix


def _plain_dtype(*args: Any, **kwargs: Any) -> np.dtype:
    dtype = np.dtype(*args, **kwargs)
    if dtype.hasobject:
        raise PickleFormatError(f"refusing an object dtype ({dtype!r}) in a data pickle")
    return dtype


# (module, name) as written in the pickle -> thunk returning the object to use.
ALLOWED_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: _plain_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("scipy.sparse.csr", "csr_matrix"): _csr_matrix,
    ("collections", "defaultdict"): lambda: collections.defaultdict,
    ("__builtin__", "list"): lambda: list,
}


def _allowed_names() -> str:
    return ", ".join(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals in :data:`ALLOWED_GLOBALS`.

    Host-side. Python 2 pickles need ``encoding="latin1"`` (the default here) so that NumPy
    buffers stored as ``str`` come back as bytes.

    Args:
        file: A binary file object positioned at the start of a pickle.
        source: What to call the file in error messages (usually its path).
        encoding: Passed to :class:`pickle.Unpickler`.

    Raises:
        PickleFormatError: From ``load`` when the pickle names any other global (the message
            names the module, the class and the file) or uses persistent ids; it is a
            ``pickle.UnpicklingError``.
    """

    def __init__(self, file: IO[bytes], *, source: str = "<bytes>", encoding: str = "latin1"):
        super().__init__(file, encoding=encoding)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - documented on class
        resolve = ALLOWED_GLOBALS.get((module, name))
        if resolve is None:
            raise PickleFormatError(
                f"{self._source}: refusing to load global '{module}.{name}' (module "
                f"{module!r}, class {name!r}): it is not on the allow-list of Planetoid pickle "
                f"types ({_allowed_names()}). The file may be tampered with or is not a "
                "Planetoid file."
            )
        return resolve()

    def persistent_load(self, pid: Any) -> Any:  # noqa: D102 - documented on class
        raise PickleFormatError(
            f"{self._source}: refusing a persistent id ({pid!r}); data pickles do not use them."
        )


def _load(file: IO[bytes], source: str) -> Any:
    try:
        return RestrictedUnpickler(file, source=source).load()
    except PickleFormatError as err:
        if source in str(err):
            raise
        raise PickleFormatError(f"{source}: {err}") from err
    except MemoryError:
        raise
    except Exception as err:  # malformed data: EOFError, ValueError, TypeError, ...
        raise PickleFormatError(
            f"{source}: not a valid Planetoid pickle ({type(err).__name__}: {err})"
        ) from err


def safe_load(path: str | os.PathLike[str]) -> Any:
    """Loads a pickle file through :class:`RestrictedUnpickler`.

    Host-side.

    Args:
        path: Path of the pickle file.

    Returns:
        The unpickled object (for Planetoid: a ``scipy.sparse.csr_matrix``, a NumPy array or a
        ``collections.defaultdict`` of lists).

    Raises:
        PickleFormatError: If the file names a global that is not allowed, or is not a valid
            pickle (truncated, empty, random bytes); the message names the file. It is a
            ``pickle.UnpicklingError`` and a :class:`~jgnn.datasets.DatasetError`.
        FileNotFoundError: If ``path`` does not exist.

    Examples:
        >>> import pickle, tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x.pkl")
        >>> with open(path, "wb") as f:
        ...     pickle.dump([1, 2], f, protocol=2)
        >>> safe_load(path)
        [1, 2]
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        return _load(f, path)


def safe_loads(data: bytes, *, source: str = "<bytes>") -> Any:
    """Loads a pickle from bytes through :class:`RestrictedUnpickler`.

    Host-side.

    Args:
        data: The pickle bytes.
        source: What to call the data in error messages.

    Returns:
        The unpickled object.

    Raises:
        PickleFormatError: If the data names a global that is not allowed or is malformed.

    Examples:
        >>> import pickle, os
        >>> safe_loads(pickle.dumps(os.system, protocol=2))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        jgnn.datasets._safe_pickle.PickleFormatError: <bytes>: refusing to load global ...
    """
    return _load(io.BytesIO(data), source)
