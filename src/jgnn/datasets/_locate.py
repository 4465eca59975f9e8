"""Where dataset files are looked for: ``root``, then ``$JGNN_DATA``, then the cache directory.

Every file-based loader searches the same places in the same order and, when it finds nothing,
reports every place it searched and what each one lacked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "Place",
    "SearchReport",
    "cache_place",
    "find_complete",
    "missing_files",
    "user_places",
]


class Place(NamedTuple):
    """One folder to search, with the words that say where it came from."""

    label: str  # e.g. "root argument", "$JGNN_DATA", "cache ($JGNN_CACHE or ~/.cache/jgnn)"
    folder: Path | None  # None when the setting is unset


def user_places(
    root: str | os.PathLike[str] | None, subfolders: Callable[[Path], Iterable[Path]]
) -> list[Place]:
    """Lists the user-supplied places: ``root``, then ``$JGNN_DATA``, expanded by ``subfolders``.

    Host-side.

    Args:
        root: The ``root`` argument of a loader, or ``None``.
        subfolders: Maps a base folder to the folders to search under it, in order (the base
            itself may be one of them).

    Returns:
        The places in search order; an unset setting gives one place with ``folder=None``.
    """
    places = []
    for label, value in (("root argument", root), ("$JGNN_DATA", os.environ.get("JGNN_DATA"))):
        if not value:
            places.append(Place(label, None))
            continue
        base = Path(value).expanduser().absolute()
        places += [Place(label, folder) for folder in subfolders(base)]
    return places


def cache_place(folder: Path) -> Place:
    """The place for a folder inside the jgnn cache directory."""
    return Place("cache ($JGNN_CACHE or ~/.cache/jgnn)", folder)


def missing_files(folder: Path, files: Sequence[str]) -> list[str]:
    """Returns the entries of ``files`` (paths relative to ``folder``) that are not files."""
    return [name for name in files if not (folder / name).is_file()]


class SearchReport:
    """Collects one line per searched place for a "not found" message."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, place: Place, problem: str) -> None:
        """Records that ``place`` was searched and why it did not do."""
        where = "not set" if place.folder is None else str(place.folder)
        self.lines.append(f"{place.label}: {where}" + (f" ({problem})" if problem else ""))

    def __str__(self) -> str:
        return "\n".join(f"  - {line}" for line in self.lines)


def find_complete(
    places: Sequence[Place],
    files: Sequence[str],
    report: SearchReport,
    hint: Callable[[Path], str] | None = None,
) -> Path | None:
    """Returns the first folder among ``places`` holding every one of ``files``.

    Host-side. Places that do not do are recorded in ``report``: unset, missing, holding none of
    the files, or holding only some (then the missing ones are named); ``hint(folder)`` follows
    when given.

    Args:
        places: Places in search order.
        files: Required files, as paths relative to a place's folder.
        report: Receives one line per place searched without success.
        hint: Optional extra words for a folder that lacks files (e.g. which other datasets'
            files it holds).

    Returns:
        The folder, or ``None`` when no place holds every file.
    """
    for place in places:
        if place.folder is None:
            report.add(place, "")
            continue
        if not place.folder.is_dir():
            report.add(place, "does not exist")
            continue
        missing = missing_files(place.folder, files)
        if not missing:
            return place.folder
        if len(missing) == len(files):
            problem = f"none of the {len(files)} files is there"
        else:
            problem = f"missing {', '.join(missing)}"
        extra = hint(place.folder) if hint is not None else ""
        report.add(place, problem + (f"; {extra}" if extra else ""))
    return None
