"""Cache directory and atomic, verified downloads.

A download streams into a temporary file next to its destination, hashes the bytes on the way,
checks the SHA-256 digest (when one is known) and any extra ``verify`` callback, and only then
``os.replace``-s the file into place. Whatever fails, the temporary file is removed, so the
destination either holds a complete, verified file or does not exist.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from jgnn.datasets._errors import ChecksumError

__all__ = ["cache_dir", "download", "sha256_file"]

_CHUNK = 1 << 20


def cache_dir() -> Path:
    """Returns the jgnn cache directory: ``$JGNN_CACHE`` if set, else ``~/.cache/jgnn``.

    Host-side. The directory is not created; :func:`download` creates what it needs.

    Returns:
        The cache directory as an absolute :class:`pathlib.Path`.

    Examples:
        >>> cache_dir().is_absolute()
        True
    """
    env = os.environ.get("JGNN_CACHE")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "jgnn"
    return path.absolute()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Returns the hex SHA-256 digest of a file, read in 1 MiB chunks.

    Host-side.

    Args:
        path: File to hash.

    Returns:
        64 lowercase hex characters.

    Examples:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "empty")
        >>> open(p, "wb").close()
        >>> sha256_file(p)[:16]
        'e3b0c44298fc1c14'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    *,
    verify: Callable[[Path], None] | None = None,
    timeout: float = 60.0,
) -> str:
    """Downloads ``url`` to ``dest`` atomically, verifying its SHA-256 digest when given.

    Host-side. The body is streamed into a temporary file in ``dest``'s directory (created if
    needed), hashed while it streams, checked against ``sha256`` and the ``Content-Length``
    header, passed to ``verify``, and finally moved into place with ``os.replace``. On any
    failure the temporary file is deleted and ``dest`` is left untouched, so no partial or
    unverified file is ever left behind.

    Args:
        url: Address to fetch (any scheme ``urllib`` supports).
        dest: Final path of the file.
        sha256: Expected hex digest, or ``None`` when it is not known (then only ``verify`` and
            the length check guard the content).
        verify: Optional callback run on the complete temporary file before it is moved into
            place; it raises to reject the file.
        timeout: Socket timeout in seconds.

    Returns:
        The hex SHA-256 digest of the downloaded file.

    Raises:
        ChecksumError: If the digest differs from ``sha256`` (the message gives both).
        OSError: If the request fails (HTTP error status, refused connection, timeout, truncated
            body); the message names the URL and the reason.
        Exception: Whatever ``verify`` raises.

    Examples:
        >>> download("https://example.org/ind.cora.x", "/tmp/ind.cora.x",
        ...          sha256="23cfa55d...")  # doctest: +SKIP
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        expected_len: str | None = None
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    expected_len = response.headers.get("Content-Length")
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
            except urllib.error.HTTPError as err:
                raise OSError(f"Download of {url} failed: HTTP {err.code} {err.reason}.") from err
            except (OSError, http.client.HTTPException) as err:
                reason = getattr(err, "reason", None) or err
                raise OSError(f"Download of {url} failed: {type(err).__name__}: {reason}") from err
            out.flush()
            os.fsync(out.fileno())
        if expected_len is not None and expected_len.isdigit() and int(expected_len) != received:
            raise OSError(
                f"Download of {url} failed: expected {expected_len} bytes (Content-Length) but "
                f"received {received}."
            )
        got = digest.hexdigest()
        if sha256 is not None and got != sha256.lower():
            raise ChecksumError(
                f"SHA-256 mismatch for {url}: expected {sha256.lower()}, got {got} "
                f"({received} bytes). The file was discarded; {dest} was not written."
            )
        if verify is not None:
            verify(tmp)
        os.replace(tmp, dest)
        return got
    finally:
        tmp.unlink(missing_ok=True)
