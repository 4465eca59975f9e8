"""Checkpoints for exact resume: ``orbax`` writes, jgnn verifies and explains.

A checkpoint holds everything the next step depends on: the :class:`jgnn.train.TrainState`
(parameters, optimizer state, loss scale, the model's RNG keys and counters) and a JSON
``metadata`` dict (loader iterator state, padding budget, history arrays' bookkeeping, the
epoch's records...). Arrays of other state, e.g. GNNAutoScale histories, go into the same
pytree as the train state.

Writing (orbax's ``CheckpointManager``): each step is written to a temporary directory and
renamed when complete; a save killed half-way leaves only the temporary directory, which is
never read. The manager keeps the last ``max_to_keep`` steps. After orbax commits a step,
jgnn writes ``jgnn_digest.json`` into it (temp file + ``os.replace``): the SHA-256 of every
file of the step and the hash of the run's configuration. A step is *complete* when its digest
file exists and every file matches it, so a step truncated or altered after the commit is
detected (orbax itself reads a truncated array file without complaint).

Reading: :meth:`Checkpointer.restore` takes the newest complete step (warning about newer
steps it skipped and why); a missing directory, a directory without a complete step, a
configuration hash or state layout that differs from this run's, or a failed read raise
:class:`CheckpointError`, which names the directory and what to do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pathlib
import tempfile
import warnings
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

__all__ = ["CheckpointError", "Checkpointer", "Restored", "config_hash"]

_DIGEST = "jgnn_digest.json"
_FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint directory cannot be used; the message names it and says what to do."""


@dataclasses.dataclass(frozen=True)
class Restored:
    """What :meth:`Checkpointer.restore` returns.

    Attributes:
        step: The restored step.
        state: The restored pytree, with the target's structure, dtypes and shardings.
        metadata: The JSON metadata saved with it.
    """

    step: int
    state: Any
    metadata: dict[str, Any]


def _canonical(value: Any, name: str) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"`{name}` must be JSON-serialisable: {err}.") from err


def config_hash(config: Mapping[str, Any] | None) -> str:
    """SHA-256 (hex) of the canonical JSON of a run configuration (None hashes ``{}``).

    Args:
        config: A JSON-serialisable mapping (model, dataset, hyper-parameters, precision...).

    Returns:
        The hex digest.

    Raises:
        TypeError: If ``config`` is not JSON-serialisable.
    """
    return hashlib.sha256(_canonical(dict(config or {}), "config").encode()).hexdigest()


def _signature(tree: Any) -> list[list[str]]:
    """``[path, dtype, shape]`` of every leaf: what a restore target must match."""
    return [
        [jax.tree_util.keystr(path), str(leaf.dtype), str(tuple(leaf.shape))]
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree)
    ]


