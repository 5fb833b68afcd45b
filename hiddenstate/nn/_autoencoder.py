"""The (tied-weight) autoencoder of seeds 003 and 004, stacked if asked."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from ._activations import activation as get_activation
from ._init import glorot_uniform, normal

__all__ = ["AutoencoderNet"]


class AutoencoderNet(eqx.Module):
    r"""A dense autoencoder; with ``tied=True`` the decoder reuses the encoder's weights.

    For layer sizes :math:`n_0 \to n_1 \to \dots \to n_L` (``n_0`` inputs, ``n_L``
    code units), with :math:`f` the hidden activation:

    .. math::
        h_0 = x,\quad h_l = f(h_{l-1} W_l + b_l)\quad (l = 1..L)

        g_L = h_L,\quad g_{l-1} = f(g_l W_l^\top + c_l)\ (l = L..2),\quad
        \hat x = o(g_1 W_1^\top + c_1)

    where :math:`o` is the output function (identity or sigmoid). Untied
    autoencoders use their own decoder matrices :math:`V_l` of shape
    ``(n_l, n_{l-1})`` in place of :math:`W_l^\top`.

    One example in, one out: ``x`` has shape ``(n_0,)``; ``jax.vmap`` adds a batch.

    Attributes
    ----------
    weights : tuple of ``(n_{l-1}, n_l)`` arrays
    decoder_weights : tuple of ``(n_l, n_{l-1})`` arrays, or None when tied
    encoder_biases : tuple of ``(n_l,)`` arrays
    decoder_biases : tuple of ``(n_{l-1},)`` arrays
    """

    weights: tuple[Array, ...]
    decoder_weights: tuple[Array, ...] | None
    encoder_biases: tuple[Array, ...]
    decoder_biases: tuple[Array, ...]
    activation: str = eqx.field(static=True)
    output: str = eqx.field(static=True)

    def __init__(
        self,
        sizes: tuple[int, ...] | list[int],
        *,
        key: PRNGKeyArray,
        tied: bool = True,
        activation: str = "sigmoid",
        output: str = "linear",
        init: str = "glorot_uniform",
        init_scale: float | None = None,
        dtype=jnp.float32,
    ) -> None:
        """Build from layer sizes ``(n_0, n_1, ..., n_L)``.

        ``init='glorot_uniform'`` draws uniform(+-g*sqrt(6/(n_in+n_out))) with
        ``g = init_scale`` or, by default, 4 for sigmoid units and 1 otherwise
        (Glorot & Bengio 2010; seed 003). ``init='normal'`` draws
        N(0, init_scale**2) (seed 004 uses ``1/sqrt(6)``; default 0.01).
        """
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2:
            raise ValueError("an autoencoder needs at least an input size and a code size")
        get_activation(activation)
        if output not in ("linear", "sigmoid"):
            raise ValueError(f"unknown output {output!r}; valid: linear, sigmoid")
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        keys = jax.random.split(key, 2 * len(pairs))

        def draw(k, shape):
            if init == "glorot_uniform":
                gain = (
                    init_scale
                    if init_scale is not None
                    else (4.0 if activation == "sigmoid" else 1.0)
                )
                return glorot_uniform(k, shape, dtype, gain=gain)
            if init == "normal":
                return normal(k, shape, dtype, std=0.01 if init_scale is None else init_scale)
            raise ValueError(f"unknown init {init!r}; valid: glorot_uniform, normal")

        self.weights = tuple(draw(keys[i], (a, b)) for i, (a, b) in enumerate(pairs))
        self.decoder_weights = (
            None
            if tied
            else tuple(draw(keys[len(pairs) + i], (b, a)) for i, (a, b) in enumerate(pairs))
        )
        self.encoder_biases = tuple(jnp.zeros((b,), dtype) for _, b in pairs)
        self.decoder_biases = tuple(jnp.zeros((a,), dtype) for a, _ in pairs)
        self.activation = activation
        self.output = output

    @property
    def tied(self) -> bool:
        return self.decoder_weights is None

    @property
    def sizes(self) -> tuple[int, ...]:
        return (self.weights[0].shape[0], *(w.shape[1] for w in self.weights))

    def encode(self, x: Float[Array, " n_in"]) -> Float[Array, " n_code"]:
        """Code ``h_L`` of one example."""
        f = get_activation(self.activation)
        h = x
        for w, b in zip(self.weights, self.encoder_biases, strict=True):
            h = f(h @ w + b)
        return h

    def decode_logits(self, h: Float[Array, " n_code"]) -> Float[Array, " n_in"]:
        """Pre-output of the reconstruction (logits when ``output='sigmoid'``)."""
        f = get_activation(self.activation)
        n = len(self.weights)
        g = h
        for layer in reversed(range(n)):
            w_dec = (
                self.weights[layer].T
                if self.decoder_weights is None
                else self.decoder_weights[layer]
            )
            g = g @ w_dec + self.decoder_biases[layer]
            if layer > 0:
                g = f(g)
        return g

    def decode(self, h: Float[Array, " n_code"]) -> Float[Array, " n_in"]:
        """Reconstruction from a code."""
        z = self.decode_logits(h)
        return jax.nn.sigmoid(z) if self.output == "sigmoid" else z

    def __call__(self, x: Float[Array, " n_in"]) -> Float[Array, " n_in"]:
        """Reconstruction of one example."""
        return self.decode(self.encode(x))
