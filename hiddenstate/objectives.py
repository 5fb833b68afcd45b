"""Training objectives: one protocol, one weighted reduction.

An objective is a frozen (hashable, so jittable) dataclass with

- ``per_example(model, batch, key=None) -> (B,)``: the loss of each example
  of a batch (a pytree of arrays with a leading batch axis). ``key`` is given
  during training to objectives that draw random numbers (``uses_key``);
  inference passes ``None`` (no corruption, no dropout);
- ``penalties(model, batch, weight, key) -> tuple``: terms added to the
  reduced loss (weight decay, sparsity), empty by default;
- ``uses_key``: whether training must hand it a fresh key per update.

Calling it, ``objective(model, batch, weight, key)``, gives the scalar the
training loop minimises: :func:`weighted_mean` of the per-example losses
(``weight`` is 1 for real rows and 0 for padding) plus each penalty in turn.

Hyperparameters as run-time values: an objective whose numbers (weight decay, noise
level, sparsity weight ...) should not be compiled into programs lists them in
``runtime_values()`` (derived numbers such as ``1 - p`` computed there, in float64,
as Python computed them before they became float32 constants) and reads them with
:meth:`Objective.value`; ``structure()`` is the objective with those numbers replaced
by what decides the program's shape (whether a term is on). Every objective is a JAX
pytree whose leaves are those values as float32 arrays, so jitted functions take them
as arguments: objectives that differ only in them share compiled programs.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from . import losses

__all__ = [
    "Objective",
    "weighted_mean",
    "AutoencoderObjective",
    "SequenceObjective",
    "SequenceAEObjective",
    "RecurrentAEObjective",
    "RAEObjective",
    "SequencePredictorObjective",
]


def weighted_mean(per_example: Array, weight: Array) -> Array:
    r""":math:`\sum_i w_i \ell_i / \sum_i w_i`: the one reduction every objective uses."""
    return jnp.sum(weight * per_example) / jnp.sum(weight)


class Objective:
    """Base of every objective (see the module docstring)."""

    uses_key: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        jax.tree_util.register_pytree_node(cls, _flatten, lambda aux, leaves: _bind(
            aux, leaves))

    def runtime_values(self) -> dict[str, float]:
        """The numbers that are run-time values of compiled programs (none by default)."""
        return {}

    def structure(self) -> Objective:
        """This objective with its run-time values replaced by what shapes the program."""
        return self

    def value(self, name: str) -> Any:
        """Run-time value ``name``: an array (a tracer inside a compiled function)."""
        bound = self.__dict__.get("_bound")
        return bound[name] if bound is not None else self.runtime_values()[name]

    def per_example(self, model, batch, key=None) -> Array:
        raise NotImplementedError

    def penalties(self, model, batch, weight, key) -> tuple[Array, ...]:
        del model, batch, weight, key
        return ()

    def __call__(self, model, batch, weight, key) -> Array:
        loss = weighted_mean(self.per_example(model, batch, key if self.uses_key else None),
                             weight)
        for term in self.penalties(model, batch, weight, key):
            loss = loss + term
        return loss


def _flatten(objective: Objective):
    bound = objective.__dict__.get("_bound")
    if bound is None:
        bound = {k: np.asarray(v, np.float32) for k, v in objective.runtime_values().items()}
        template = objective.structure()
    else:
        template = objective.__dict__["_template"]
    return tuple(bound.values()), (template, tuple(bound))


def _bind(aux, leaves) -> Objective:
    template, names = aux
    if not names:
        return template
    bound = object.__new__(type(template))
    bound.__dict__.update(template.__dict__)
    bound.__dict__.update(_bound=dict(zip(names, leaves, strict=True)), _template=template)
    return bound


# -- Autoencoder --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AutoencoderObjective(Objective):
    r"""Training loss of :class:`~hiddenstate.nn.AutoencoderNet` for a minibatch of rows.

    .. math::
        L = \frac{\sum_i w_i \ell(\tilde x_i, x_i)}{\sum_i w_i}
            + \frac{\alpha}{2} \sum_l \lVert W_l \rVert^2
            + \beta \sum_j \mathrm{KL}(\rho \,\Vert\, \hat\rho_j)

    with :math:`\ell` the squared error averaged over features (``mse``) or the
    binary cross-entropy summed over features from logits (``cross_entropy``),
    :math:`\tilde x` the reconstruction of the (optionally corrupted) input,
    and :math:`\hat\rho_j` the batch mean of code unit :math:`j`.
    """

    loss: str = "mse"
    alpha: float = 0.0
    sparsity: float = 0.0
    sparsity_target: float = 0.05
    noise: str | None = None
    noise_level: float = 0.0

    @property
    def uses_key(self) -> bool:  # type: ignore[override]
        """Only the denoising corruption draws random numbers."""
        return self.noise is not None and self.noise_level > 0

    def runtime_values(self) -> dict[str, float]:
        """The weight decay ``alpha``, the noise level and the sparsity weight and target,
        of the terms that are on (a weight of 0 leaves its term out of the program)."""
        values = {"alpha": self.alpha} if self.alpha > 0 else {}
        if self.uses_key:
            values.update(noise_level=self.noise_level, keep=1.0 - self.noise_level)
        if self.sparsity > 0:
            values.update(sparsity=self.sparsity, target=self.sparsity_target,
                          target_complement=1.0 - self.sparsity_target)
        return values

    def structure(self) -> AutoencoderObjective:
        return dataclasses.replace(self, alpha=float(self.alpha > 0),
                                   sparsity=float(self.sparsity > 0),
                                   sparsity_target=0.5, noise_level=float(self.uses_key))

    def corrupt(self, x: Array, key) -> Array:
        """The denoising corruption of ``x`` (none without a key)."""
        if key is None or not self.uses_key:
            return x
        if self.noise == "masking":
            keep = jax.random.bernoulli(key, self.value("keep"), x.shape)
            return jnp.where(keep, x, 0.0)
        return x + self.value("noise_level") * jax.random.normal(key, x.shape, x.dtype)

    def feature_errors(self, model, z: Array, x: Array) -> Array:
        """Per-feature error ``(B, n)`` of reconstruction logits ``z`` against ``x``."""
        if self.loss == "cross_entropy":
            return losses.sigmoid_cross_entropy(z, x)
        pred = jax.nn.sigmoid(z) if model.output == "sigmoid" else z
        return losses.squared_error(pred, x)

    def _reduce_features(self, err: Array) -> Array:
        return jnp.sum(err, axis=-1) if self.loss == "cross_entropy" else jnp.mean(err, axis=-1)

    def per_example(self, model, x, key=None) -> Array:
        h = jax.vmap(model.encode)(self.corrupt(x, key))
        z = jax.vmap(model.decode_logits)(h)
        return self._reduce_features(self.feature_errors(model, z, x))

    def penalties(self, model, x, weight, key) -> tuple[Array, ...]:
        terms = []
        if self.alpha > 0:
            mats = list(model.weights) + list(model.decoder_weights or ())
            terms.append(0.5 * self.value("alpha") * sum(jnp.sum(w * w) for w in mats))
        if self.sparsity > 0:
            h = jax.vmap(model.encode)(self.corrupt(x, key))
            rho = jnp.sum(weight[:, None] * h, axis=0) / jnp.sum(weight)
            kl = losses.kl_bernoulli(self.value("target"), rho,
                                     complement=self.value("target_complement"))
            terms.append(self.value("sparsity") * jnp.sum(kl))
        return tuple(terms)


# -- SequenceModel -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SequenceObjective(Objective):
    r"""Mean per-step loss of each padded sequence.

    ``batch = (xs (B, L, n_in), ys (B, L, n_out), mask (B, L))``. Per step:
    binary cross-entropy averaged over outputs (``sigmoid``, multi-hot targets),
    softmax cross-entropy (``softmax``, one-hot targets) or squared error averaged
    over outputs (``linear``); per sequence the mean over its valid steps.
    Token sequences: ``xs`` and ``ys`` are int ids ``(B, L)`` and the softmax
    cross-entropy takes the target ids as labels,
    :math:`-\log \mathrm{softmax}(z_t)_{y_t}` (no one-hot rows: a large
    vocabulary would make them gigabytes).
    """

    output: str = "softmax"

    def step_losses(self, z: Array, ys: Array) -> Array:
        if jnp.issubdtype(ys.dtype, jnp.integer):
            logp = jax.nn.log_softmax(z, axis=-1)
            return -jnp.take_along_axis(logp, ys[..., None], axis=-1)[..., 0]
        if self.output == "sigmoid":
            return jnp.mean(losses.sigmoid_cross_entropy(z, ys), axis=-1)
        if self.output == "softmax":
            return losses.softmax_cross_entropy(z, ys)
        return jnp.mean(losses.squared_error(z, ys), axis=-1)

    def per_step(self, model, batch) -> Array:
        r"""Each step's loss ``(B, L)``, zero on padding: for softmax outputs the surprisal
        :math:`-\log p(y_t \mid x_{\le t})` in nats."""
        xs, ys, mask = batch
        # One sequence (online training): the unbatched scan, whose vector-matrix
        # products XLA's CPU backend runs much faster than (1, n) matrix products.
        z = model(xs[0])[None] if xs.shape[0] == 1 else jax.vmap(model)(xs)
        return self.step_losses(z, ys) * mask

    def per_example(self, model, batch, key=None) -> Array:
        mask = batch[2]
        per_step = self.per_step(model, batch)
        return jnp.sum(per_step, axis=-1) / jnp.maximum(jnp.sum(mask, axis=-1), 1.0)


# -- SequenceAutoencoder -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SequenceAEObjective(Objective):
    r"""Mean squared reconstruction error per real step and feature of each sequence, or,
    for token ids, the mean softmax cross-entropy per real step.

    Batch: ``(xs (B, L, d), lengths (B,))``, or ``(ids (B, L) int, lengths (B,))``
    (then :math:`\frac{1}{T}\sum_{t \le T} -\log \mathrm{softmax}(z_t)_{x_t}` with
    :math:`z_t` the reconstruction logits).
    """

    @staticmethod
    def _steps(model, xs, length) -> Array:
        """One sequence's error per step ``(L,)``, zero past ``length``: squared error
        averaged over features, or the token's softmax cross-entropy."""
        rec = model(xs, length)
        on = jnp.arange(xs.shape[0]) < length
        if jnp.issubdtype(xs.dtype, jnp.integer):
            logp = jax.nn.log_softmax(rec, axis=-1)
            err = -jnp.take_along_axis(logp, xs[:, None], axis=-1)[:, 0]
        else:
            err = jnp.mean((rec - xs) ** 2, axis=-1)
        return jnp.where(on, err, 0.0)

    def per_step(self, model, batch) -> Array:
        """Each step's reconstruction error ``(B, L)``, zero on padding."""
        xs, lengths = batch
        return jax.vmap(lambda x, n: self._steps(model, x, n))(xs, lengths)

    @staticmethod
    def _one(model, xs, length) -> Array:
        # The training loss keeps its own reduction order (runs stay bit-for-bit the same).
        rec = model(xs, length)
        if jnp.issubdtype(xs.dtype, jnp.integer):
            logp = jax.nn.log_softmax(rec, axis=-1)
            nll = -jnp.take_along_axis(logp, xs[:, None], axis=-1)[:, 0]
            on = jnp.arange(xs.shape[0]) < length
            return jnp.sum(jnp.where(on, nll, 0.0)) / length
        err = (rec - xs) ** 2
        on = (jnp.arange(xs.shape[0]) < length)[:, None]
        return jnp.sum(jnp.where(on, err, 0.0)) / (length * xs.shape[1])

    def per_example(self, model, batch, key=None) -> Array:
        xs, lengths = batch
        return jax.vmap(lambda x, n: self._one(model, x, n))(xs, lengths)

    @staticmethod
    def truncate(batch, length: int):
        """The batch with its sequences cut to ``length`` steps (lengths untouched)."""
        xs, lengths = batch
        return xs[:, :length], lengths


