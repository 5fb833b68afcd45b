"""Model files: safetensors tensors plus a JSON header, never executable.

Layout (one file, safetensors format)::

    8 bytes   little-endian u64 N, the header length
    N bytes   JSON: {tensor name: {dtype, shape, data_offsets}, "__metadata__": {...}}
    rest      raw little-endian tensor bytes

``__metadata__`` holds string values: ``format`` = ``"hiddenstate"``,
``format_version`` (this module's :data:`FORMAT_VERSION`), ``library_version``,
``class`` (the estimator's class name) and ``config``, a JSON document with the
estimator's parameters (``get_params``) and fitted attributes. Loading reads
the JSON itself, checks everything against the estimator's settings (names,
shapes and dtypes of every tensor), and builds the estimator from plain arrays:
no code from the file is ever run.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._errors import ModelFileError
from ._io import atomic_write_bytes

__all__ = ["FORMAT_VERSION", "save", "load", "module_to_tensors", "tensors_to_module", "register"]

FORMAT = "hiddenstate"
#: Bumped when the layout of the JSON or the tensor names change.
FORMAT_VERSION = 1
#: Refuse headers larger than this (a corrupted length field must not make us allocate GBs).
MAX_HEADER_BYTES = 64 * 1024 * 1024

_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: estimators that :func:`load` may build."""
    _REGISTRY[cls.__name__] = cls
    return cls


def _library_version() -> str:
    from . import __version__

    return __version__


def module_to_tensors(module: eqx.Module, prefix: str = "") -> dict[str, np.ndarray]:
    """Every array leaf of ``module`` by its path, e.g. ``weights[0]``."""
    leaves = jax.tree_util.tree_flatten_with_path(eqx.filter(module, eqx.is_array))[0]
    return {
        prefix + jax.tree_util.keystr(path).lstrip("."): np.asarray(leaf)
        for path, leaf in leaves
        if leaf is not None
    }


def tensors_to_module(
    skeleton: eqx.Module, tensors: dict[str, np.ndarray], *, path: object, prefix: str = ""
) -> eqx.Module:
    """Put ``tensors`` into the array leaves of ``skeleton``, checking names, shapes, dtypes."""
    arrays, static = eqx.partition(skeleton, eqx.is_array)
    leaves, treedef = jax.tree_util.tree_flatten_with_path(arrays)
    expected = {prefix + jax.tree_util.keystr(p).lstrip("."): leaf for p, leaf in leaves}
    names = {k for k in tensors if k.startswith(prefix)}
    missing = sorted(set(expected) - names)
    extra = sorted(names - set(expected))
    if missing or extra:
        raise ModelFileError(
            f"{path}: the tensors do not match the model's settings"
            + (f"; missing {missing}" if missing else "")
            + (f"; unexpected {extra}" if extra else "")
        )
    new = []
    for name, leaf in expected.items():
        t = tensors[name]
        if tuple(t.shape) != tuple(leaf.shape) or np.dtype(t.dtype) != np.dtype(leaf.dtype):
            raise ModelFileError(
                f"{path}: tensor {name!r} is {t.dtype}{list(t.shape)}, "
                f"the settings need {np.dtype(leaf.dtype)}{list(leaf.shape)}"
            )
        if not np.all(np.isfinite(t)):
            raise ModelFileError(f"{path}: tensor {name!r} holds non-finite values")
        new.append(jnp.asarray(t))
    arrays = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(arrays), new)
    del treedef
    return eqx.combine(arrays, static)


def save(
    path: str | os.PathLike, cls_name: str, config: dict[str, Any], tensors: dict[str, np.ndarray]
) -> None:
    """Write a model file atomically (temporary file, fsync, rename)."""
    from safetensors.numpy import save as st_save

    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "library_version": _library_version(),
        "class": cls_name,
        "config": json.dumps(config, sort_keys=True),
    }
    blob = st_save({k: np.ascontiguousarray(v) for k, v in tensors.items()}, metadata=metadata)
    atomic_write_bytes(path, blob)


def read(path: str | os.PathLike) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
    """Read and validate a model file: ``(class name, config, tensors)``."""
    from safetensors.numpy import load as st_load

    path = Path(path)
    try:
        blob = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path}: is a directory, not a model file") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read: {exc.strerror}") from None
    if len(blob) < 8:
        raise ModelFileError(f"{path}: too short to be a model file ({len(blob)} bytes)")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > MAX_HEADER_BYTES or 8 + n > len(blob):
        raise ModelFileError(
            f"{path}: not a hiddenstate model file, or truncated "
            f"(header says {n} bytes, the file has {len(blob) - 8} after the length field)"
        )
    try:
        header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{path}: the header is not valid JSON (corrupted file?)") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a hiddenstate model file (no hiddenstate header)")
    version = meta.get("format_version")
    if version != str(FORMAT_VERSION):
        raise ModelFileError(
            f"{path}: model file format version {version!r} is not supported by "
            f"hiddenstate {_library_version()} (it reads version {FORMAT_VERSION}); "
            f"the file was written by hiddenstate {meta.get('library_version', '?')}"
        )
    from . import estimators  # noqa: F401  (their classes register themselves on import)

    cls_name = meta.get("class")
    if cls_name not in _REGISTRY:
        raise ModelFileError(
            f"{path}: unknown model class {cls_name!r}; known: {', '.join(sorted(_REGISTRY))}"
        )
    try:
        config = json.loads(meta.get("config", ""))
    except json.JSONDecodeError:
        raise ModelFileError(f"{path}: the model settings are not valid JSON") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: the model settings are not a JSON object")
    try:
        tensors = st_load(blob)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(f"{path}: corrupted tensor data ({exc})") from None
    return cls_name, config, tensors


def load(path: str | os.PathLike):
    """Load any hiddenstate estimator saved with ``.save(path)``.

    Raises
    ------
    ModelFileError
        Missing, truncated, corrupted or foreign file, unknown format version,
        or tensors that do not match the stored settings.
    """
    cls_name, config, tensors = read(path)
    cls = _REGISTRY[cls_name]
    try:
        return cls._from_file(config, tensors, path=path)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid model settings ({exc})") from None
