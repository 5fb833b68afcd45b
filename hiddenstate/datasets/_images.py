"""Image data: scikit-learn's bundled digits and MNIST's IDX files (W2)."""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np
from jaxtyping import Float, Int, Shaped

from .._errors import InputError

__all__ = ["load_digits", "load_mnist", "read_idx"]

_GZIP_MAGIC = b"\x1f\x8b"

# IDX type byte -> big-endian dtype (LeCun's format description).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_KINDS = {"t10k": "t10k", "test": "t10k", "train": "train"}


def load_digits() -> tuple[Float[np.ndarray, "1797 64"], Int[np.ndarray, " 1797"]]:
    """Scikit-learn's bundled 8x8 digits, scaled to ``[0, 1]`` (W2, quality A).

    Returns
    -------
    X : ndarray of float32, shape (1797, 64)
        ``sklearn.datasets.load_digits().data / 16``.
    y : ndarray of int64, shape (1797,)
        The digit, 0-9.
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    X = (np.asarray(bunch.data, dtype=np.float64) / 16.0).astype(np.float32)
    return X, np.asarray(bunch.target, dtype=np.int64)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"corrupt or truncated gzip data: {exc}", path=path) from None
    return raw


def read_idx(path: str | os.PathLike) -> Shaped[np.ndarray, "..."]:
    """Read one IDX file (the MNIST format), gzip-compressed or not.

    The header is two zero bytes, a type byte (``0x08`` uint8, ``0x09`` int8,
    ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the
    number of dimensions ``d``, then ``d`` big-endian uint32 sizes; the data
    follow, big-endian, row-major. Compression is recognised by the gzip magic
    bytes, not by the file name.

    Parameters
    ----------
    path : str or PathLike

    Returns
    -------
    ndarray, shape given by the header
        In native byte order, writable.

    Raises
    ------
    InputError
        Missing or unreadable file, bad magic number, unknown type byte, or a
        size that does not match the header (truncated or with trailing bytes).
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise InputError(
            f"not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number", path=path
        )
    zero0, zero1, code, ndim = data[:4]
    if zero0 != 0 or zero1 != 0:
        raise InputError(
            f"not an IDX file: magic number 0x{data[:4].hex()} does not start with two zero bytes",
            path=path,
        )
    if code not in _IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise InputError(
            f"not an IDX file: unknown type byte 0x{code:02X} (known: {known})", path=path
        )
    dtype = _IDX_DTYPES[code]
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise InputError(
            f"truncated IDX header: expected {header_size} bytes for {ndim} dimensions, "
            f"found {len(data)}",
            path=path,
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "trailing bytes after the data"
        raise InputError(
            f"{what}: header says shape {shape} of {dtype.newbyteorder('=').name}, "
            f"so expected {expected} bytes, found {len(data)}",
            path=path,
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _mnist_names(kind: str, part: str) -> list[str]:
    idx = "idx3" if part == "images" else "idx1"
    stems = [f"{kind}-{part}-{idx}-ubyte", f"{kind}-{part}.{idx}-ubyte"]
    return [name for stem in stems for name in (stem, stem + ".gz")]


def _first_existing(directory: Path, names: list[str]) -> Path | None:
    for name in names:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _labels_beside(images: Path) -> Path | None:
    name = images.name
    if "images" not in name:
        return None
    labels = name.replace("images", "labels").replace("idx3", "idx1")
    base = labels[:-3] if labels.endswith(".gz") else labels
    return _first_existing(images.parent, [base, base + ".gz"])


def load_mnist(
    path: str | os.PathLike,
    kind: str = "t10k",
    *,
    flatten: bool = True,
    scale: bool = True,
) -> tuple[Shaped[np.ndarray, "n ..."], Int[np.ndarray, " n"] | None]:
    """Load MNIST images (and labels) from IDX files.

    Parameters
    ----------
    path : str or PathLike
        Either a directory holding ``{kind}-images-idx3-ubyte`` and
        ``{kind}-labels-idx1-ubyte`` (each optionally ``.gz``; the
        ``{kind}-images.idx3-ubyte`` spelling is accepted too), or the images
        file itself, in which case the labels file is looked up beside it and
        is optional.
    kind : {"t10k", "test", "train"}, default "t10k"
        Which split to look for in a directory (``"test"`` means ``"t10k"``).
        Ignored when ``path`` is a file.
    flatten : bool, default True
        Return images as rows of ``28 * 28 = 784`` pixels.
    scale : bool, default True
        Return float32 pixels in ``[0, 1]`` (``/ 255``); otherwise the raw uint8.

    Returns
    -------
    X : ndarray, shape (n, 784) if ``flatten`` else (n, 28, 28)
        float32 in ``[0, 1]`` if ``scale`` else uint8.
    y : ndarray of int64, shape (n,), or None
        The digit labels; None only when ``path`` is an images file with no
        labels file beside it.

    Raises
    ------
    InputError
        Missing files (the message lists the names looked for), malformed IDX
        data, images that are not a 3-D uint8 array, or a label count that
        differs from the image count.
    """
    path = Path(path)
    if path.is_dir():
        key = str(kind).lower()
        if key not in _KINDS:
            raise InputError(f"unknown MNIST kind {kind!r}; expected one of {sorted(_KINDS)}")
        kind = _KINDS[key]
        image_names = _mnist_names(kind, "images")
        label_names = _mnist_names(kind, "labels")
        images_path = _first_existing(path, image_names)
        labels_path = _first_existing(path, label_names)
        missing = [
            names
            for names, found in ((image_names, images_path), (label_names, labels_path))
            if found is None
        ]
        if missing:
            looked = ", ".join(name for names in missing for name in names)
            raise InputError(f"MNIST files not found; looked for {looked}", path=path)
    elif path.is_file():
        images_path, labels_path = path, _labels_beside(path)
    else:
        raise InputError(
            "no such file or directory (give the MNIST folder or its images file)", path=path
        )

    images = read_idx(images_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise InputError(
            f"expected MNIST images (3-D unsigned bytes, n x rows x columns), "
            f"found shape {images.shape} of {images.dtype}",
            path=images_path,
        )
    labels = None
    if labels_path is not None:
        raw_labels = read_idx(labels_path)
        if raw_labels.ndim != 1 or raw_labels.dtype.kind not in "iu":
            raise InputError(
                f"expected MNIST labels (1-D integers), found shape {raw_labels.shape} "
                f"of {raw_labels.dtype}",
                path=labels_path,
            )
        if raw_labels.shape[0] != images.shape[0]:
            raise InputError(
                f"{raw_labels.shape[0]} labels for {images.shape[0]} images in {images_path}",
                path=labels_path,
            )
        labels = raw_labels.astype(np.int64)

    X = images.reshape(images.shape[0], -1) if flatten else images
    if scale:
        X = X.astype(np.float32) / np.float32(255.0)
    return X, labels
