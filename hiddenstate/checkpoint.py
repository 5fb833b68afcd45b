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
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import jax
import numpy as np

from ._errors import ModelFileError
from ._io import atomic_write_bytes
from .distributed import host

__all__ = ["Checkpointer", "CHECKPOINT_FORMAT_VERSION"]

FORMAT = "hiddenstate-checkpoint"
CHECKPOINT_FORMAT_VERSION = 1
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
        from safetensors.numpy import save as st_save

        from . import __version__

        path = self.directory / f"checkpoint-{int(epoch):08d}.safetensors"
        if jax.process_index() != 0:  # one writer in a multi-process run
            return path
        self.directory.mkdir(parents=True, exist_ok=True)
        leaves = jax.tree.leaves(carry)
        tensors = {f"carry.{i}": np.ascontiguousarray(host(x)) for i, x in enumerate(leaves)}
        state = {
            "settings": self.settings,
            "epoch": int(epoch),
            "loss": [float(x) for x in history.loss],
            "val_loss": [float(x) for x in history.val_loss],
            "rng": _jsonable(rng.bit_generator.state),
            "epochs_per_call": int(epochs_per_call),
            "extra": extra or {},
        }
        metadata = {
            "format": FORMAT,
            "format_version": str(CHECKPOINT_FORMAT_VERSION),
            "library_version": __version__,
            "state": json.dumps(state),
        }
        atomic_write_bytes(path, st_save(tensors, metadata=metadata))
        self._prune()
        return path

    def _prune(self) -> None:
        for old in self.paths()[: -self.keep]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
        # Temporary files of writes that a crash interrupted.
        for tmp in self.directory.glob(".checkpoint-*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    # -- reading -----------------------------------------------------------------------------
    def paths(self) -> list[Path]:
        """Checkpoint files, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [p for p in self.directory.iterdir() if _NAME.match(p.name)]
        return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))

    @staticmethod
    def read(path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(state, tensors)`` of one checkpoint file; :class:`ModelFileError` if unusable."""
        from safetensors.numpy import load as st_load

        path = Path(path)
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read checkpoint: {exc.strerror}") from None
        if len(blob) < 8:
            raise ModelFileError(f"{path}: truncated checkpoint")
        (n,) = struct.unpack("<Q", blob[:8])
        if 8 + n > len(blob):
            raise ModelFileError(f"{path}: truncated checkpoint")
        try:
            meta = json.loads(blob[8 : 8 + n])["__metadata__"]
            if meta["format"] != FORMAT:
                raise KeyError("format")
            if meta["format_version"] != str(CHECKPOINT_FORMAT_VERSION):
                raise ModelFileError(
                    f"{path}: checkpoint format version {meta['format_version']!r} is not "
                    f"supported (this hiddenstate reads {CHECKPOINT_FORMAT_VERSION})"
                )
            state = json.loads(meta["state"])
            tensors = st_load(blob)
        except ModelFileError:
            raise
        except Exception:  # any parse failure means: not a usable checkpoint
            raise ModelFileError(f"{path}: not a hiddenstate checkpoint, or corrupted") from None
        return state, tensors

    def latest(self, skeleton_carry):
        """The newest usable checkpoint restored onto ``skeleton_carry``, or ``None``.

        Returns ``(carry, state)``. Corrupted files are skipped (an older one is
        used); a checkpoint of a run with other settings raises ModelFileError.
        """
        leaves, treedef = jax.tree.flatten(skeleton_carry)
        for path in reversed(self.paths()):
            try:
                state, tensors = self.read(path)
            except ModelFileError:
                continue
            theirs = state.get("settings", {})
            mine = self.settings.get("estimator")
            if isinstance(theirs, dict) and theirs.get("estimator") not in (None, mine):
                raise ModelFileError(
                    f"{path}: this checkpoint was written by a {theirs['estimator']}, not a "
                    f"{mine}; use another checkpoint_dir or resume=False"
                )
            if theirs != self.settings:
                raise ModelFileError(
                    f"{path}: this checkpoint belongs to a run with other settings or data; "
                    "use another checkpoint_dir or resume=False"
                )
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
                return self.read(path)[0]
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
