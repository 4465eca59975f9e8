"""The exceptions every dataset loader raises for expected problems with data files.

All of them derive from :class:`DatasetError`, so a command-line tool can catch that one class and
print the message on one line. Each subclass also derives from the built-in exception that
describes its kind (``FileNotFoundError`` for missing files, ``ValueError`` for bad contents), so
code that already catches those keeps working.
"""

from __future__ import annotations

__all__ = ["ChecksumError", "DatasetError", "DatasetFormatError", "DatasetNotFoundError"]


class DatasetError(Exception):
    """Base class of the expected dataset errors: missing, corrupt or malformed data files.

    Messages are complete sentences that name the file or folder involved, what was expected,
    what was found and what to do; they are meant to be shown to a user as they are.

    Examples:
        >>> try:
        ...     raise DatasetNotFoundError("no ind.cora.x in /data")
        ... except DatasetError as err:
        ...     print(f"error: {err}")
        error: no ind.cora.x in /data
    """


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset's files are found nowhere (the message lists the places searched)."""


class DatasetFormatError(DatasetError, ValueError):
    """A data file cannot be parsed or its contents are inconsistent."""


class ChecksumError(DatasetError, ValueError):
    """A file's SHA-256 digest differs from the expected one (the file is corrupt or modified)."""
