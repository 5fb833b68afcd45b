"""Small, unreduced losses; the reduction happens at the call site.

Each takes predictions and targets of the same shape and returns the
elementwise loss; an optional ``mask`` (broadcastable) zeroes entries.
Losses that follow a sigmoid or softmax take *logits* for stability.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

__all__ = [
    "squared_error",
    "sigmoid_cross_entropy",
    "softmax_cross_entropy",
    "kl_bernoulli",
]


def _masked(loss: Array, mask: ArrayLike | None) -> Array:
    return loss if mask is None else loss * mask


def squared_error(pred: Array, target: Array, mask: ArrayLike | None = None) -> Array:
    r"""``(pred - target)^2`` elementwise."""
    return _masked(jnp.square(pred - target), mask)


def sigmoid_cross_entropy(logits: Array, target: Array, mask: ArrayLike | None = None) -> Array:
    r"""Binary cross-entropy of ``sigmoid(logits)`` against ``target`` in [0, 1], elementwise.

    .. math:: -t \log \sigma(z) - (1 - t) \log(1 - \sigma(z))
              = \max(z, 0) - t z + \log(1 + e^{-|z|})

    The right-hand form needs one exponential and one logarithm per entry
    (``optax.sigmoid_binary_cross_entropy`` uses two of each), which is a
    measurable share of a small autoencoder's step.
    """
    z = logits
    return _masked(jnp.maximum(z, 0.0) - target * z + jnp.log1p(jnp.exp(-jnp.abs(z))), mask)


def softmax_cross_entropy(logits: Array, target: Array, mask: ArrayLike | None = None) -> Array:
    r"""``-sum_k t_k log softmax(z)_k`` over the last axis (shape ``logits.shape[:-1]``)."""
    return _masked(-jnp.sum(target * jax.nn.log_softmax(logits, axis=-1), axis=-1), mask)


def kl_bernoulli(target: float, rate: Array, eps: float = 1e-6, *,
                 complement: float | Array | None = None) -> Array:
    r"""KL divergence between Bernoulli(``target``) and Bernoulli(``rate``), elementwise.

    The sparsity penalty of sparse autoencoders (Ng, CS294A notes, 2011).
    ``complement`` is ``1 - target`` when given (a run-time value computed in float64).
    """
    rate = jnp.clip(rate, eps, 1.0 - eps)
    comp = 1.0 - target if complement is None else complement
    return target * jnp.log(target / rate) + comp * jnp.log(comp / (1.0 - rate))