# -- the seed's recurrent autoencoder (W5) -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RecurrentAEObjective(Objective):
    r"""Training loss of :class:`~hiddenstate.nn.RecurrentAutoencoderNet` on symbol orders.

    A batch row is a permutation ``p`` of ``0..d-1`` (int, ``(T,)``); the
    sequence is ``x_i = e_{p_i}`` (one-hot). With ``step_weight`` :math:`s` and
    ``unroll_weight`` :math:`u`:

    .. math::
        L = s \Big[\sum_i \lVert x_i - \hat x_i \rVert^2
                  + \sum_{i=2}^{T} \lVert h_{i-1} - \hat h_{i-1} \rVert^2\Big]
            + u \sum_k \ell(o_k, x_{T-k})

    The first bracket is seed 000's loss exactly (``hidden[:-1]`` against
    ``hidden_reproduction[1:]``: the state before each step against its
    reconstruction from the step after, :math:`h_0` not reconstructed, and
    gradients flow into both sides as in the seed's Theano graph). The second
    term back-propagates through the unroll; :math:`\ell` is the squared error
    (``unroll_loss='mse'``) or the softmax cross-entropy over symbols from the
    unrolled outputs taken as logits (``'softmax'``).
    """

    step_weight: float = 1.0
    unroll_weight: float = 0.0
    unroll_loss: str = "mse"

    def runtime_values(self) -> dict[str, float]:
        """The weights of the terms that are on (a weight of 0 leaves its term out)."""
        return {k: v for k, v in (("step_weight", self.step_weight),
                                  ("unroll_weight", self.unroll_weight)) if v}

    def structure(self) -> RecurrentAEObjective:
        return dataclasses.replace(self, step_weight=float(bool(self.step_weight)),
                                   unroll_weight=float(bool(self.unroll_weight)))

    def _one(self, model, perm) -> Array:
        d = model.W1.shape[0]
        xs = jax.nn.one_hot(perm, d, dtype=model.W1.dtype)
        loss = jnp.zeros((), xs.dtype)
        hs = model.encode_states(xs)
        if self.step_weight:
            x_hat = model.reconstruct_input(hs)
            h_hat = model.reconstruct_previous(hs)
            seed = jnp.sum((xs - x_hat) ** 2) + jnp.sum((hs[:-1] - h_hat[1:]) ** 2)
            loss = loss + self.value("step_weight") * seed
        if self.unroll_weight:
            outs = model.unroll(hs[-1], xs.shape[0])
            targets = xs[::-1]
            if self.unroll_loss == "softmax":
                err = -jnp.sum(targets * jax.nn.log_softmax(outs, axis=-1))
            else:
                err = jnp.sum((outs - targets) ** 2)
            loss = loss + self.value("unroll_weight") * err
        return loss

    def per_example(self, model, perms, key=None) -> Array:
        return jax.vmap(lambda p: self._one(model, p))(perms)


