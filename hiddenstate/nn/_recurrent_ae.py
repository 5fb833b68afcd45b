"""Recurrent autoencoders: seed 000's linear chain (W5) and Dai & Le's sequence autoencoder."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ._cells import RecurrentCell, make_cell
from ._classifier import embedding_init
from ._init import glorot_uniform, seed_normal

__all__ = [
    "RecurrentAutoencoderNet",
    "recall_per_position",
    "SequenceAutoencoderNet",
]


class RecurrentAutoencoderNet(eqx.Module):
    r"""Seed 000's recurrent autoencoder: fold a sequence into its last state and unroll it.

    Encoder (a scan with signature ``cell(h, x) -> (h, h)``):

    .. math::
        h_i = \tanh(x_i W_1 + h_{i-1} W_2 + b_h), \qquad h_0 \text{ learned}

    Step reconstructions of the input and of the previous state:

    .. math::
        \hat x_i = h_i W_{-1} + b_x, \qquad \hat h_{i-1} = g(h_i W_{-2} + b_r)

    Unroll from the final state :math:`u_0 = h_T` for ``n`` steps:
    :math:`o_k = u_k W_{-1} + b_x`, :math:`u_{k+1} = g(u_k W_{-2} + b_r)`, so
    the outputs come newest first (:math:`o_0 \approx x_T`). :math:`g` is the
    identity in the seed (``decoder_activation='linear'``); ``'tanh'`` makes
    the decoder state live in the same range as the encoder's.

    Shapes: one sequence ``xs`` is ``(T, d)``; ``jax.vmap`` adds a batch.

    Attributes
    ----------
    W1 : (d, H)    input -> hidden
    W2 : (H, H)    hidden -> hidden
    b_h : (H,)
    h0 : (H,)      learned initial state
    W_hr : (H, H)  hidden -> previous hidden (the seed's W(-2))
    b_hr : (H,)
    W_xr : (H, d)  hidden -> input (the seed's W(-1))
    b_xr : (d,)
    """

    W1: Float[Array, "d H"]
    W2: Float[Array, "H H"]
    b_h: Float[Array, " H"]
    h0: Float[Array, " H"]
    W_hr: Float[Array, "H H"]
    b_hr: Float[Array, " H"]
    W_xr: Float[Array, "H d"]
    b_xr: Float[Array, " d"]
    decoder_activation: str = eqx.field(static=True, default="linear")

    def __init__(
        self,
        n_inputs: int,
        n_hidden: int,
        *,
        key: PRNGKeyArray,
        decoder_activation: str = "linear",
        dtype=jnp.float32,
    ) -> None:
        """Every parameter drawn by :func:`seed_normal` (the seed draws biases and h0 too)."""
        if decoder_activation not in ("linear", "tanh"):
            raise ValueError(
                f"unknown decoder_activation {decoder_activation!r}; valid: linear, tanh"
            )
        d, H = int(n_inputs), int(n_hidden)
        if d < 1 or H < 1:
            raise ValueError(f"n_inputs and n_hidden must be >= 1, got {d} and {H}")
        k = jax.random.split(key, 8)
        self.W1 = seed_normal(k[0], (d, H), dtype)
        self.W2 = seed_normal(k[1], (H, H), dtype)
        self.b_h = seed_normal(k[2], (H,), dtype)
        self.h0 = seed_normal(k[3], (H,), dtype)
        self.W_hr = seed_normal(k[4], (H, H), dtype)
        self.b_hr = seed_normal(k[5], (H,), dtype)
        self.W_xr = seed_normal(k[6], (H, d), dtype)
        self.b_xr = seed_normal(k[7], (d,), dtype)
        self.decoder_activation = decoder_activation

    def cell(self, h: Float[Array, " H"], x: Float[Array, " d"]):
        """One encoder step, scan signature: ``(h_{i-1}, x_i) -> (h_i, h_i)``."""
        h = jnp.tanh(x @ self.W1 + h @ self.W2 + self.b_h)
        return h, h

    def encode_states(self, xs: Float[Array, "T d"]) -> Float[Array, "T H"]:
        """All states ``h_1..h_T`` (``h_0`` excluded, as the seed's scan returns them)."""
        _, hs = jax.lax.scan(lambda h, x: self.cell(h, x), self.h0, xs)
        return hs

    def encode(self, xs: Float[Array, "T d"]) -> Float[Array, " H"]:
        """The code of a sequence: its last state ``h_T``."""
        return self.encode_states(xs)[-1]

    def _back(self, h):
        u = h @ self.W_hr + self.b_hr
        return jnp.tanh(u) if self.decoder_activation == "tanh" else u

    def reconstruct_input(self, h: Float[Array, "... H"]) -> Float[Array, "... d"]:
        r""":math:`\hat x = h W_{-1} + b_x`."""
        return h @ self.W_xr + self.b_xr

    def reconstruct_previous(self, h: Float[Array, "... H"]) -> Float[Array, "... H"]:
        r""":math:`\hat h_{i-1} = g(h_i W_{-2} + b_r)`."""
        return self._back(h)

    def unroll(self, h: Float[Array, " H"], n_steps: int) -> Float[Array, "n d"]:
        """Outputs ``o_0..o_{n-1}`` from the code ``h``, newest first (``o_0`` ~ ``x_T``)."""

        def step(u, _):
            return self._back(u), self.reconstruct_input(u)

        _, outs = jax.lax.scan(step, h, None, length=int(n_steps))
        return outs

    def __call__(self, xs: Float[Array, "T d"]) -> Float[Array, "T d"]:
        """Encode then unroll, returned in input order (``out[i]`` ~ ``xs[i]``)."""
        return self.unroll(self.encode(xs), xs.shape[0])[::-1]


def recall_per_position(
    model: RecurrentAutoencoderNet, perms: Int[Array, "n T"]
) -> Float[Array, " T"]:
    """Fraction of orders whose unrolled output at each input position has the right argmax.

    ``perms`` is ``(n, T)`` symbol indices; entry ``i`` of the result is the
    recall of input position ``i`` (``i = T-1`` is the newest, unrolled first).
    The W5 quality figure is the mean of this vector.
    """
    d = model.W1.shape[0]

    def one(p):
        xs = jax.nn.one_hot(p, d, dtype=model.W1.dtype)
        return jnp.argmax(model(xs), axis=-1) == p

    return jnp.mean(jax.vmap(one)(perms).astype(jnp.float32), axis=0)


# -- Dai & Le (2015) sequence autoencoder, on the cells of nn/_cells.py -------------------


class SequenceAutoencoderNet(eqx.Module):
    r"""Encoder-decoder sequence autoencoder (Dai & Le 2015), one sequence in.

    The encoder cell (any cell of :data:`hiddenstate.nn.CELLS`, learned
    initial state) reads :math:`x_1..x_T` (steps past ``length`` leave the
    state unchanged); the code is its last hidden vector :math:`z = h_T`. The
    decoder cell starts from its learned initial state with the hidden vector
    replaced by :math:`z` (an LSTM from :math:`(z, c_0)`) and runs without
    inputs; its outputs give the
    sequence newest first, :math:`\hat x_{T-k} = s_k W_o + b_o`, so the same
    code decodes to any length and the most recent step is read out first.

    Shapes: ``xs`` ``(L, d)`` padded, ``length`` scalar int; code ``(H,)``.

    Token sequences (``n_tokens`` given): ``xs`` is ``(L,)`` int ids, the encoder
    reads their rows of the learned ``embedding`` ``(n_tokens, d)`` (``d`` is then
    the embedding size), and the outputs are logits over the tokens,
    ``W_out`` ``(H, n_tokens)``: the reconstruction is ``(L, n_tokens)``.
    """

    encoder: RecurrentCell
    decoder: RecurrentCell
    W_out: Array
    b_out: Array
    embedding: Array | None
    cell: str = eqx.field(static=True)

    def __init__(
        self, n_features: int, n_hidden: int, *, key, cell: str = "lstm", dtype=jnp.float32,
        n_tokens: int | None = None,
    ):
        k1, k2, k3 = jax.random.split(key, 3)
        encoder = make_cell(cell, n_features, n_hidden, key=k1)
        # The decoder reads no inputs (a 0-row input matrix); its state starts from the code.
        decoder = make_cell(cell, 0, n_hidden, key=k2)
        self.encoder, self.decoder = jax.tree.map(lambda a: a.astype(dtype), (encoder, decoder))
        n_out = n_features if n_tokens is None else int(n_tokens)
        self.W_out = glorot_uniform(k3, (n_hidden, n_out), dtype)
        self.b_out = jnp.zeros((n_out,), dtype)
        # A key of its own (folded in), so networks without an embedding are unchanged.
        self.embedding = (None if n_tokens is None else jnp.asarray(
            embedding_init(jax.random.fold_in(key, 3), int(n_tokens), n_features), dtype))
        self.cell = cell

    def inputs(self, xs: Array) -> Float[Array, "L d"]:
        """The encoder's inputs: the embedded ids, or ``xs`` itself."""
        return xs if self.embedding is None else self.embedding[xs]

    def encode(self, xs: Float[Array, "L d"] | Int[Array, " L"], length) -> Float[Array, " H"]:
        """The code: the encoder's hidden vector after the first ``length`` steps."""
        xs = self.inputs(xs)
        state0 = self.encoder.initial_state()

        def step(state, inp):
            x, on = inp
            new, _ = self.encoder(state, x)
            return jax.tree.map(lambda a, b: jnp.where(on, a, b), new, state), None

        on = jnp.arange(xs.shape[0]) < length
        state, _ = jax.lax.scan(step, state0, (xs, on))
        return self.encoder.hidden(state)

    def decode_reversed(self, code: Float[Array, " H"], n_steps: int) -> Float[Array, "n d"]:
        """Outputs newest first: row ``k`` reconstructs ``x_{T-1-k}``."""
        empty = jnp.zeros((0,), code.dtype)

        def step(state, _):
            state, y = self.decoder(state, empty)
            return state, y @ self.W_out + self.b_out

        state0 = self.decoder.with_hidden(self.decoder.initial_state(), code)
        _, outs = jax.lax.scan(step, state0, None, length=int(n_steps))
        return outs

    def __call__(self, xs: Float[Array, "L d"] | Int[Array, " L"], length) -> Float[Array, "L d"]:
        """Reconstruction in input order (values, or logits over the tokens); rows at or
        past ``length`` are zero."""
        L = xs.shape[0]
        rev = self.decode_reversed(self.encode(xs, length), L)
        # row i of the sequence is row length-1-i of the reversed output
        idx = jnp.clip(length - 1 - jnp.arange(L), 0, L - 1)
        return jnp.where((jnp.arange(L) < length)[:, None], rev[idx], 0.0)
