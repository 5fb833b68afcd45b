"""Model files: safetensors tensors plus a JSON header, never executable.

Layout (one file, safetensors format)::

    8 bytes   little-endian u64 N, the header length
    N bytes   JSON: {tensor name: {dtype, shape, data_offsets}, "__metadata__": {...}}
    rest      raw little-endian tensor bytes

``__metadata__`` holds string values: ``format`` = ``"hiddenstate"``,
``format_version`` (this module's :data:`FORMAT_VERSION`), ``library_version``,
``class`` (the estimator's class name), ``config``, a JSON document with the
estimator's parameters (``get_params``) and fitted attributes, and ``sha256``:
the SHA-256 digest of the whole file but that one value (see :func:`digest`).
Loading reads the JSON itself, verifies the digest, checks everything against
the estimator's settings (names, shapes and dtypes of every tensor, on an
abstract model before anything is allocated), and builds the estimator from
plain arrays: no code from the file is ever run.

Reading is bounded: only regular files are opened (a FIFO, a device such as
``/dev/zero``, or a symlink to one is refused before it is opened), the header
is at most :data:`MAX_HEADER_BYTES`, JSON at most :data:`MAX_JSON_DEPTH` deep,
and a model at most :data:`MAX_PARAMETERS` parameters.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import os
import re
import stat
import struct
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import numpy as np

from ._errors import ModelFileError
from ._io import atomic_write_bytes
from ._version import version as _library_version
from .distributed import device

__all__ = ["FORMAT_VERSION", "save", "load", "module_to_tensors", "tensors_to_module", "register"]

FORMAT = "hiddenstate"
#: Bumped when the layout of the JSON or the tensor names change. Version 2 adds the
#: ``sha256`` digest to ``__metadata__``; version 1 files (no digest) still load.
FORMAT_VERSION = 2
#: The versions :func:`read` accepts.
READABLE_VERSIONS = ("1", "2")
#: Refuse headers larger than this (a corrupted length field must not make us allocate GBs).
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: Refuse JSON nested deeper than this (headers and settings are a few levels deep).
MAX_JSON_DEPTH = 64
#: Refuse settings that imply more parameters than this (checked on an abstract model).
MAX_PARAMETERS = 2**31 - 1
#: The ``__metadata__`` key of the digest.
DIGEST_KEY = "sha256"

#: The classes a model file may name, and the module that defines each: loading a file
#: imports that module alone (its class registers itself there), not every estimator.
MODEL_MODULES: dict[str, str] = {
    "AnomalyDetector": "hiddenstate.estimators._anomaly",
    "Autoencoder": "hiddenstate.estimators._autoencoder",
    "Pipeline": "hiddenstate._pipeline",
    "RecursiveAutoencoder": "hiddenstate.estimators._recursive",
    "SequenceAutoencoder": "hiddenstate.estimators._sequence_ae",
    "SequenceClassifier": "hiddenstate.estimators._classifier",
    "SequenceModel": "hiddenstate.estimators._sequence",
    "SequenceRegressor": "hiddenstate.estimators._classifier",
}

_REGISTRY: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: estimators that :func:`load` may build. A class of the library
    is also listed in :data:`MODEL_MODULES`; one registered at run time (by a test, a
    plug-in) is known from then on."""
    _REGISTRY[cls.__name__] = cls
    return cls


def class_for(name: str, *, path: object = None) -> type:
    """The estimator class registered as ``name``, for :func:`load` and wrappers; the
    module that defines it (:data:`MODEL_MODULES`) is imported when it is not yet.

    Raises :class:`ModelFileError` naming ``path`` when no class has that name."""
    if name not in _REGISTRY and name in MODEL_MODULES:
        importlib.import_module(MODEL_MODULES[name])  # its class registers itself
    if name not in _REGISTRY:
        known = ", ".join(sorted(set(_REGISTRY) | set(MODEL_MODULES)))
        raise ModelFileError(f"{path}: unknown model class {name!r}; known: {known}")
    return _REGISTRY[name]


def is_registered(cls: type) -> bool:
    """Whether ``cls`` is the class that model files name by its name (a class cannot be
    registered before its module is imported, so nothing is imported here)."""
    return _REGISTRY.get(cls.__name__) is cls


def module_to_tensors(module: eqx.Module, prefix: str = "") -> dict[str, np.ndarray]:
    """Every array leaf of ``module`` by its path, e.g. ``weights[0]``."""
    leaves = jax.tree_util.tree_flatten_with_path(eqx.filter(module, eqx.is_array))[0]
    return {
        prefix + jax.tree_util.keystr(path).lstrip("."): np.asarray(leaf)
        for path, leaf in leaves
        if leaf is not None
    }


def _is_array_like(x) -> bool:
    return eqx.is_array(x) or isinstance(x, jax.ShapeDtypeStruct)