# -- RecursiveAutoencoder ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RAEObjective(Objective):
    r"""Semi-supervised RAE loss of a minibatch of padded sentences.

    Per sentence, over its real nodes (eq. 10 of the paper, averaged per node):

    .. math::
        E = \frac{1}{2n-1}\Big[\alpha \sum_{\text{parents}} E_{rec}
            + (1-\alpha) \sum_{\text{all nodes}} E_{ce}\Big]

    averaged over sentences with ``weight``, plus the penalties
    :math:`\frac{\lambda}{2}(\lVert W_1\rVert^2 + \lVert W_2\rVert^2 + \lVert W_c\rVert^2)`
    and :math:`\frac{\lambda_L}{2}\lVert L\rVert^2`. The batch is ``(words (B, L) int,
    lengths (B,) int, labels (B,) int)``. Trees are rebuilt greedily with the
    current parameters at every evaluation and held fixed for the gradient.
    """

    alpha: float = 0.2
    l2: float = 1e-5
    l2_words: float = 1e-5

    def runtime_values(self) -> dict[str, float]:
        """``alpha`` and the penalty weights that are on (a weight of 0 leaves its
        penalty out of the program)."""
        values = {"alpha": self.alpha, "one_minus_alpha": 1.0 - self.alpha}
        values.update({k: v for k, v in (("l2", self.l2), ("l2_words", self.l2_words)) if v})
        return values

    def structure(self) -> RAEObjective:
        return dataclasses.replace(self, alpha=0.0, l2=float(bool(self.l2)),
                                   l2_words=float(bool(self.l2_words)))

    def _one(self, model, words, length, label) -> Array:
        tree, table = model(words, length)
        rec = jnp.sum(model.tree_errors(table, tree))
        logp = jax.nn.log_softmax(model.node_logits(table), axis=-1)
        ce = -jnp.sum(jnp.where(tree.node_mask, logp[:, label], 0.0))
        return (self.value("alpha") * rec + self.value("one_minus_alpha") * ce) / jnp.sum(
            tree.node_mask)

    def per_example(self, model, batch, key=None) -> Array:
        words, lengths, labels = batch
        return jax.vmap(lambda w, n, y: self._one(model, w, n, y))(words, lengths, labels)

    def penalties(self, model, batch, weight, key) -> tuple[Array, ...]:
        terms = []
        if self.l2:
            terms.append(0.5 * self.value("l2") * sum(jnp.sum(w * w) for w in (
                model.W1, model.W2, model.Wc)))
        if self.l2_words:
            terms.append(0.5 * self.value("l2_words") * jnp.sum(model.embedding**2))
        return tuple(terms)


