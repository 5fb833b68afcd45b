"""Training checkpoints: the whole training state, written atomically, the last K kept.

A checkpoint is one safetensors file ``checkpoint-EEEEEEEE.safetensors`` (``E`` the
number of epochs done) in the checkpoint folder. Its tensors are the leaves of
the training loop's carry (parameters, optimizer state, step count, early
stopping state) in pytree order, named ``carry.0``, ``carry.1``, ...; its
``__metadata__`` holds ``format: hiddenstate-checkpoint``, ``format_version``,
the library version and a JSON ``state``: the run's settings (compared on
resume: a checkpoint of another run is refused), epochs done, the loss
history, the numpy Generator's state, and the epochs per compiled call.

Files are written to a temporary name, fsynced and renamed, so a crash (even
SIGKILL during the write) never leaves a half-written checkpoint under a real
name; the previous checkpoints stay intact until the new one is complete.

Since format version 2 the metadata also holds ``sha256``, the digest of the
whole file but that value (:func:`hiddenstate._serialize.digest`); a checkpoint
whose content does not match it is corrupted and skipped for the one before,
with a warning. Version 1 checkpoints (no digest) are still read.

One run per folder: a :class:`Checkpointer` that writes holds an OS lock on
``<folder>/.checkpoint.lock`` (released by the OS when the process dies, even by
SIGKILL); a second writer is refused with :class:`CheckpointFolderError`. A
folder holding checkpoints of another run (other settings, seed or data) is
refused when the writer claims it, so a run never prunes another's checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import jax
import numpy as np

from . import _serialize
from ._errors import HiddenstateError, ModelFileError
from ._io import atomic_write_bytes
from ._version import version
from .distributed import host

__all__ = ["Checkpointer", "CHECKPOINT_FORMAT_VERSION", "CheckpointFolderError"]

FORMAT = "hiddenstate-checkpoint"
#: 2: the metadata holds a ``sha256`` digest (required); 1 (no digest) is still read.
CHECKPOINT_FORMAT_VERSION = 2
_READABLE = ("1", "2")
#: The lock file a writing run holds in its folder.
LOCK_NAME = ".checkpoint.lock"


class CheckpointFolderError(HiddenstateError, RuntimeError):
    """The checkpoint folder is in use by another run that is writing to it."""
_NAME = re.compile(r"^checkpoint-(\d{8})\.safetensors$")


def _jsonable(obj):
    """numpy scalars and arrays inside the Generator state -> plain JSON."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


