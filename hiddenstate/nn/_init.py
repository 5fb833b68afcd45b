"""Named weight initialisers: pure functions ``(key, shape, dtype) -> array``.

Weights are stored ``(n_in, n_out)`` and applied as ``x @ W``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

__all__ = ["glorot_uniform", "normal", "uniform_spectral", "zeros", "get_initializer", "host_rng",
           "host_glorot_uniform", "host_uniform_spectral", "host_orthogonal"]


def glorot_uniform(
    key: PRNGKeyArray, shape: tuple[int, int], dtype=jnp.float32, *, gain: float = 1.0
) -> Array:
    """Uniform(-a, a) with ``a = gain * sqrt(6 / (n_in + n_out))``.

    Glorot & Bengio (2010), eq. 16. The Theano deep-learning tutorials (seed
    003) use ``gain=4`` for sigmoid units.
    """
    n_in, n_out = shape
    bound = gain * math.sqrt(6.0 / (n_in + n_out))
    return jax.random.uniform(key, shape, dtype, -bound, bound)


def normal(
    key: PRNGKeyArray, shape: tuple[int, ...], dtype=jnp.float32, *, std: float = 1.0
) -> Array:
    """Normal(0, std**2). Seed 004 uses ``std = 1/sqrt(6)`` for the donut autoencoder."""
    return std * jax.random.normal(key, shape, dtype)


def uniform_spectral(key: PRNGKeyArray, shape: tuple[int, int], dtype=jnp.float32) -> Array:
    """Uniform(-1, 1) divided by its largest singular value (seed 002's initialiser).

    The result has spectral norm 1, so a recurrent matrix neither blows up nor
    kills the state at the start of training.
    """
    w = jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)
    return (w / jnp.linalg.norm(w, ord=2)).astype(dtype)


def zeros(key: PRNGKeyArray, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    """All zeros (biases)."""
    del key
    return jnp.zeros(shape, dtype)


# -- on the host -------------------------------------------------------------------------------
# Recurrent cells draw their weights with NumPy: compiling JAX's random-bit generator,
# SVD and QR for a model's first fit took longer (about 1 s on 2 cores) than a small
# recurrent network's whole training run.


def host_rng(key) -> np.random.Generator:
    """A NumPy generator seeded from a JAX PRNG key (a generator passes through)."""
    if isinstance(key, np.random.Generator):
        return key
    if isinstance(key, jax.core.Tracer):
        raise TypeError("recurrent cells draw their initial weights on the host: create them "
                        "outside jax.jit (a concrete key or a numpy Generator)")
    key = jnp.asarray(key) if not hasattr(key, "dtype") else key
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, np.uint32).ravel().tolist())


def host_glorot_uniform(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """:func:`glorot_uniform` drawn with NumPy."""
    n_in, n_out = shape
    bound = math.sqrt(6.0 / max(n_in + n_out, 1))
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def host_uniform_spectral(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """:func:`uniform_spectral` drawn with NumPy (largest singular value 1)."""
    w = rng.uniform(-1.0, 1.0, shape)
    if w.size:
        w = w / np.linalg.norm(w, 2)
    return w.astype(np.float32)


def host_orthogonal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """An orthogonal matrix (QR of a Gaussian draw, signs fixed by R's diagonal)."""
    n_rows, n_cols = shape
    a = rng.standard_normal((max(n_rows, n_cols), min(n_rows, n_cols)))
    q, r = np.linalg.qr(a)
    q = q * np.sign(np.diag(r))
    if n_rows < n_cols:
        q = q.T
    return q[:n_rows, :n_cols].astype(np.float32)


_INITIALIZERS = {
    "glorot_uniform": glorot_uniform,
    "normal": normal,
    "uniform_spectral": uniform_spectral,
    "zeros": zeros,
}


def get_initializer(name: str):
    """Look an initialiser up by name; the error lists the valid names."""
    try:
        return _INITIALIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown initialiser {name!r}; valid: {', '.join(sorted(_INITIALIZERS))}"
        ) from None