# -- SequenceClassifier, SequenceRegressor ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SequencePredictorObjective(Objective):
    r"""Loss of a whole-sequence prediction, weighted per sequence.

    Batch: ``(xs (B, L) int or (B, L, d), lengths (B,), targets, sample_weight (B,))``
    with ``targets`` class indices ``(B,)`` (``loss='softmax'``: the softmax
    cross-entropy of the logits) or values ``(B, k)`` (``'squared'``: the squared
    error averaged over the ``k`` outputs). Each sequence's loss is multiplied by its
    ``sample_weight`` (class weights). ``dropout``: the network drops units when given
    a key (training only), at the float rates it holds (compiled in). ``rates``: dropout
    rates as run-time values, ``(("input_dropout", 0.2), ("dropout", 0.5))``, for a
    network whose rate fields hold :class:`~hiddenstate.nn._classifier.RunTimeRate`
    stand-ins of those names (a rate of 0 is left out: no dropout in the program).
    """

    loss: str = "softmax"
    dropout: bool = False
    rates: tuple[tuple[str, float], ...] = ()

    @property
    def uses_key(self) -> bool:  # type: ignore[override]
        return self.dropout or any(rate > 0 for _, rate in self.rates)

    def runtime_values(self) -> dict[str, float]:
        """:math:`1 - p` of each positive rate (computed in float64, as Python computed it
        when the rate was a constant of the program)."""
        return {name: 1.0 - float(rate) for name, rate in self.rates if rate > 0}

    def structure(self) -> SequencePredictorObjective:
        return dataclasses.replace(self, rates=tuple((name, 0.5) for name, rate in self.rates
                                                     if rate > 0))

    def network(self, model):
        """``model`` with its run-time dropout rates filled (see ``rates``)."""
        if not any(rate > 0 for _, rate in self.rates):
            return model
        from .nn._classifier import fill_rates

        return fill_rates(model, {name: self.value(name) for name in self.runtime_values()})

    def per_example(self, model, batch, key=None) -> Array:
        xs, lengths, targets, sample_weight = batch
        keys = (jnp.zeros(xs.shape[0]) if key is None
                else jax.random.split(key, xs.shape[0]))
        net = self.network(model)
        z = jax.vmap(lambda x, n, k: net(x, n, None if key is None else k))(xs, lengths, keys)
        if self.loss == "softmax":
            per = -jnp.take_along_axis(jax.nn.log_softmax(z, axis=-1), targets[:, None],
                                       axis=-1)[:, 0]
        else:
            per = jnp.mean(losses.squared_error(z, targets), axis=-1)
        return per * sample_weight

    @staticmethod
    def truncate(batch, length: int):
        """The batch with its sequences cut to ``length`` steps (targets untouched)."""
        xs, lengths, targets, sample_weight = batch
        return xs[:, :length], lengths, targets, sample_weight
