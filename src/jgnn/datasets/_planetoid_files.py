"""The Planetoid raw files: pinned digests, where they are looked for, verification, download.

Cora and CiteSeer files are checked against pinned SHA-256 digests wherever they are read from
(``root``, ``$JGNN_DATA`` or the cache). PubMed digests are not pinned: a PubMed file is only
moved into the cache after it parses through the restricted unpickler, its digest is recorded in
a ``<file>.sha256`` sidecar (later reads are checked against it), and a warning says that it was
not pinned. A PubMed file without a sidecar (e.g. one the user copied into ``$JGNN_DATA``) can
only be checked by parsing it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from jgnn.datasets._download import cache_dir, sha256_file
from jgnn.datasets._download import download as download_file
from jgnn.datasets._errors import ChecksumError, DatasetFormatError, DatasetNotFoundError
from jgnn.datasets._locate import (
    SearchReport,
    cache_place,
    find_complete,
    missing_files,
    user_places,
)
from jgnn.datasets._safe_pickle import safe_load

__all__ = [
    "PLANETOID_SHA256",
    "PLANETOID_URL",
    "locate_planetoid",
    "planetoid_files",
    "planetoid_url",
    "read_index",
    "verify_planetoid_file",
]

#: Canonical location of the raw files; ``$JGNN_PLANETOID_URL`` overrides it.
PLANETOID_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"

#: Pinned SHA-256 digests of the canonical raw files (PubMed is not pinned).
PLANETOID_SHA256: dict[str, str] = {
    "ind.citeseer.allx": "2ac30345d95c9ec933a817ee0bdd6a5f077f8c184a20e696910192d534414668",
    "ind.citeseer.ally": "f704b2d986dde6c2669934de1f3ae5696a6cf9455c0f6b2646a2d135ea0a1c95",
    "ind.citeseer.graph": "d79a4ef9d3e7169aee8946145f6b7306e35bc79bffad26346cfb94e10e9912a7",
    "ind.citeseer.test.index": "2af990671580b6b2df5d158d1038f8292e30c9cd821b5453f399659b25b723d4",
    "ind.citeseer.tx": "539a8906a2da97628d212f2fdd668c109a8b3f0d36574b59e5d3fd5b5303da21",
    "ind.citeseer.ty": "55e5bd1ba1e733a04598753ad1a8d57957f4b8f89e74519f41f4f4938767e4ce",
    "ind.citeseer.x": "d20de19150741e555de0ed037195630fc194114ebc7fd72ced62810148aa22f6",
    "ind.citeseer.y": "8ba87e515d8e3ee3cf52f6d2c5b86aa73f11ecad825a808455209ec26cd54924",
    "ind.cora.allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "ind.cora.ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "ind.cora.graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "ind.cora.test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    "ind.cora.tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "ind.cora.ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "ind.cora.x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "ind.cora.y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
}

_SUFFIXES = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")


def planetoid_url() -> str:
    """Returns the base URL of the raw files: ``$JGNN_PLANETOID_URL`` or :data:`PLANETOID_URL`.

    Host-side.

    Returns:
        The base URL without a trailing slash.

    Examples:
        >>> planetoid_url().startswith(("http://", "https://", "file:"))
        True
    """
    return (os.environ.get("JGNN_PLANETOID_URL") or PLANETOID_URL).rstrip("/")


def planetoid_files(name: str) -> list[str]:
    """Returns the eight raw file names of a Planetoid dataset (``name`` lowercase)."""
    return [f"ind.{name}.{suffix}" for suffix in _SUFFIXES]


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_sidecar(path: Path) -> str | None:
    side = _sidecar(path)
    if not side.is_file():
        return None
    parts = side.read_text().split()
    return parts[0].lower() if parts else None


def _write_sidecar(path: Path, digest: str) -> None:
    side = _sidecar(path)
    tmp = side.with_name(f".{side.name}.{os.getpid()}.part")
    tmp.write_text(f"{digest}  {path.name}\n")
    os.replace(tmp, side)


def _expected(path: Path) -> tuple[str | None, str]:
    """The digest ``path`` must have and where that digest comes from."""
    pinned = PLANETOID_SHA256.get(path.name)
    if pinned is not None:
        return pinned, "pinned digest"
    return _read_sidecar(path), f"digest recorded in {_sidecar(path)} when it was downloaded"


def _digest_problem(path: Path) -> tuple[str, str, str] | None:
    """``(expected, actual, source)`` when ``path`` fails its digest check, else ``None``."""
    expected, source = _expected(path)
    if expected is None:
        return None
    actual = sha256_file(path)
    return None if actual == expected else (expected, actual, source)


def verify_planetoid_file(path: str | os.PathLike[str]) -> None:
    """Checks a raw Planetoid file against its pinned (or recorded) SHA-256 digest.

    Host-side. Files with no known digest (PubMed without a ``.sha256`` sidecar) pass; they are
    only checked by parsing them.

    Args:
        path: A raw file such as ``.../ind.cora.x``.

    Raises:
        ChecksumError: If the digest differs; the message names the file, both digests, and what
            to do (replace the file, delete it so that it is downloaded again, or opt out with
            ``verify=False`` for a file modified on purpose).
    """
    path = Path(path)
    problem = _digest_problem(path)
    if problem is None:
        return
    expected, actual, source = problem
    raise ChecksumError(
        f"{path} is corrupt or modified: its SHA-256 digest is {actual} but the {source} is "
        f"{expected} ({path.stat().st_size} bytes on disk). Replace it with the original from "
        f"{planetoid_url()}/{path.name}, or delete it (a load with download=True then fetches a "
        "fresh copy into the cache); if you modified it on purpose, load with verify=False."
    )


def read_index(path: Path) -> np.ndarray:
    """Reads ``ind.<name>.test.index``: one non-negative integer per line.

    Host-side.

    Args:
        path: The file.

    Returns:
        int64 ``[K]`` ids in file order (blank lines are skipped).

    Raises:
        DatasetFormatError: If a line is not an integer (the message names the file and line).
    """
    out = []
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            text = line.strip()
            if not text:
                continue
            if not text.isdigit():
                raise DatasetFormatError(
                    f"{path}: line {number} is {text[:40]!r}; expected one non-negative integer "
                    "per line (a test node id)."
                )
            out.append(int(text))
    return np.asarray(out, dtype=np.int64)


def _verify_download(tmp: Path, fname: str) -> None:
    """Parses a freshly downloaded raw file; raises if it is not a sound Planetoid file."""
    if fname.endswith(".test.index"):
        read_index(tmp)
    else:
        safe_load(tmp)


def _fetch(folder: Path, files: list[str]) -> None:
    """Downloads ``files`` into ``folder`` (see the module docstring for unpinned files)."""
    base = planetoid_url()
    for fname in files:
        dest = folder / fname
        url = f"{base}/{fname}"
        pinned = PLANETOID_SHA256.get(fname)
        recorded = None if pinned else _read_sidecar(dest)
        digest = download_file(
            url,
            dest,
            pinned or recorded,
            verify=None if pinned else (lambda tmp, fname=fname: _verify_download(tmp, fname)),
        )
        if pinned is None and recorded is None:
            _write_sidecar(dest, digest)
            warnings.warn(
                f"{fname} was downloaded from {url} without a pinned SHA-256 digest; it parsed "
                f"through the restricted unpickler and its digest {digest} was recorded in "
                f"{_sidecar(dest)} (later loads are checked against it).",
                UserWarning,
                stacklevel=4,
            )


def _other_datasets_hint(name: str) -> Callable[[Path], str]:
    def hint(folder: Path) -> str:
        others = sorted({p.name.split(".")[1] for p in folder.glob("ind.*.*")} - {name})
        return f"it holds ind.* files of {', '.join(others)}" if others else ""

    return hint


def locate_planetoid(
    name: str, root: str | os.PathLike[str] | None, *, download: bool, verify: bool
) -> Path:
    """Finds (or downloads) the folder holding the eight raw files of ``name``.

    Host-side. Searches ``root`` and ``root/planetoid``, then ``$JGNN_DATA`` and
    ``$JGNN_DATA/planetoid``: the first folder holding all eight files is returned as it is (its
    files are verified when they are read). Then ``cache_dir()/planetoid``: when ``download`` is
    true, files missing there, and with ``verify`` files failing their digest check, are
    downloaded.

    Args:
        name: Lowercase dataset name.
        root: The loader's ``root`` argument.
        download: Whether missing or corrupt cache files may be downloaded.
        verify: Whether cache files are checked against their digests before use.

    Returns:
        The folder to read.

    Raises:
        DatasetNotFoundError: If no folder holds every file and downloading is disabled or
            fails; the message names each place searched and what it lacked.
        ChecksumError: If a downloaded file does not match its pinned or recorded digest.
    """
    files = planetoid_files(name)
    report = SearchReport()
    places = user_places(root, lambda base: [base, base / "planetoid"])
    hint = _other_datasets_hint(name)
    folder = find_complete(places, files, report, hint)
    if folder is not None:
        return folder
    cache = cache_dir() / "planetoid"
    if not download:
        found = find_complete([cache_place(cache)], files, report, hint)
        if found is not None:
            return found  # verified when read: a corrupt file raises ChecksumError
        raise DatasetNotFoundError(
            f"Planetoid {name!r} raw files ({', '.join(files)}) not found. Searched, in order:\n"
            f"{report}\nDownloading is disabled (download=False): set $JGNN_DATA or pass root= "
            "to a folder holding the files, or call with download=True."
        )
    stale = missing_files(cache, files) if cache.is_dir() else list(files)
    if verify:
        for fname in sorted(set(files) - set(stale), key=files.index):
            problem = _digest_problem(cache / fname)
            if problem is not None:
                warnings.warn(
                    f"{cache / fname} failed its SHA-256 check (expected {problem[0]}, got "
                    f"{problem[1]}); downloading it again.",
                    UserWarning,
                    stacklevel=3,
                )
                stale.append(fname)
    if not stale:
        return cache
    report.add(cache_place(cache), f"missing or failing their digest: {', '.join(stale)}")
    try:
        _fetch(cache, stale)
    except OSError as err:
        raise DatasetNotFoundError(
            f"Planetoid {name!r} raw files not found. Searched, in order:\n{report}\nThen tried "
            f"to download them from {planetoid_url()}/ into {cache}, which failed: {err}"
        ) from err
    return cache
