"""Recurrent cells with the scan signature ``cell(h, x) -> (h, y)``.

One example in, one out: ``x`` is ``(n_in,)``; ``jax.lax.scan`` runs time and
``jax.vmap`` adds a batch. Weights are stored ``(n_in, n_out)`` and applied as
``x @ W``. Each cell's initial state is a learned field.

Initial weights are drawn on the host with NumPy from a generator seeded by the
``key`` (a JAX key or a ``numpy.random.Generator``), so creating a cell compiles
nothing; create cells outside ``jax.jit``.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._activations import activation as get_activation
from ._init import host_glorot_uniform, host_orthogonal, host_rng, host_uniform_spectral

__all__ = ["ElmanCell", "LSTMCell", "LSTMState", "GRUCell", "CELLS", "make_cell"]


def _weights(rng, shape, init: str):
    if init == "seed":
        return host_uniform_spectral(rng, shape)
    if init == "glorot_uniform":
        return host_glorot_uniform(rng, shape)
    raise ValueError(f"unknown init {init!r}; valid: glorot_uniform, seed")


def _recurrent(rng, shape, init: str):
    if init == "seed":
        return host_uniform_spectral(rng, shape)
    # Orthogonal recurrent matrices keep the state's norm at the start of training
    # (Saxe et al. 2014).
    return host_orthogonal(rng, shape)


def _split(key, n: int):
    return host_rng(key).spawn(n)


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n, np.float32)


class ElmanCell(eqx.Module):
    r"""Elman (simple recurrent) cell, as in seed 002.

    .. math:: h_t = f(x_t W + h_{t-1} U + b), \qquad y_t = h_t

    ``f`` is tanh (default) or relu.
    """

    W: Float[Array, "n_in hidden"]
    U: Float[Array, "hidden hidden"]
    b: Float[Array, " hidden"]
    h0: Float[Array, " hidden"]
    activation: str = eqx.field(static=True)

    def __init__(self, n_in: int, hidden: int, *, key: PRNGKeyArray, activation: str = "tanh",
                 init: str = "glorot_uniform"):
        k1, k2 = _split(key, 2)
        get_activation(activation)
        self.W = jax.device_put(_weights(k1, (n_in, hidden), init))
        self.U = jax.device_put(_recurrent(k2, (hidden, hidden), init))
        self.b = jax.device_put(_zeros(hidden))
        self.h0 = jax.device_put(_zeros(hidden))
        self.activation = activation

    def initial_state(self):
        return self.h0

    def __call__(self, h, x):
        h = get_activation(self.activation)(x @ self.W + h @ self.U + self.b)
        return h, h


class LSTMState(NamedTuple):
    """Hidden output ``h`` and memory cell ``c`` of an LSTM."""

    h: Array
    c: Array


class LSTMCell(eqx.Module):
    r"""LSTM with a forget gate (Gers et al. 2000).

    .. math::
        [i, f, g, o] = x_t W + h_{t-1} U + b, \quad
        c_t = \sigma(f) c_{t-1} + \sigma(i) \tanh(g), \quad
        h_t = \sigma(o) \tanh(c_t)

    The forget gate's bias starts at ``forget_bias`` (1 by default: remember
    until learned otherwise, Jozefowicz et al. 2015).
    """

    W: Float[Array, "n_in four_hidden"]
    U: Float[Array, "hidden four_hidden"]
    b: Float[Array, " four_hidden"]
    h0: Float[Array, " hidden"]
    c0: Float[Array, " hidden"]

    def __init__(self, n_in: int, hidden: int, *, key: PRNGKeyArray, forget_bias: float = 1.0,
                 init: str = "glorot_uniform"):
        k1, k2 = _split(key, 2)
        self.W = jax.device_put(np.concatenate(
            [_weights(k, (n_in, hidden), init) for k in k1.spawn(4)], axis=1))
        self.U = jax.device_put(np.concatenate(
            [_recurrent(k, (hidden, hidden), init) for k in k2.spawn(4)], axis=1))
        b = _zeros(4 * hidden)
        b[hidden : 2 * hidden] = forget_bias
        self.b = jax.device_put(b)
        self.h0 = jax.device_put(_zeros(hidden))
        self.c0 = jax.device_put(_zeros(hidden))

    def initial_state(self):
        return LSTMState(self.h0, self.c0)

    def __call__(self, state: LSTMState, x):
        z = x @ self.W + state.h @ self.U + self.b
        i, f, g, o = jnp.split(z, 4)
        c = jax.nn.sigmoid(f) * state.c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return LSTMState(h, c), h


class GRUCell(eqx.Module):
    r"""Gated recurrent unit (Cho et al. 2014).

    .. math::
        r = \sigma(x W_r + h U_r + b_r),\ z = \sigma(x W_z + h U_z + b_z),\
        n = \tanh(x W_n + r (h U_n) + b_n),\ h_t = (1 - z) n + z h_{t-1}
    """

    W: Float[Array, "n_in three_hidden"]
    U: Float[Array, "hidden three_hidden"]
    b: Float[Array, " three_hidden"]
    h0: Float[Array, " hidden"]

    def __init__(self, n_in: int, hidden: int, *, key: PRNGKeyArray,
                 init: str = "glorot_uniform"):
        k1, k2 = _split(key, 2)
        self.W = jax.device_put(np.concatenate(
            [_weights(k, (n_in, hidden), init) for k in k1.spawn(3)], axis=1))
        self.U = jax.device_put(np.concatenate(
            [_recurrent(k, (hidden, hidden), init) for k in k2.spawn(3)], axis=1))
        self.b = jax.device_put(_zeros(3 * hidden))
        self.h0 = jax.device_put(_zeros(hidden))

    def initial_state(self):
        return self.h0

    def __call__(self, h, x):
        hid = h.shape[-1]
        xw = x @ self.W + self.b
        hu = h @ self.U
        r = jax.nn.sigmoid(xw[:hid] + hu[:hid])
        z = jax.nn.sigmoid(xw[hid : 2 * hid] + hu[hid : 2 * hid])
        n = jnp.tanh(xw[2 * hid :] + r * hu[2 * hid :])
        h = (1.0 - z) * n + z * h
        return h, h


CELLS = ("elman", "lstm", "gru")


def make_cell(kind: str, n_in: int, hidden: int, *, key, init: str = "glorot_uniform",
              forget_bias: float = 1.0, activation: str = "tanh"):
    """A cell by name (``elman``, ``lstm``, ``gru``)."""
    if kind == "elman":
        return ElmanCell(n_in, hidden, key=key, activation=activation, init=init)
    if kind == "lstm":
        return LSTMCell(n_in, hidden, key=key, forget_bias=forget_bias, init=init)
    if kind == "gru":
        return GRUCell(n_in, hidden, key=key, init=init)
    raise ValueError(f"unknown cell {kind!r}; valid: {', '.join(CELLS)}")
