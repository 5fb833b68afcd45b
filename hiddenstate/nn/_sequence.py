"""A stack of recurrent cells with a linear readout: sequences (or token ids) in, per-step
outputs out."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._cells import RecurrentCell, cell_init, make_cell
from ._classifier import embedding_init
from ._init import host_rng

__all__ = ["SequenceNet"]


class SequenceNet(eqx.Module):
    r"""Stacked recurrent cells and a linear readout applied at every step.

    .. math:: h^{(l)}_t = \mathrm{cell}_l(h^{(l)}_{t-1}, h^{(l-1)}_t), \qquad
              z_t = h^{(L)}_t V + c

    ``z_t`` are logits (sigmoid or softmax outputs) or values (linear).
    One sequence in: ``xs`` is ``(T, n_in)``, the result ``(T, n_out)``. With
    ``n_tokens`` the network reads token ids instead: ``xs`` is ``(T,)`` int and
    the first layer reads their rows of the learned ``embedding``
    ``(n_tokens, n_in)`` (:math:`h^{(0)}_t = E_{x_t}`, drawn by
    :func:`~hiddenstate.nn.embedding_init`).
    ``cell`` is any name in :data:`~hiddenstate.nn.CELLS`; ``forget_bias`` and
    ``activation`` reach the cells that take them (see :func:`make_cell`), and
    ``init`` also draws the readout ``V``. Weights are drawn on the host (see
    :mod:`hiddenstate.nn._cells`): create the network outside ``jax.jit``.

    With ``lags`` :math:`p > 0`, a linear autoregressive path beside the recurrence
    (LSTNet's highway, Lai et al. 2018):
    :math:`z_t = h^{(L)}_t V + c + [x_t, x_{t-1}, \dots, x_{t-p+1}] A`, ``A``
    ``(p n_in, n_out)`` initialised to zero (the estimator sets it by least squares);
    steps before the sequence's start count as zeros. :meth:`step`'s state then
    carries the last ``p`` inputs.
    """

    cells: tuple[RecurrentCell, ...]
    V: Float[Array, "hidden n_out"]
    c: Float[Array, " n_out"]
    embedding: Float[Array, "n_tokens n_in"] | None
    A: Float[Array, "lags_n_in n_out"] | None
    lags: int = eqx.field(static=True, default=0)

    def __init__(self, n_in: int, hidden: int, n_out: int, *, key: PRNGKeyArray,
                 cell: str = "lstm", num_layers: int = 1, init: str = "glorot_uniform",
                 forget_bias: float = 1.0, activation: str = "tanh",
                 n_tokens: int | None = None, lags: int = 0):
        rng = host_rng(key)
        keys = rng.spawn(num_layers + 1)
        self.cells = tuple(
            make_cell(cell, n_in if i == 0 else hidden, hidden, key=keys[i], init=init,
                      forget_bias=forget_bias, activation=activation)
            for i in range(num_layers)
        )
        readout_init, _ = cell_init(init)
        self.V = jax.device_put(readout_init(keys[-1], (hidden, n_out)))
        self.c = jax.device_put(np.zeros(n_out, np.float32))
        # Drawn after the other weights (a later spawn), so networks without an embedding
        # get exactly the weights they always had.
        self.embedding = (None if n_tokens is None else
                          jax.device_put(embedding_init(rng.spawn(1)[0], int(n_tokens), n_in)))
        self.lags = int(lags)
        self.A = (None if not self.lags else
                  jax.device_put(np.zeros((self.lags * n_in, n_out), np.float32)))

    def inputs(self, xs: Array) -> Float[Array, "... n_in"]:
        """The first layer's inputs: the embedded ids, or ``xs`` itself."""
        return xs if self.embedding is None else self.embedding[xs]

    def initial_state(self) -> tuple:
        """Every layer's initial state, first layer first (with ``lags``, then the last
        ``lags`` inputs, zeros)."""
        states = tuple(cell.initial_state() for cell in self.cells)
        if not self.lags:
            return states
        return (*states, jnp.zeros((self.lags, self.A.shape[0] // self.lags), self.A.dtype))

    def step(self, state, x):
        """One time step: ``(state, x (n_in,) or a scalar id) -> (state, logits (n_out,))``."""
        new = []
        y = self.inputs(x)
        for cell, s in zip(self.cells, state, strict=True):
            s, y = cell(s, y)
            new.append(s)
        z = y @ self.V + self.c
        if self.lags:  # the newest input first, as in __call__
            buf = jnp.concatenate([x[None], state[-1][:-1]])
            new.append(buf)
            z = z + buf.reshape(-1) @ self.A
        return tuple(new), z

    def hidden(self, xs: Float[Array, "T n_in"] | Int[Array, " T"]) -> Float[Array, "T hidden"]:
        """The last layer's hidden output at every step."""
        ys = self.inputs(xs)
        for cell in self.cells:
            # One scan per layer with the readout outside it: the loop body holds only the
            # recurrence, which is what a small network's step time is made of.
            _, ys = jax.lax.scan(lambda h, x, cell=cell: cell(h, x), cell.initial_state(), ys)
        return ys

    def lagged(self, xs: Float[Array, "T n_in"]) -> Float[Array, "T lags_n_in"]:
        """Row ``t``: ``[x_t, x_{t-1}, ..., x_{t-p+1}]`` (zeros before the start)."""
        padded = jnp.concatenate([jnp.zeros((self.lags - 1, xs.shape[1]), xs.dtype), xs])
        T = xs.shape[0]
        return jnp.concatenate([padded[self.lags - 1 - i : self.lags - 1 - i + T]
                                for i in range(self.lags)], axis=1)

    def __call__(self, xs: Float[Array, "T n_in"] | Int[Array, " T"]) -> Float[Array, "T n_out"]:
        z = self.hidden(xs) @ self.V + self.c
        return z + self.lagged(xs) @ self.A if self.lags else z
