"""Whole-sequence networks: read a padded sequence, pool it into one vector, predict from it."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._cells import RecurrentCell, cell_init, make_cell
from ._init import host_rng

__all__ = ["SequenceEncoder", "SequenceClassifierNet", "POOLINGS", "embedding_init",
           "reverse_valid"]

POOLINGS = ("last", "mean", "max")


def embedding_init(key, n_tokens: int, dim: int) -> np.ndarray:
    """Normal(0, 0.1**2) word vectors, drawn on the host (small random vectors, as the
    random-initialisation baselines of Socher et al. 2011 and Kim 2014 draw them)."""
    return (0.1 * host_rng(key).standard_normal((n_tokens, dim))).astype(np.float32)


def reverse_valid(xs: Array, length) -> Array:
    """``xs`` with its first ``length`` rows reversed and the padding left in place;
    its own inverse."""
    t = jnp.arange(xs.shape[0])
    return xs[jnp.where(t < length, length - 1 - t, t)]


def _dropout(x: Array, rate: float, key) -> Array:
    if key is None or rate <= 0.0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def _masked_scan(cell: RecurrentCell, xs: Array, on: Array):
    """Run ``cell`` over ``xs``; steps where ``on`` is False leave the state as it was and
    output zeros. Returns ``(outputs (L, H), hidden vector of the final state)``."""

    def step(state, inp):
        x, valid = inp
        new, y = cell(state, x)
        state = jax.tree.map(lambda a, b: jnp.where(valid, a, b), new, state)
        return state, jnp.where(valid, y, 0.0)

    state, ys = jax.lax.scan(step, cell.initial_state(), (xs, on))
    return ys, cell.hidden(state)


class SequenceEncoder(eqx.Module):
    r"""Embedding, stacked (optionally bidirectional) recurrent layers and pooling.

    Layer :math:`l` reads the outputs of layer :math:`l-1` (the inputs, or their
    embedding, for the first); with ``bidirectional`` a second cell reads the valid
    steps backwards and its outputs are concatenated to the forward ones, so a layer
    outputs :math:`D = 2H` values per step (else :math:`H`). The sequence vector is

    - ``last``: the final hidden vector of each direction (forward after step
      :math:`T`, backward after step 1), concatenated;
    - ``mean`` / ``max``: the mean / maximum of the last layer's outputs over the
      :math:`T` valid steps.

    ``input_dropout`` drops input features (embedding entries) per step, ``dropout``
    each layer's outputs (between layers, and the sequence vector); both only when a
    key is given (training), scaled by :math:`1/(1-p)`.

    Shapes: ``xs`` is ``(L,)`` int token ids (with an embedding) or ``(L, n_in)``
    floats, padded to ``L``; ``length`` a scalar int (steps at or past it are
    ignored). The result is ``(D,)``.
    """

    embedding: Float[Array, "n_tokens n_in"] | None
    forward: tuple[RecurrentCell, ...]
    backward: tuple[RecurrentCell, ...] | None
    pooling: str = eqx.field(static=True)
    input_dropout: float = eqx.field(static=True)
    dropout: float = eqx.field(static=True)

    def __init__(self, n_in: int, hidden: int, *, key: PRNGKeyArray | np.random.Generator,
                 n_tokens: int | None = None, cell: str = "lstm", num_layers: int = 1,
                 bidirectional: bool = False, pooling: str = "last",
                 input_dropout: float = 0.0, dropout: float = 0.0,
                 init: str = "glorot_uniform", **cell_options):
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        rng = host_rng(key)
        k_emb, k_fwd, k_bwd = rng.spawn(3)
        self.embedding = (None if n_tokens is None
                          else jax.device_put(embedding_init(k_emb, int(n_tokens), int(n_in))))
        width = 2 * hidden if bidirectional else hidden

        def stack(keys):
            return tuple(make_cell(cell, n_in if i == 0 else width, hidden, key=keys[i],
                                   init=init, **cell_options)
                         for i in range(num_layers))

        self.forward = stack(k_fwd.spawn(num_layers))
        self.backward = stack(k_bwd.spawn(num_layers)) if bidirectional else None
        self.pooling = pooling
        self.input_dropout = float(input_dropout)
        self.dropout = float(dropout)

    @property
    def hidden_size(self) -> int:
        return int(self.forward[0].hidden(self.forward[0].initial_state()).shape[-1])

    @property
    def output_size(self) -> int:
        return self.hidden_size * (1 if self.backward is None else 2)

    def inputs(self, xs: Array) -> Array:
        """The first layer's inputs: the embedded ids, or ``xs`` itself."""
        return xs if self.embedding is None else self.embedding[xs]

    def outputs(self, xs: Array, length, key=None) -> tuple[Array, Array]:
        """``(last layer's outputs (L, D), final hidden vectors (D,))``."""
        keys = [None] * (len(self.forward) + 1) if key is None else list(
            jax.random.split(key, len(self.forward) + 1))
        h = _dropout(self.inputs(xs), self.input_dropout, keys[0])
        on = jnp.arange(h.shape[0]) < length
        finals = None
        for i, fwd in enumerate(self.forward):
            if i > 0:
                h = _dropout(h, self.dropout, keys[i])
            ys, last = _masked_scan(fwd, h, on)
            if self.backward is not None:
                ys_b, last_b = _masked_scan(self.backward[i], reverse_valid(h, length), on)
                ys = jnp.concatenate([ys, reverse_valid(ys_b, length)], axis=-1)
                last = jnp.concatenate([last, last_b])
            h, finals = ys, last
        return h, finals

    def __call__(self, xs: Array, length, key=None) -> Float[Array, " D"]:
        ys, finals = self.outputs(xs, length, key)
        if self.pooling == "last":
            vec = finals
        else:
            on = (jnp.arange(ys.shape[0]) < length)[:, None]
            if self.pooling == "mean":
                vec = jnp.sum(jnp.where(on, ys, 0.0), axis=0) / jnp.maximum(length, 1)
            else:
                vec = jnp.max(jnp.where(on, ys, -jnp.inf), axis=0)
        k_out = None if key is None else jax.random.fold_in(key, 7)
        return _dropout(vec, self.dropout, k_out)


class SequenceClassifierNet(eqx.Module):
    r"""A :class:`SequenceEncoder` and a linear output: :math:`z = v W + b`.

    ``z`` are class logits (softmax) or predicted values. Shapes: as the encoder,
    result ``(n_out,)``.
    """

    encoder: SequenceEncoder
    W: Float[Array, "D n_out"]
    b: Float[Array, " n_out"]

    def __init__(self, n_in: int, hidden: int, n_out: int, *, key, init="glorot_uniform",
                 **encoder_options):
        k_enc, k_out = host_rng(key).spawn(2)
        self.encoder = SequenceEncoder(n_in, hidden, key=k_enc, init=init, **encoder_options)
        out_init, _ = cell_init(init)
        self.W = jax.device_put(out_init(k_out, (self.encoder.output_size, int(n_out))))
        self.b = jax.device_put(np.zeros(int(n_out), np.float32))

    def __call__(self, xs: Array, length, key=None) -> Float[Array, " n_out"]:
        return self.encoder(xs, length, key) @ self.W + self.b
