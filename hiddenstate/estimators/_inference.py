"""The one inference helper: compiled functions over row chunks and length buckets.

Inputs are cut into chunks of at most ``chunk`` rows, each padded to a power of
two rows (at least ``min_rows``), and, for sequences, grouped into power-of-two
length buckets (at least ``min_length`` steps): whatever the input sizes, a
compiled function sees a bounded number of shapes, so inference compiles a
bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["apply_batched", "pow2", "pad_rows"]


def pow2(n: int, lo: int = 1, hi: int | None = None) -> int:
    """The smallest power of two ``>= n``, clipped to ``[lo, hi]``."""
    size = max(int(lo), 1 << (max(int(n), 1) - 1).bit_length())
    return size if hi is None else min(size, int(hi))


def pad_rows(a: np.ndarray, size: int) -> np.ndarray:
    """``a`` with zero rows appended up to ``size`` rows."""
    if a.shape[0] == size:
        return a
    return np.concatenate([a, np.zeros((size - a.shape[0], *a.shape[1:]), a.dtype)])


def apply_batched(fn: Callable, n: int, make_batch: Callable, *,
                  lengths: Sequence[int] | np.ndarray | None = None, chunk: int = 256,
                  min_rows: int = 8, min_length: int = 8, ragged: bool = False):
    """Apply ``fn(*make_batch(rows, size, L))`` to all ``n`` items.

    ``make_batch(rows, size, L)`` returns the arrays of the items ``rows``
    padded to ``size`` rows and (with ``lengths``) ``L`` steps; ``fn`` returns a
    pytree of arrays with a leading row axis. The result: that pytree with ``n``
    rows in the input order (NumPy), or, with ``ragged`` (trailing shapes that
    depend on the bucket), a list of one pytree per item.
    """
    import jax

    if lengths is None:
        groups = [(None, np.arange(n))]
    else:
        buckets = np.array([pow2(k, min_length) for k in lengths], dtype=np.int64)
        groups = [(int(L), np.flatnonzero(buckets == L)) for L in np.unique(buckets)]
    out = [None] * n if ragged else None
    for L, idx in groups:
        for start in range(0, idx.size, chunk):
            part = idx[start : start + chunk]
            size = pow2(part.size, min_rows, chunk)
            res = jax.tree.map(np.asarray, fn(*make_batch(part, size, L)))
            if ragged:
                for j, i in enumerate(part):
                    out[i] = jax.tree.map(lambda a, j=j: a[j], res)
                continue
            if out is None:
                out = jax.tree.map(lambda a: np.zeros((n, *a.shape[1:]), a.dtype), res)

            def put(dst, src, part=part):
                dst[part] = src[: part.size]

            jax.tree.map(put, out, res)
    return out
