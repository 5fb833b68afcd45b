"""Recurrent cells with the scan signature ``cell(h, x) -> (h, y)``.

One example in, one out: ``x`` is ``(n_in,)``; ``jax.lax.scan`` runs time and
``jax.vmap`` adds a batch. Weights are stored ``(n_in, n_out)`` and applied as
``x @ W``. Each cell's initial state is a learned field.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._activations import activation as get_activation
from ._init import glorot_uniform, uniform_spectral

__all__ = ["ElmanCell", "LSTMCell", "LSTMState", "GRUCell", "CELLS", "make_cell"]


def _weights(key, shape, init: str):
    if init == "seed":
        return uniform_spectral(key, shape)
    if init == "glorot_uniform":
        return glorot_uniform(key, shape)
    raise ValueError(f"unknown init {init!r}; valid: glorot_uniform, seed")


def _recurrent(key, shape, init: str):
    if init == "seed":
        return uniform_spectral(key, shape)
    # Orthogonal recurrent matrices keep the state's norm at the start of training
    # (Saxe et al. 2014).
    return jax.nn.initializers.orthogonal()(key, shape, jnp.float32)


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
        k1, k2 = jax.random.split(key)
        get_activation(activation)
        self.W = _weights(k1, (n_in, hidden), init)
        self.U = _recurrent(k2, (hidden, hidden), init)
        self.b = jnp.zeros(hidden)
        self.h0 = jnp.zeros(hidden)
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
        k1, k2 = jax.random.split(key)
        self.W = jnp.concatenate(
            [_weights(k, (n_in, hidden), init) for k in jax.random.split(k1, 4)], axis=1)
        self.U = jnp.concatenate(
            [_recurrent(k, (hidden, hidden), init) for k in jax.random.split(k2, 4)], axis=1)
        self.b = jnp.zeros(4 * hidden).at[hidden : 2 * hidden].set(forget_bias)
        self.h0 = jnp.zeros(hidden)
        self.c0 = jnp.zeros(hidden)

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
        k1, k2 = jax.random.split(key)
        self.W = jnp.concatenate(
            [_weights(k, (n_in, hidden), init) for k in jax.random.split(k1, 3)], axis=1)
        self.U = jnp.concatenate(
            [_recurrent(k, (hidden, hidden), init) for k in jax.random.split(k2, 3)], axis=1)
        self.b = jnp.zeros(3 * hidden)
        self.h0 = jnp.zeros(hidden)

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