def tensors_to_module(
    skeleton: eqx.Module, tensors: dict[str, np.ndarray], *, path: object, prefix: str = ""
) -> eqx.Module:
    """Put ``tensors`` into the array leaves of ``skeleton``, checking names, shapes, dtypes.

    ``skeleton`` may be abstract (``jax.ShapeDtypeStruct`` leaves, from
    ``eqx.filter_eval_shape``): nothing is allocated before every tensor matched."""
    arrays, static = eqx.partition(skeleton, _is_array_like)
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
    for name in expected:
        t = tensors[name]
        if np.dtype(t.dtype).kind in "fc" and not np.all(np.isfinite(t)):
            raise ModelFileError(f"{path}: tensor {name!r} holds non-finite values")
        new.append(device(np.asarray(t)))
    arrays = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(arrays), new)
    del treedef
    return eqx.combine(arrays, static)


# -- bounded, verified reading -----------------------------------------------------------------

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_KIND = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
         (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
         (stat.S_ISSOCK, "a socket"))


def _not_regular(path, mode: int, what: str) -> ModelFileError:
    kind = next((name for test, name in _KIND if test(mode)), "not a regular file")
    return ModelFileError(f"{path}: is {kind}, not a {what}; only regular files are read")


def read_regular(path: str | os.PathLike, what: str = "model file") -> bytes:
    """The bytes of the safetensors file ``path``, read boundedly: anything but a regular
    file (FIFOs, devices, symlinks to them) is refused at once, and the header is read
    and checked (size, JSON depth, and that it describes exactly the file's length)
    before the rest is read. ModelFileError naming the file otherwise."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such {what}") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode, what)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, opening it does
        # not wait for a writer (and the fstat below refuses it).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode, what)
        # The length field is checked before anything else is read: a file that is not
        # a model file (a data file passed in its place) is refused after 8 bytes.
        head = os.pread(fd, 8, 0)
        n = _header_length(head, st.st_size, path, what)
        described = 8 + n + _data_length(
            split(head + os.pread(fd, n, 8), path, what)[0], path, what)
        if described != st.st_size:
            raise ModelFileError(
                f"{path}: the file is {st.st_size} bytes, its header describes "
                f"{described} (truncated or padded: not a whole {what})")
        os.lseek(fd, 0, os.SEEK_SET)
        with io.FileIO(fd, "r", closefd=False) as handle:
            return handle.readall()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def _data_length(header: dict, path, what: str) -> int:
    """The tensor bytes a safetensors header describes (the largest end offset)."""
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) and o >= 0 for o in offsets)):
            raise ModelFileError(f"{path}: not a hiddenstate {what}, or corrupted (tensor "
                                 f"{name!r} has no valid data_offsets)")
        end = max(end, offsets[1])
    return end


def check_json_depth(text: bytes, path, what: str) -> None:
    """ModelFileError when the JSON ``text`` nests deeper than :data:`MAX_JSON_DEPTH`
    (before parsing it: Python's parser would recurse once per level)."""
    if text.count(b"[") + text.count(b"{") <= MAX_JSON_DEPTH:
        return
    skeleton = np.frombuffer(_STRING.sub(b'""', text), np.uint8)
    steps = ((skeleton == ord("[")) | (skeleton == ord("{"))).astype(np.int32)
    steps -= (skeleton == ord("]")) | (skeleton == ord("}"))
    depth = int(np.cumsum(steps).max()) if steps.size else 0
    if depth > MAX_JSON_DEPTH:
        raise ModelFileError(f"{path}: {what} nests {depth} levels deep, over the limit of "
                             f"{MAX_JSON_DEPTH} (MAX_JSON_DEPTH)")


def parse_json(text: bytes | str, path, what: str):
    """``json.loads`` of ``text`` after the depth check; ModelFileError if it is not JSON."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    check_json_depth(raw, path, what)
    try:
        return json.loads(raw.decode("utf-8") if isinstance(text, bytes) else text)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelFileError(f"{path}: {what} is not valid JSON (corrupted file?)") from None
    except ValueError as exc:  # an integer past Python's int-string limit (4300 digits)
        raise ModelFileError(f"{path}: {what} holds a value that cannot be read "
                             f"({str(exc).split(';')[0]})") from None


def _header_length(head: bytes, size: int, path, what: str) -> int:
    """The header length in the first 8 bytes ``head`` of a ``size``-byte file, checked
    against :data:`MAX_HEADER_BYTES` and the size; ModelFileError otherwise."""
    if len(head) < 8 or size < 8:
        raise ModelFileError(f"{path}: too short to be a {what} ({min(len(head), size)} bytes)")
    (n,) = struct.unpack("<Q", head[:8])
    if n > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"{path}: not a hiddenstate {what}, or corrupted (its header would be {n} bytes, "
            f"over the limit of {MAX_HEADER_BYTES} (MAX_HEADER_BYTES))")
    if 8 + n > size:
        raise ModelFileError(
            f"{path}: not a hiddenstate {what}, or truncated "
            f"(header says {n} bytes, the file has {size - 8} after the length field)")
    return n


def split(blob: bytes, path, what: str = "model file") -> tuple[dict, memoryview]:
    """``(header, tensor data)`` of a safetensors ``blob``, the header size and JSON
    depth bounded; ModelFileError if it cannot be a safetensors file."""
    n = _header_length(blob[:8], len(blob), path, what)
    header = parse_json(blob[8 : 8 + n], path, "the header")
    if not isinstance(header, dict):
        raise ModelFileError(f"{path}: the header is not a JSON object (corrupted file?)")
    return header, memoryview(blob)[8 + n :]


def digest(header: dict, data) -> str:
    """SHA-256 of a safetensors file but its ``__metadata__.sha256``: the header as
    canonical JSON (sorted keys), then the tensor bytes."""
    meta = dict(header.get("__metadata__") or {})
    meta.pop(DIGEST_KEY, None)
    canon = json.dumps({**header, "__metadata__": meta}, sort_keys=True,
                       separators=(",", ":"), ensure_ascii=True).encode("ascii")
    h = hashlib.sha256(b"hiddenstate sha256 v1\0")
    h.update(len(canon).to_bytes(8, "little"))
    h.update(canon)
    h.update(data)
    return h.hexdigest()


def canonical(blob: bytes) -> bytes:
    """The safetensors file ``blob`` with its header as sorted, compact JSON (padded with
    spaces to 8 bytes, as safetensors pads it). safetensors writes ``__metadata__`` in
    hash order, which changes from one save to the next; sorted, the same tensors and
    metadata always give the same bytes. The tensor bytes are safetensors' own (sorted
    by dtype, then name) and the digest, computed on canonical JSON, is unchanged."""
    header, data = split(blob, "<memory>")
    text = json.dumps(header, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + bytes(data)


def sealed(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """A safetensors file of ``tensors`` whose metadata carries its own :func:`digest`,
    written the same way every time (:func:`canonical`)."""
    from safetensors.numpy import save as st_save

    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    header, data = split(st_save(tensors, metadata=metadata), "<memory>")
    return canonical(st_save(tensors, metadata={**metadata, DIGEST_KEY: digest(header, data)}))


def verify(header: dict, data, path, *, required: bool, what: str = "model file") -> None:
    """ModelFileError unless the stored digest matches (``required``: it must be there)."""
    meta = header.get("__metadata__") or {}
    stored = meta.get(DIGEST_KEY)
    if stored is None:
        if required:
            raise ModelFileError(f"{path}: the {what} holds no {DIGEST_KEY} digest "
                                 "(corrupted file?)")
        return
    if not isinstance(stored, str) or stored != digest(header, data):
        raise ModelFileError(
            f"{path}: corrupted {what}: its content does not match the SHA-256 digest "
            "stored when it was written (a changed bit, a partial copy or an edit)")


def load_tensors(blob: bytes, path, what: str = "model file") -> dict[str, np.ndarray]:
    from safetensors.numpy import load as st_load

    try:
        return st_load(blob)
    except Exception as exc:  # safetensors raises its own error types
        raise ModelFileError(f"{path}: corrupted tensor data in the {what} ({exc})") from None


# -- model files -------------------------------------------------------------------------------


def save(
    path: str | os.PathLike, cls_name: str, config: dict[str, Any], tensors: dict[str, np.ndarray]
) -> None:
    """Write a model file atomically (temporary file, fsync, rename), with its digest."""
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "library_version": _library_version(),
        "class": cls_name,
        "config": json.dumps(config, sort_keys=True),
    }
    atomic_write_bytes(path, sealed(tensors, metadata))


def read(path: str | os.PathLike) -> tuple[str, dict[str, Any], dict[str, np.ndarray]]:
    """Read and validate a model file: ``(class name, config, tensors)``."""
    path = Path(path)
    blob = read_regular(path)
    header, data = split(blob, path)
    meta = header.get("__metadata__")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a hiddenstate model file (no hiddenstate header)")
    version = meta.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ModelFileError(
            f"{path}: model file format version {version!r} is not supported by "
            f"hiddenstate {_library_version()} (it reads versions "
            f"{', '.join(READABLE_VERSIONS)}); "
            f"the file was written by hiddenstate {meta.get('library_version', '?')}"
        )
    verify(header, data, path, required=version != "1")
    cls_name = meta.get("class")
    class_for(cls_name, path=path)
    if not isinstance(meta.get("config"), str):
        raise ModelFileError(f"{path}: the model settings are missing")
    config = parse_json(meta["config"], path, "the model settings")
    if not isinstance(config, dict):
        raise ModelFileError(f"{path}: the model settings are not a JSON object")
    return cls_name, config, load_tensors(blob, path)


def load(path: str | os.PathLike):
    """Load any hiddenstate estimator saved with ``.save(path)``.

    Raises
    ------
    ModelFileError
        Missing, truncated, corrupted or foreign file, unknown format version,
        or tensors that do not match the stored settings.
    """
    cls_name, config, tensors = read(path)
    cls = class_for(cls_name, path=path)
    try:
        return cls._from_file(config, tensors, path=path)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ModelFileError(f"{path}: invalid model settings ({exc})") from None
