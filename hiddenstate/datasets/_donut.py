"""The donut: two noisy rings in 4-D that a 2-unit autoencoder can flatten (W1, seed 004)."""

from __future__ import annotations

import numbers

import numpy as np
from jaxtyping import Float, Int

__all__ = ["make_donut", "as_generator"]

DONUT_SEED = 147


def as_generator(rng: np.random.Generator | int | None, default_seed: int) -> np.random.Generator:
    """Turn ``rng`` into a ``numpy.random.Generator``.

    ``None`` gives ``default_rng(default_seed)`` (so the default data set is
    always the same), an int gives ``default_rng(rng)``, a Generator is used
    as it is (and advanced).
    """
    if rng is None:
        return np.random.default_rng(default_seed)
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy.random.Generator, an int seed or None, not {type(rng).__name__}"
    )


def _minmax(X: np.ndarray) -> np.ndarray:
    lo = X.min(axis=0)
    span = X.max(axis=0) - lo
    # A constant column (one sample) maps to 0 instead of 0/0.
    return (X - lo) / np.where(span > 0, span, 1.0)


def make_donut(
    n_samples: int = 1000,
    *,
    rng: np.random.Generator | int | None = None,
    scale: bool = True,
) -> tuple[Float[np.ndarray, "n 4"], Int[np.ndarray, " n"]]:
    r"""Two concentric noisy rings embedded in 4-D, exactly as recipe W1.

    With ``N = n_samples`` the draws are, in this order: radius noise
    ``rng.normal(0, 1, N)``, angle ``a = rng.uniform(0, 2*pi, N)``, and two
    feature noises ``e3, e4 = rng.normal(0, 0.5, N)`` each. The first
    ``N // 2`` rows are the inner ring (``r = 5``, label 0), the rest the outer
    ring (``r = 10``, label 1); then ``r`` gets the radius noise and

    .. math::

        x_1 = r\cos a,\quad x_2 = r\sin a,\quad x_3 = 2x_1 + e_3,\quad
        x_4 = -\tfrac12 x_2 + e_4 .

    Computed in float64, min-max scaled per column to ``[0, 1]`` when
    ``scale``, then cast to float32.

    Parameters
    ----------
    n_samples : int, default 1000
        Number of rows ``N``.
    rng : numpy.random.Generator, int or None
        Source of randomness; ``None`` means ``default_rng(147)`` (W1's data),
        an int means ``default_rng(rng)``.
    scale : bool, default True
        Min-max scale every column to ``[0, 1]``.

    Returns
    -------
    X : ndarray of float32, shape (N, 4)
    y : ndarray of int64, shape (N,)
        0 for the inner ring, 1 for the outer ring.
    """
    if not isinstance(n_samples, numbers.Integral) or isinstance(n_samples, bool) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    n = int(n_samples)
    gen = as_generator(rng, DONUT_SEED)
    radius_noise = gen.normal(0.0, 1.0, n)
    angle = gen.uniform(0.0, 2.0 * np.pi, n)
    noise3 = gen.normal(0.0, 0.5, n)
    noise4 = gen.normal(0.0, 0.5, n)

    n_inner = n // 2
    y = np.zeros(n, dtype=np.int64)
    y[n_inner:] = 1
    r = np.where(y == 0, 5.0, 10.0) + radius_noise
    x1 = r * np.cos(angle)
    x2 = r * np.sin(angle)
    x3 = 2.0 * x1 + noise3
    x4 = -0.5 * x2 + noise4
    X = np.stack([x1, x2, x3, x4], axis=1)
    if scale:
        X = _minmax(X)
    return X.astype(np.float32), y
