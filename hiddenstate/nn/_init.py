"""Named weight initialisers: pure functions ``(key, shape, dtype=float32) -> array``.

Weights are stored ``(n_in, n_out)`` and applied as ``x @ W``.

The key decides where the numbers are drawn, with the same formula:

- a JAX PRNG key: with :mod:`jax.random`, in ``dtype``; traceable, so a model built
  from them can be created inside ``jax.jit`` (the dense autoencoder is, in one
  compiled call);
- a :class:`numpy.random.Generator` (see :func:`host_rng`): with NumPy on the host,
  in float64 rounded to ``dtype`` once at the end. The recurrent cells draw this
  way: compiling JAX's random-bit generator, SVD and QR for a model's first fit
  took longer (about 1 s on 2 cores) than a small recurrent network's whole
  training run.

The two draw different numbers from the same seed; each is reproducible. Draw each
matrix from its own generator (``Generator.spawn``), as a JAX key is split.
"""

from __future__ import annotations

import math
from types import ModuleType

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, PRNGKeyArray

__all__ = ["glorot_uniform", "normal", "seed_normal", "uniform_spectral", "orthogonal",
           "host_rng"]

Key = PRNGKeyArray | np.random.Generator


def _on_host(key: Key) -> bool:
    return isinstance(key, np.random.Generator)


def _xp(key: Key) -> ModuleType:
    return np if _on_host(key) else jnp


def _uniform(key: Key, shape, low: float, high: float, dtype):
    if _on_host(key):
        return key.uniform(low, high, shape)
    return jax.random.uniform(key, shape, dtype, low, high)


def _standard_normal(key: Key, shape, dtype):
    if _on_host(key):
        return key.standard_normal(shape)
    return jax.random.normal(key, shape, dtype)


def glorot_uniform(key: Key, shape: tuple[int, int], dtype=jnp.float32, *,
                   gain: float = 1.0) -> Array:
    """Uniform(-a, a) with ``a = gain * sqrt(6 / (n_in + n_out))``.

    Glorot & Bengio (2010), eq. 16. The Theano deep-learning tutorials (seed
    003) use ``gain=4`` for sigmoid units.
    """
    n_in, n_out = shape
    bound = gain * math.sqrt(6.0 / max(n_in + n_out, 1))
    return _uniform(key, shape, -bound, bound, dtype).astype(dtype)


def normal(key: Key, shape: tuple[int, ...], dtype=jnp.float32, *, std: float = 1.0) -> Array:
    """Normal(0, std**2). Seed 004 uses ``std = 1/sqrt(6)`` for the donut autoencoder."""
    return (std * _standard_normal(key, shape, dtype)).astype(dtype)


def seed_normal(key: Key, shape: tuple[int, ...], dtype=jnp.float32) -> Array:
    """N(0, 1) / sqrt(sum(shape)): seed 000's ``initial_weights`` (WORKLOADS.md W5).

    For a matrix this is ``N(0,1)/sqrt(fan_in + fan_out)``; vectors (biases,
    the learned h0) use ``1/sqrt(size)``.
    """
    if _shared_draw(key, dtype):
        return _scaled_normal(key, shape, dtype, math.sqrt(sum(shape)))
    return (_standard_normal(key, shape, dtype) / math.sqrt(sum(shape))).astype(dtype)


#: The smallest flat draw of :func:`_scaled_normal`: one compiled program serves every
#: parameter of up to this many numbers.
_MIN_DRAW = 4096


def _shared_draw(key: Key, dtype=jnp.float32) -> bool:
    """Whether a float32 draw with ``key`` can be a slice of a longer flat draw, bit for
    bit: a concrete threefry key (not a tracer) under ``jax_threefry_partitionable``,
    where number ``i`` of a draw comes from the counter ``i`` whatever the draw's shape.
    (Other dtypes, checked less, draw their shape as before.)"""
    if jnp.dtype(dtype) != jnp.float32 or _on_host(key) or isinstance(key, jax.core.Tracer):
        return False
    try:
        impl = str(jax.random.key_impl(key))
    except (TypeError, ValueError):
        return False
    return bool(jax.config.jax_threefry_partitionable) and impl == "threefry2x32" and \
        jnp.shape(key) == (() if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key)
                           else (2,))


def _scaled_normal(key: Key, shape: tuple[int, ...], dtype, scale: float) -> Array:
    """``jax.random.normal(key, shape, dtype) / scale`` bit for bit, from two compiled
    programs per power-of-two size (at least :data:`_MIN_DRAW`) instead of two per
    shape: the first ``prod(shape)`` numbers of a flat draw divided by ``scale`` (the
    division as its own eager operation, as before: compiled into the draw, XLA
    rearranges the arithmetic and rounds some numbers differently)."""
    size = math.prod(shape)
    flat = jax.random.normal(key, (max(_MIN_DRAW, 1 << max(size - 1, 0).bit_length()),), dtype)
    return jax.device_put(np.asarray(flat / scale)[:size].reshape(shape))


def uniform_spectral(key: Key, shape: tuple[int, int], dtype=jnp.float32) -> Array:
    """Uniform(-1, 1) divided by its largest singular value (seed 002's initialiser).

    The result has spectral norm 1, so a recurrent matrix neither blows up nor
    kills the state at the start of training.
    """
    w = _uniform(key, shape, -1.0, 1.0, dtype)
    if w.size:
        w = w / _xp(key).linalg.norm(w, 2)
    return w.astype(dtype)


def orthogonal(key: Key, shape: tuple[int, int], dtype=jnp.float32) -> Array:
    """A matrix with orthonormal rows or columns: Q of the QR of a Gaussian draw.

    The signs of Q's columns follow R's diagonal, so Q is uniform over the
    orthogonal group (Mezzadri 2007). Orthogonal recurrent matrices keep the
    state's norm at the start of training (Saxe et al. 2014).
    """
    xp = _xp(key)
    n_rows, n_cols = shape
    a = _standard_normal(key, (max(n_rows, n_cols), min(n_rows, n_cols)), dtype)
    q, r = xp.linalg.qr(a)
    q = q * xp.sign(xp.diag(r))
    if n_rows < n_cols:
        q = q.T
    return q[:n_rows, :n_cols].astype(dtype)


def host_rng(key: Key) -> np.random.Generator:
    """A NumPy generator seeded from a JAX PRNG key (a generator passes through).

    Outside ``jax.jit`` only: the key's value must be known.
    """
    if isinstance(key, np.random.Generator):
        return key
    if isinstance(key, jax.core.Tracer):
        raise TypeError("recurrent cells draw their initial weights on the host: create them "
                        "outside jax.jit (a concrete key or a numpy Generator)")
    key = jnp.asarray(key) if not hasattr(key, "dtype") else key
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return np.random.default_rng(np.asarray(key, np.uint32).ravel().tolist())
