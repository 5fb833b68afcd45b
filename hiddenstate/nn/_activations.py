"""Activation functions by name."""

from __future__ import annotations

import jax
import jax.numpy as jnp

ACTIVATIONS = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    "linear": lambda x: x,
}


def activation(name: str):
    """The activation called ``name``; the error lists the valid names."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; valid: {', '.join(ACTIVATIONS)}"
        ) from None
