"""What the ``jgnn`` command does with an error: a short message for expected ones, a
traceback for bugs.

Expected errors are the user's to fix (a flag, a data file, a checkpoint directory) or the
run's outcome (training diverged, a sampler worker died, the disk is full). They are printed
as ``jgnn <command>: error: <message>`` in one or two lines that say what to do next, with
exit status 2 for a bad command line or input and 1 for a run that failed. Anything else is a
bug and keeps its traceback; ``--debug`` shows the traceback of expected errors too.

Library messages speak the Python API (``root=``, ``download=False``, `` `num_parts` ``);
:func:`speak_flags` rewrites them in the command's flags (``--data-dir``, ``--offline``,
``--num-parts``) before they are shown.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Iterable
from typing import Any

__all__ = [
    "EXIT_FAILED",
    "EXIT_USAGE",
    "CLIError",
    "Diverged",
    "RunError",
    "UsageError",
    "describe_error",
    "speak_flags",
]

EXIT_FAILED = 1  # the run started and failed (diverged, a sampler died, an output not written)
EXIT_USAGE = 2  # the command cannot run as given (flags, data files, checkpoint directory)


class CLIError(Exception):
    """An expected failure of a command; the message is shown without a traceback."""

    exit_code = EXIT_FAILED


class UsageError(CLIError, ValueError):
    """The command line or its inputs cannot work (exit status 2); names the flag."""

    exit_code = EXIT_USAGE


class RunError(CLIError):
    """The run started and failed (exit status 1)."""


class Diverged(RunError):
    """Training produced a non-finite loss or parameters.

    Attributes:
        epoch: The first epoch (0-based) whose loss was not finite, or None when only the
            final parameters were found non-finite.
    """

    def __init__(self, message: str, epoch: int | None) -> None:
        super().__init__(message)
        self.epoch = epoch


# Phrases of jgnn's library messages -> the same advice in flags (longest first is not needed:
# the phrases do not overlap).
_PHRASES = (
    ("(download=False)", "(--offline)"),
    ("set $JGNN_DATA or pass root= to a folder", "set $JGNN_DATA or pass --data-dir with a folder"),
    ("or call with download=True", "or run without --offline"),
    ("a load with download=True then fetches", "a run without --offline then fetches"),
    ("load with verify=False", "run with --no-verify"),
    ("the folder you pass as root", "the folder you pass as --data-dir"),
    ("root argument", "--data-dir"),
    ("root=", "--data-dir "),
    ("download=False", "--offline"),
    ("download=True", "without --offline"),
    ("verify=False", "--no-verify"),
    ("without resuming", "without --resume"),
    ("pass epochs >=", "pass --epochs >="),
    ("resume with the same configuration", "resume with the same flags"),
    ("or use another directory", "or use another --checkpoint-dir"),
    ("pass one of those or restore the newest with step=None", "resume from the newest"),
)
_BACKTICKED = re.compile(r"`([a-z_]+)`")


def speak_flags(message: str, flags: Iterable[str] = ()) -> str:
    """Rewrites a library message in the words of the command line.

    Args:
        message: The library's message.
        flags: Flag destinations (``num_parts``) whose backticked API names (`` `num_parts` ``)
            become the flags (``--num-parts``).

    Returns:
        The message with API arguments replaced by flags.
    """
    for api, flag in _PHRASES:
        message = message.replace(api, flag)
    known = set(flags)

    def flag(match: re.Match[str]) -> str:
        name = match.group(1)
        return "--" + name.replace("_", "-") if name in known else match.group(0)

    return _BACKTICKED.sub(flag, message)


def _raised_by_jgnn(err: BaseException) -> bool:
    """Whether the innermost frame of ``err``'s traceback is jgnn's own code (a check that
    failed on purpose), not JAX's or NumPy's (a bug jgnn's checks let through)."""
    import jgnn

    frames = traceback.extract_tb(err.__traceback__)
    if not frames:
        return False
    root = os.path.dirname(os.path.abspath(jgnn.__file__))
    return os.path.abspath(frames[-1].filename).startswith(root + os.sep)


def _loader_notes(err: BaseException) -> list[str]:
    return [n for n in getattr(err, "__notes__", ()) if n.startswith("jgnn.loader:")]


def describe_error(err: BaseException, flags: Iterable[str] = ()) -> tuple[int, str] | None:
    """The exit status and message of an expected error, or None for a bug.

    Args:
        err: The exception that ended the command.
        flags: The command's flag destinations (see :func:`speak_flags`).

    Returns:
        ``(exit status, message)``, or None when ``err`` should show its traceback.
    """
    from jgnn.datasets import DatasetError
    from jgnn.train import CheckpointError

    flags = tuple(flags)
    if isinstance(err, CLIError):
        return err.exit_code, str(err)
    if isinstance(err, CheckpointError) and str(err).startswith("could not write"):
        return EXIT_FAILED, speak_flags(str(err), flags)  # a save failed (disk full...)
    if isinstance(err, DatasetError | CheckpointError):
        return EXIT_USAGE, speak_flags(str(err), flags)
    notes = [n.removeprefix("jgnn.loader: ").rstrip(".") for n in _loader_notes(err)]
    if notes or isinstance(err, TimeoutError) and "jgnn.loader" in str(err):
        hint = (
            "Run with --num-workers 0 to reproduce it in this process, or --debug for a traceback."
        )
        if isinstance(err, TimeoutError):
            text = str(err).removeprefix("jgnn.loader: ")
            text = text.replace(" Raise timeout_s if batches are merely slow.", "")
        else:
            where = "; ".join(notes)
            text = f"the sampler failed: {type(err).__name__}: {_first_line(err)} ({where})."
        return EXIT_FAILED, f"{text}\n{hint}"
    if "RESOURCE_EXHAUSTED" in str(err) or isinstance(err, MemoryError):
        return EXIT_FAILED, (
            f"out of memory ({_first_line(err)}); train on sampled batches (--loader neighbor) "
            "or with GNNAutoScale (--gas), or use a smaller --hidden."
        )
    if isinstance(err, ValueError | TypeError | NotImplementedError) and _raised_by_jgnn(err):
        return EXIT_USAGE, speak_flags(str(err), flags)
    return None


def _first_line(err: Any) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