def _file_digests(root: pathlib.Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name != _DIGEST:
            digest = hashlib.sha256()
            with path.open("rb") as f:
                for chunk in iter(lambda f=f: f.read(1 << 20), b""):
                    digest.update(chunk)
            out[path.relative_to(root).as_posix()] = digest.hexdigest()
    return out


def _write_json_atomic(path: pathlib.Path, value: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(value, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        pathlib.Path(tmp).unlink(missing_ok=True)
        raise


def _target_abstract(target: Any) -> Any:
    def one(leaf: Any) -> Any:
        sharding = getattr(leaf, "sharding", None)
        return jax.ShapeDtypeStruct(np.shape(leaf), leaf.dtype, sharding=sharding)

    return jax.tree_util.tree_map(one, target)


class Checkpointer:
    """Saves and restores training state in ``directory`` (one sub-directory per step).

    Args:
        directory: Where the steps live (created on the first save).
        config: The run's configuration (JSON-serialisable: model, data, hyper-parameters,
            precision, batch size, seeds...). Its hash is stored with every step and a
            restore from a directory written under another configuration is refused.
        max_to_keep: Steps kept (older ones are deleted after a save), >= 1.

    Raises:
        TypeError: If ``config`` is not JSON-serialisable.
        ValueError: If ``max_to_keep`` < 1.

    Examples:
        >>> ckpt = Checkpointer("/tmp/run", config={"model": "gcn", "lr": 0.01})  # doctest: +SKIP
        >>> ckpt.save(100, state, metadata={"loader": it.get_state()})  # doctest: +SKIP
        >>> restored = ckpt.restore(state)  # doctest: +SKIP
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        config: Mapping[str, Any] | None = None,
        max_to_keep: int = 3,
    ) -> None:
        if isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise ValueError(f"`max_to_keep` must be an int >= 1, got {max_to_keep!r}.")
        self.directory = pathlib.Path(directory).absolute()
        self.config = dict(config or {})
        self.config_hash = config_hash(self.config)
        self.max_to_keep = max_to_keep
        self._manager: Any = None

    def _open(self, *, create: bool) -> Any:
        import orbax.checkpoint as ocp

        if self._manager is None:
            if not create and not self.directory.is_dir():
                raise CheckpointError(
                    f"checkpoint directory {self.directory} does not exist; check the path, or "
                    "start a new run without resuming."
                )
            options = ocp.CheckpointManagerOptions(
                max_to_keep=self.max_to_keep,
                create=create,
                cleanup_tmp_directories=True,
                enable_async_checkpointing=False,
            )
            self._manager = ocp.CheckpointManager(self.directory, options=options)
        return self._manager

    def save(self, step: int, state: Any, *, metadata: Mapping[str, Any] | None = None) -> None:
        """Writes ``state`` and ``metadata`` as step ``step`` and marks it complete.

        A step ``step`` that is already there but incomplete or corrupt (a save killed
        half-way, which :meth:`restore` skipped with a warning) is replaced, with a warning.

        Args:
            step: The step number (>= 0, larger than every complete saved step).
            state: A pytree of arrays (e.g. a :class:`jgnn.train.TrainState`, or a tuple of
                it and history arrays).
            metadata: JSON-serialisable extras (loader state, budget, epoch records...).

        Raises:
            TypeError: If ``metadata`` is not JSON-serialisable.
            CheckpointError: If the write fails (the directory and step are named).
        """
        import orbax.checkpoint as ocp

        if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 0:
            raise ValueError(f"`step` must be an int >= 0, got {step!r}.")
        step = int(step)
        meta = {
            "format": _FORMAT,
            "config": self.config,
            "config_hash": self.config_hash,
            "signature": _signature(state),
            "metadata": dict(metadata or {}),
        }
        _canonical(meta["metadata"], "metadata")
        manager = self._open(create=True)
        if step in self.steps() and self._problem(step) not in (None, "config"):
            # A save killed after orbax's commit left this step without a complete digest; a
            # run resumed from an earlier step (restore warned about it) now replaces it.
            warnings.warn(
                f"{self.directory}: replacing step {step}, {self._problem(step)}.", stacklevel=2
            )
            manager.delete(step)
        try:
            manager.save(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
                ),
                force=True,
            )
            manager.wait_until_finished()
        except Exception as err:
            raise CheckpointError(
                f"could not write step {step} to checkpoint directory {self.directory}: {err}"
            ) from err
        folder = self.directory / str(step)
        try:
            _write_json_atomic(
                folder / _DIGEST,
                {"config_hash": self.config_hash, "files": _file_digests(folder)},
            )
        except OSError as err:
            raise CheckpointError(
                f"could not write step {step} to checkpoint directory {self.directory}: {err}"
            ) from err

    def steps(self) -> list[int]:
        """Steps orbax committed (complete or not), oldest first; [] without a directory."""
        if self._manager is None and not self.directory.is_dir():
            return []
        manager = self._open(create=False)
        manager.reload()
        return sorted(int(s) for s in manager.all_steps())

    def _problem(self, step: int) -> str | None:
        """Why step ``step`` is not complete, or None when it is."""
        folder = self.directory / str(step)
        try:
            with (folder / _DIGEST).open() as f:
                digest = json.load(f)
            want = digest["files"]
        except FileNotFoundError:
            return "incomplete (no digest: the save did not finish)"
        except (OSError, ValueError, KeyError, TypeError) as err:
            return f"unreadable digest ({err})"
        have = _file_digests(folder)
        if have != want:
            bad = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
            return f"corrupt ({len(bad)} file(s) differ from the digest, e.g. {bad[0]})"
        if digest.get("config_hash") != self.config_hash:
            return "config"
        return None

    def latest_step(self) -> int | None:
        """The newest complete step (verified against its digest), or None."""
        for step in reversed(self.steps()):
            if self._problem(step) in (None, "config"):
                return step
        return None

    def restore(self, target: Any, *, step: int | None = None) -> Restored:
        """Restores the newest complete step (or ``step``) into the layout of ``target``.

        Args:
            target: A pytree with the structure, dtypes and shardings to restore into: the
                state a fresh run builds (arrays or ``jax.ShapeDtypeStruct`` s).
            step: A specific step; None for the newest complete one.

        Returns:
            A :class:`Restored`.

        Raises:
            CheckpointError: If the directory is missing or holds no complete step, the
                requested step is incomplete or corrupt, the step was written under another
                configuration or with another state layout, or reading fails.
        """
        import orbax.checkpoint as ocp

        steps = self.steps() if self.directory.is_dir() else None
        if steps is None:
            self._open(create=False)  # raises the "does not exist" error
        candidates = list(reversed(steps)) if step is None else [int(step)]
        if step is not None and int(step) not in steps:
            raise CheckpointError(
                f"checkpoint directory {self.directory} has no committed step {step} (it has "
                f"{steps}); pass one of those or restore the newest with step=None."
            )
        skipped = []
        for candidate in candidates:
            problem = self._problem(candidate)
            if problem == "config":
                self._raise_config_mismatch(candidate)
            if problem is not None:
                if step is not None:
                    raise CheckpointError(
                        f"step {candidate} in checkpoint directory {self.directory} is "
                        f"{problem}; restore another step or delete "
                        f"{self.directory / str(candidate)}."
                    )
                skipped.append(f"step {candidate}: {problem}")
                continue
            break
        else:
            raise CheckpointError(
                f"checkpoint directory {self.directory} holds no complete checkpoint "
                f"({'; '.join(skipped) or 'no steps'}); delete it or start a new run without "
                "resuming."
            )
        if skipped:
            warnings.warn(
                f"{self.directory}: skipped newer checkpoints ({'; '.join(skipped)}); "
                f"restoring step {candidate}.",
                stacklevel=2,
            )
        manager = self._open(create=False)
        try:
            meta = manager.restore(
                candidate, args=ocp.args.Composite(meta=ocp.args.JsonRestore())
            ).meta
        except Exception as err:
            raise self._read_error(candidate, err) from err
        self._check_signature(candidate, meta.get("signature"), _signature(target))
        try:
            restored = manager.restore(
                candidate,
                args=ocp.args.Composite(
                    state=ocp.args.StandardRestore(_target_abstract(target)),
                ),
            )
        except Exception as err:
            raise self._read_error(candidate, err) from err
        return Restored(candidate, restored.state, dict(meta.get("metadata", {})))

    def _read_error(self, step: int, err: Exception) -> CheckpointError:
        return CheckpointError(
            f"could not read step {step} of checkpoint directory {self.directory}: {err}; "
            "restore an earlier step or delete the directory."
        )

    def _raise_config_mismatch(self, step: int) -> None:
        import orbax.checkpoint as ocp

        saved: dict[str, Any] = {}
        try:
            meta = (
                self._open(create=False)
                .restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))
                .meta
            )
            saved = dict(meta.get("config", {}))
        except Exception:  # noqa: BLE001 - the hash mismatch is the error to report
            saved = {}
        keys = sorted(
            k for k in set(saved) | set(self.config) if saved.get(k) != self.config.get(k)
        )
        diff = ", ".join(f"{k}: saved {saved.get(k)!r}, now {self.config.get(k)!r}" for k in keys)
        raise CheckpointError(
            f"checkpoint directory {self.directory} (step {step}) was written by a run with "
            f"another configuration ({diff or 'hash differs'}); resume with the same "
            "configuration or use another directory."
        )

    def _check_signature(self, step: int, saved: Any, wanted: list[list[str]]) -> None:
        if saved == wanted:
            return
        saved = [list(s) for s in saved or []]
        first = next(
            (f"{s} saved vs {w} now" for s, w in zip(saved, wanted, strict=False) if s != w),
            f"{len(saved)} arrays saved vs {len(wanted)} now",
        )
        raise CheckpointError(
            f"step {step} of checkpoint directory {self.directory} holds a state with another "
            f"layout ({first}); build the same model and optimizer as the run that wrote it, "
            "or use another directory."
        )

    def close(self) -> None:
        """Closes the orbax manager (idempotent)."""
        if self._manager is not None:
            self._manager.close()
            self._manager = None

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