class Checkpointer:
    """Writes and finds checkpoints of one training run in ``directory``.

    Parameters
    ----------
    directory : path
        Created if missing.
    every : int
        Write a checkpoint every this many epochs (and when interrupted).
    keep : int
        Keep the newest ``keep`` checkpoints, delete older ones.
    settings : dict
        JSON-serialisable description of the run (estimator parameters, data
        shape and fingerprint). Resuming requires equal settings.
    """

    def __init__(self, directory, *, every: int = 10, keep: int = 3, settings: dict | None = None):
        if int(every) < 1:
            raise ValueError(f"checkpoint_every must be >= 1, got {every}")
        if int(keep) < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory)
        self.every = int(every)
        self.keep = int(keep)
        self.settings = json.loads(json.dumps(settings or {}, default=str))

    # -- writing -----------------------------------------------------------------------------
    def save(
        self,
        carry,
        *,
        epoch: int,
        history,
        rng: np.random.Generator,
        epochs_per_call: int,
        extra: dict | None = None,
    ) -> Path:
        """Write the checkpoint for ``epoch`` epochs done; returns its path."""
        path = self.directory / f"checkpoint-{int(epoch):08d}.safetensors"
        if jax.process_index() != 0:  # one writer in a multi-process run
            return path
        self.acquire()
        leaves = jax.tree.leaves(carry)
        tensors = {f"carry.{i}": np.ascontiguousarray(host(x)) for i, x in enumerate(leaves)}
        state = {
            "settings": self.settings,
            "epoch": int(epoch),
            "loss": [float(x) for x in history.loss],
            "val_loss": [float(x) for x in history.val_loss],
            "initial_loss": (None if getattr(history, "initial_loss", None) is None
                             else float(history.initial_loss)),
            "rng": _jsonable(rng.bit_generator.state),
            "epochs_per_call": int(epochs_per_call),
            "extra": extra or {},
        }
        metadata = {
            "format": FORMAT,
            "format_version": str(CHECKPOINT_FORMAT_VERSION),
            "library_version": version(),
            "state": json.dumps(state, sort_keys=True),
        }
        atomic_write_bytes(path, _serialize.sealed(tensors, metadata))
        self._prune()
        return path

    def _prune(self) -> None:
        for old in self.paths()[: -self.keep]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        # Temporary files of writes that a crash interrupted (the lock says no other
        # writer is at work here).
        for tmp in self.directory.glob(".checkpoint-*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    # -- the folder --------------------------------------------------------------------------
    def acquire(self, expected_bytes: int | None = None) -> None:
        """Claim the folder for this run (idempotent): create it, take its lock, refuse a
        folder holding another run's checkpoints, and (given ``expected_bytes``, the
        size of one checkpoint) one without room for two checkpoints.

        Raises :class:`CheckpointFolderError` (naming the folder) when another run holds
        the lock, :class:`ModelFileError` when the folder holds checkpoints of another run.
        Released by :meth:`release`, or by the OS when the process ends.
        """
        if getattr(self, "_lock", None) is not None:
            return
        import filelock

        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise type(exc)(exc.errno, f"{self.directory}: cannot create the checkpoint "
                                       f"folder: {exc.strerror}") from None
        lock = filelock.FileLock(self.directory / LOCK_NAME, timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise CheckpointFolderError(
                f"{self.directory}: another run is writing checkpoints into this folder "
                f"(it holds {LOCK_NAME}); wait for it to end or use another checkpoint_dir"
            ) from None
        except OSError as exc:
            raise type(exc)(exc.errno, f"{self.directory}: cannot write checkpoints here: "
                                       f"{exc.strerror}") from None
        try:
            self._check_owner()
            if expected_bytes:
                self._check_space(int(expected_bytes))
        except BaseException:
            lock.release()
            raise
        self._lock = lock

    def _check_space(self, expected_bytes: int) -> None:
        """OSError(ENOSPC) naming the folder when it has not room for two checkpoints of
        about ``expected_bytes`` (the newest is written before an old one is deleted)."""
        import errno
        import shutil

        free = shutil.disk_usage(self.directory).free
        if free < 2 * expected_bytes:
            raise OSError(errno.ENOSPC, f"{self.directory}: {free} bytes free, a checkpoint of "
                                        f"this run needs about {expected_bytes} (and two "
                                        "exist while the newest is written)")

    def release(self) -> None:
        """Give the folder's lock back (see :meth:`acquire`)."""
        lock, self._lock = getattr(self, "_lock", None), None
        if lock is not None:
            lock.release()

    def _check_owner(self) -> None:
        """ModelFileError if a readable checkpoint here belongs to a run with other settings."""
        for path in reversed(self.paths()):
            try:  # verified: a flipped bit in a settings value must not pose as a stranger
                state, _ = self._verified(path)
            except ModelFileError:
                continue  # unreadable: nobody's progress
            self._check_settings(path, state, folder=True)

    def _check_settings(self, path: Path, state: dict, *, folder: bool = False) -> None:
        theirs = state.get("settings", {})
        mine = self.settings.get("estimator")
        where = (f"{self.directory}: holds {path.name}, which" if folder
                 else f"{path}: this checkpoint")
        advice = ("use another checkpoint_dir, or delete its checkpoint-*.safetensors files "
                  "to start over")
        if isinstance(theirs, dict) and theirs.get("estimator") not in (None, mine):
            raise ModelFileError(f"{where} was written by a {theirs['estimator']}, not a "
                                 f"{mine}; {advice}")
        if theirs != self.settings:
            raise ModelFileError(f"{where} belongs to a run with other settings or data; "
                                 f"{advice}")

    # -- reading -----------------------------------------------------------------------------
    def paths(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir() if _NAME.match(p.name)]
        return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))

    @staticmethod
    def _verified(path) -> tuple[dict, bytes]:
        """``(state, blob)`` of a checkpoint file, its format and digest checked."""
        path = Path(path)
        blob = _serialize.read_regular(path, "checkpoint")
        header, data = _serialize.split(blob, path, "checkpoint")
        meta = header.get("__metadata__")
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ModelFileError(f"{path}: not a hiddenstate checkpoint, or corrupted")
        version = meta.get("format_version")
        if version not in _READABLE:
            raise ModelFileError(f"{path}: checkpoint format version {version!r} is not "
                                 f"supported (this hiddenstate reads {', '.join(_READABLE)})")
        _serialize.verify(header, data, path, required=version != "1", what="checkpoint")
        if not isinstance(meta.get("state"), str):
            raise ModelFileError(f"{path}: not a hiddenstate checkpoint, or corrupted")
        state = _serialize.parse_json(meta["state"], path, "the checkpoint state")
        if not isinstance(state, dict):
            raise ModelFileError(f"{path}: not a hiddenstate checkpoint, or corrupted")
        return state, blob

    @classmethod
    def read(cls, path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(state, tensors)`` of one checkpoint file, its digest verified;
        :class:`ModelFileError` if unusable."""
        state, blob = cls._verified(path)
        return state, _serialize.load_tensors(blob, path, "checkpoint")

    def latest(self, skeleton_carry):
        """The newest usable checkpoint restored onto ``skeleton_carry``, or ``None``.

        Returns ``(carry, state)``. Corrupted files (truncated, or not matching their
        digest) are skipped with a warning (an older one is used); a checkpoint of a
        run with other settings raises ModelFileError.
        """
        leaves, treedef = jax.tree.flatten(skeleton_carry)
        for path in reversed(self.paths()):
            try:
                state, tensors = self.read(path)
            except ModelFileError as exc:
                warnings.warn(f"skipping an unusable checkpoint: {exc}", UserWarning,
                              stacklevel=2)
                continue
            self._check_settings(path, state)
            new = []
            for i, leaf in enumerate(leaves):
                t = tensors.get(f"carry.{i}")
                # safetensors stores 0-d arrays as shape (1,): compare sizes, then reshape.
                shape = np.shape(leaf)
                if (
                    t is None
                    or t.size != int(np.prod(shape))
                    or (t.shape != shape and shape != ())
                    or t.dtype != np.asarray(leaf).dtype
                ):
                    raise ModelFileError(f"{path}: checkpoint tensors do not match the model")
                new.append(t.reshape(shape))
            if len(tensors) != len(leaves):
                raise ModelFileError(f"{path}: checkpoint tensors do not match the model")
            return jax.tree.unflatten(treedef, new), state
        return None

    def peek(self) -> dict | None:
        """The state of the newest readable checkpoint, without tensors."""
        for path in reversed(self.paths()):
            try:
                return self._verified(path)[0]
            except ModelFileError:
                continue
        return None


def restore_rng(rng: np.random.Generator, state: dict) -> None:
    """Put a Generator back into a saved state."""
    rng.bit_generator.state = state


def remove_checkpoints(directory) -> None:
    """Delete every checkpoint in ``directory`` (after a finished run, if asked)."""
    for p in Checkpointer(directory).paths():
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)
