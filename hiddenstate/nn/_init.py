"""Named weight initialisers: pure functions ``(key, shape, dtype) -> array``.

Weights are stored ``(n_in, n_out)`` and applied as ``x @ W``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, PRNGKeyArray

__all__ = ["glorot_uniform", "normal", "uniform_spectral", "zeros", "get_initializer"]


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
