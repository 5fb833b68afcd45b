"""Whole-sequence networks: read a padded sequence, pool it into one vector, predict from it."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._cells import RecurrentCell, cell_init, make_cell
from ._init import host_rng

__all__ = ["SequenceEncoder", "ConvEncoder", "JointEncoder", "SequenceClassifierNet",
           "POOLINGS", "ENCODERS", "RATES", "RunTimeRate", "embedding_init", "reverse_valid",
           "with_rates", "fill_rates"]

POOLINGS = ("last", "mean", "max")

#: The encoders of :class:`SequenceClassifierNet`: the recurrent layers, the convolutional
#: front end of FCN, or both side by side (LSTM-FCN).
ENCODERS = ("recurrent", "conv", "conv+recurrent")

#: FCN's blocks (Wang et al. 2017): filters as multiples of ``hidden`` (FCN's 128/256/128
#: is ``hidden=128``) and kernel sizes.
CONV_BLOCKS = ((1, 8), (2, 5), (1, 3))

#: The normalisation of each block (see :class:`ConvEncoder`).
CONV_NORM = "channel"


def embedding_init(key, n_tokens: int, dim: int) -> np.ndarray:
    """Normal(0, 0.1**2) word vectors, drawn on the host (small random vectors, as the
    random-initialisation baselines of Socher et al. 2011 and Kim 2014 draw them)."""
    return (0.1 * host_rng(key).standard_normal((n_tokens, dim))).astype(np.float32)


def reverse_valid(xs: Array, length) -> Array:
    """``xs`` with its first ``length`` rows reversed and the padding left in place;
    its own inverse."""
    t = jnp.arange(xs.shape[0])
    return xs[jnp.where(t < length, length - 1 - t, t)]


#: The dropout rates of the encoders, by field name (a :class:`ConvEncoder` has ``dropout``).
RATES = ("input_dropout", "dropout")


class RunTimeRate:
    r"""A dropout rate that is a run-time value of the compiled training programs.

    It stands in an encoder's ``input_dropout`` or ``dropout`` field (static: part of the
    network's pytree structure) for the float, so networks that differ only in their
    rates have one structure and share every compiled program; two stand-ins are equal
    when their ``name`` is. Before the network runs, the objective fills it
    (:func:`fill_rates`) with ``keep``, :math:`1 - p` as a float32 array, and dropout
    draws and scales with it exactly as with a float rate.
    """

    __slots__ = ("name", "keep")

    def __init__(self, name: str, keep=None):
        self.name, self.keep = str(name), keep

    def __eq__(self, other) -> bool:
        return type(other) is RunTimeRate and other.name == self.name

    def __hash__(self) -> int:
        return hash((RunTimeRate, self.name))

    def __repr__(self) -> str:
        return f"RunTimeRate({self.name!r})"


def _keep(rate: float | RunTimeRate):
    """:math:`1 - p`: a float for a float rate (rounded to float32 where it is used, as
    a constant of the program), the filled array of a run-time one."""
    if not isinstance(rate, RunTimeRate):
        return 1.0 - rate
    if rate.keep is None:
        raise ValueError(f"the dropout rate {rate.name!r} of this network is a run-time value "
                         "that its objective fills (SequencePredictorObjective(rates=...)); "
                         "give the network float rates (with_rates) to call it with a key")
    return rate.keep


@jax.custom_vjp
def _scaled_mean(total: Array, count: Array, keep: Array) -> Array:
    # total / count / keep as XLA computes it with a constant keep: it folds the constant
    # 1 / keep into 1 / count in the gradient, (g * (1/count * 1/keep)), where a run-time
    # keep would leave two products, g * (1/keep) * (1/count), and other last bits.
    return (total / count) * (1.0 / keep)


def _scaled_mean_fwd(total, count, keep):
    return _scaled_mean(total, count, keep), (count, keep)


def _scaled_mean_bwd(res, g):
    count, keep = res
    return g * ((1.0 / count) * (1.0 / keep)), None, None


_scaled_mean.defvjp(_scaled_mean_fwd, _scaled_mean_bwd)


def _dropout(x: Array, rate: float | RunTimeRate, key, count=None) -> Array:
    """``x`` with a fraction ``rate`` of its entries zeroed and the rest scaled by
    :math:`1/(1-p)` (only with a key); with ``count``, ``x`` is a sum and its mean
    ``x / count`` is dropped. A run-time rate gives the masks and the values of the float
    rate, to the last bit."""
    if count is not None:
        count = jnp.asarray(count, x.dtype)
    if key is None or (not isinstance(rate, RunTimeRate) and rate <= 0.0):
        return x if count is None else x / count
    keep = _keep(rate)
    mask = jax.random.bernoulli(key, keep, x.shape)
    if not isinstance(rate, RunTimeRate):
        return jnp.where(mask, (x if count is None else x / count) / keep, 0.0)
    # XLA multiplies by the reciprocal of a constant divisor: the same arithmetic.
    return jnp.where(mask, x * (1.0 / keep) if count is None else _scaled_mean(x, count, keep),
                     0.0)


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
    key is given (training), scaled by :math:`1/(1-p)`. A rate is a float (compiled
    into the programs that call the network) or a :class:`RunTimeRate`.

    Shapes: ``xs`` is ``(L,)`` int token ids (with an embedding) or ``(L, n_in)``
    floats, padded to ``L``; ``length`` a scalar int (steps at or past it are
    ignored). The result is ``(D,)``.
    """

    embedding: Float[Array, "n_tokens n_in"] | None
    forward: tuple[RecurrentCell, ...]
    backward: tuple[RecurrentCell, ...] | None
    pooling: str = eqx.field(static=True)
    input_dropout: float | RunTimeRate = eqx.field(static=True)
    dropout: float | RunTimeRate = eqx.field(static=True)

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
        count = None  # mean pooling: vec is the sum, its mean is taken with the dropout
        if self.pooling == "last":
            vec = finals
        else:
            on = (jnp.arange(ys.shape[0]) < length)[:, None]
            if self.pooling == "mean":
                vec, count = jnp.sum(jnp.where(on, ys, 0.0), axis=0), jnp.maximum(length, 1)
            else:
                vec = jnp.max(jnp.where(on, ys, -jnp.inf), axis=0)
        k_out = None if key is None else jax.random.fold_in(key, 7)
        return _dropout(vec, self.dropout, k_out, count)


def conv_init(key: np.random.Generator, shape: tuple[int, int], fan_in: int) -> np.ndarray:
    r"""Uniform on :math:`\pm 1/\sqrt{\text{fan in}}` (fan in: kernel size times input
    channels), the default of ``torch.nn.Conv1d`` and ``eqx.nn.Conv1d``."""
    bound = 1.0 / np.sqrt(fan_in)
    return key.uniform(-bound, bound, shape).astype(np.float32)


class Conv1d(eqx.Module):
    r"""A 1-D convolution over time with ``same`` zero padding, as a matrix product:

    .. math:: y_t = [x_{t-a}, \dots, x_{t+K-1-a}]\, W + b, \qquad a = \lfloor (K-1)/2
              \rfloor

    (:math:`x_s = 0` outside the sequence; the offsets of ``lax.conv`` with ``"SAME"``).
    ``W`` is ``(K n_in, n_out)``, the kernel's taps stacked in order. It is written as a
    product of the stacked shifted inputs rather than with ``eqx.nn.Conv1d`` because
    XLA's CPU convolution is about 18 times slower inside the training loop's
    ``lax.scan`` (0.88 s against 0.05 s a step for FCN's blocks on 32 sequences of 24
    steps); the product runs at its plain speed there.

    Shapes: ``x`` ``(L, n_in)``, result ``(L, n_out)``.
    """

    W: Float[Array, "K_n_in n_out"]
    b: Float[Array, " n_out"]
    kernel_size: int = eqx.field(static=True)

    def __init__(self, n_in: int, n_out: int, kernel_size: int, *,
                 key: PRNGKeyArray | np.random.Generator):
        k_w, k_b = host_rng(key).spawn(2)
        fan_in = int(kernel_size) * int(n_in)
        self.W = jax.device_put(conv_init(k_w, (fan_in, int(n_out)), fan_in))
        self.b = jax.device_put(conv_init(k_b, (int(n_out),), fan_in))
        self.kernel_size = int(kernel_size)

    def __call__(self, x: Array) -> Array:
        k = self.kernel_size
        left = (k - 1) // 2
        padded = jnp.pad(x, ((left, k - 1 - left), (0, 0)))
        taps = jnp.concatenate([padded[j: j + x.shape[0]] for j in range(k)], axis=1)
        return taps @ self.W + self.b


class ConvEncoder(eqx.Module):
    r"""The convolutional front end of FCN (Wang et al. 2017), as LSTM-FCN uses it
    (Karim et al. 2018): three blocks of a 1-D convolution over time, a normalisation
    and a ReLU, then the mean over the valid steps (global average pooling).

    Block :math:`j` maps :math:`h^{(j-1)}` (the ``(L, n_in)`` input for the first) to

    .. math:: u_t = \sum_{k} h^{(j-1)}_{t+k} W^{(j)}_k + b^{(j)}, \qquad
              h^{(j)}_t = \mathrm{ReLU}\Big(\gamma \odot \frac{u_t - \mu}{\sqrt{\sigma^2
              + \epsilon}} + \beta\Big) \cdot [t < T]

    with ``same`` zero padding (kernel :math:`K`: offsets :math:`k` from
    :math:`-\lfloor (K-1)/2 \rfloor`; :class:`Conv1d`), filters ``H, 2H, H`` and kernels
    8, 5, 3 (``hidden`` :math:`H` = 128 gives FCN's 128/256/128; the default 64 is a
    quarter of its work). FCN normalises each filter with batch statistics, which need
    a running state; here :math:`\mu, \sigma^2` are each filter's mean and variance
    over the valid steps of the sequence itself (instance normalisation,
    ``norm="channel"``), with a learned gain :math:`\gamma` and offset :math:`\beta`.
    Of the stateless choices it trained fastest: on ArrowHead (36 series, plain Adam,
    150 epochs) its training loss fell to 0.29 (test accuracy 0.76), against 0.42 (0.66)
    normalising over all steps and filters together (``"series"``) and 0.39 (0.65) over
    the filters of each step (``"step"``, a layer norm). Steps at or past the length
    :math:`T` are set to zero after each block and left out of the statistics and the
    mean, so a padded sequence gives exactly what the unpadded one gives.

    Shapes: ``xs`` ``(L, n_in)``, ``length`` a scalar int; the result is ``(H,)``.
    """

    convs: tuple[Conv1d, ...]
    gains: tuple[Float[Array, " C"], ...]
    offsets: tuple[Float[Array, " C"], ...]
    dropout: float | RunTimeRate = eqx.field(static=True)
    norm: str = eqx.field(static=True)
    eps: float = eqx.field(static=True)

    def __init__(self, n_in: int, hidden: int, *, key: PRNGKeyArray | np.random.Generator,
                 dropout: float = 0.0, norm: str = "channel", eps: float = 1e-5):
        keys = host_rng(key).spawn(len(CONV_BLOCKS))
        convs, width = [], int(n_in)
        for (mult, kernel), k in zip(CONV_BLOCKS, keys, strict=True):
            convs.append(Conv1d(width, mult * int(hidden), kernel, key=k))
            width = mult * int(hidden)
        self.convs = tuple(convs)
        self.gains = tuple(jnp.ones(c.b.shape[0]) for c in convs)
        self.offsets = tuple(jnp.zeros(c.b.shape[0]) for c in convs)
        self.dropout, self.norm, self.eps = float(dropout), norm, float(eps)

    @property
    def output_size(self) -> int:
        return int(self.convs[-1].b.shape[0])

    def _normalise(self, h: Array, on: Array, length) -> Array:
        """Mean 0 and variance 1 over the valid steps and all filters (``"series"``) or
        over the filters of each step (``"step"``)."""
        if self.norm == "step":
            mu = jnp.mean(h, axis=1, keepdims=True)
            var = jnp.mean(jnp.square(h - mu), axis=1, keepdims=True)
        elif self.norm == "channel":
            count = jnp.maximum(length, 1)
            mu = jnp.sum(jnp.where(on, h, 0.0), axis=0) / count
            var = jnp.sum(jnp.where(on, jnp.square(h - mu), 0.0), axis=0) / count
        else:
            count = jnp.maximum(length, 1) * h.shape[1]
            mu = jnp.sum(jnp.where(on, h, 0.0)) / count
            var = jnp.sum(jnp.where(on, jnp.square(h - mu), 0.0)) / count
        return (h - mu) / jnp.sqrt(var + self.eps)

    def __call__(self, xs: Array, length, key=None) -> Float[Array, " D"]:
        on = (jnp.arange(xs.shape[0]) < length)[:, None]
        h = jnp.where(on, xs, 0.0)
        for conv, gain, offset in zip(self.convs, self.gains, self.offsets, strict=True):
            h = self._normalise(conv(h), on, length) * gain + offset
            h = jnp.where(on, jax.nn.relu(h), 0.0)
        return _dropout(jnp.sum(h, axis=0), self.dropout,
                        None if key is None else jax.random.fold_in(key, 7),
                        jnp.maximum(length, 1))


class JointEncoder(eqx.Module):
    """A :class:`ConvEncoder` and a :class:`SequenceEncoder` reading the same steps side by
    side, their vectors concatenated (LSTM-FCN, Karim et al. 2018). Shapes: as theirs,
    the result ``(D_conv + D_rec,)``."""

    conv: ConvEncoder
    recurrent: SequenceEncoder

    @property
    def output_size(self) -> int:
        return self.conv.output_size + self.recurrent.output_size

    def __call__(self, xs: Array, length, key=None) -> Float[Array, " D"]:
        k_conv, k_rec = (None, None) if key is None else jax.random.split(key)
        return jnp.concatenate([self.conv(xs, length, k_conv),
                                self.recurrent(xs, length, k_rec)])


def _set_fields(module: eqx.Module, **changes) -> eqx.Module:
    # A copy with some fields replaced, static ones included (as Equinox's unflatten
    # builds a module: no __init__).
    new = object.__new__(type(module))
    new.__dict__.update(module.__dict__)
    new.__dict__.update(changes)
    return new


def _map_rates(model, change):
    """``model`` with each encoder's rate fields (:data:`RATES`) set to ``change(name,
    current)``."""
    def one(node):
        if not isinstance(node, SequenceEncoder | ConvEncoder):
            return node
        return _set_fields(node, **{name: change(name, getattr(node, name)) for name in RATES
                                    if hasattr(node, name)})

    return jax.tree.map(one, model, is_leaf=lambda n: isinstance(n, SequenceEncoder | ConvEncoder))


def with_rates(model, rates: dict[str, float | RunTimeRate]):
    """``model`` (any pytree of encoders) with the dropout rates of its encoders set by
    field name (``{"input_dropout": 0.2, "dropout": RunTimeRate("dropout")}``; a
    :class:`ConvEncoder` has ``dropout`` only); names not given are left as they are."""
    return _map_rates(model, lambda name, rate: rates.get(name, rate))


def fill_rates(model, keep: dict[str, Array]):
    """``model`` with each :class:`RunTimeRate` filled with ``keep[rate.name]``
    (:math:`1 - p`, an array); float rates are left as they are. Inside a compiled
    function the result is called, not passed on (its structure holds the arrays)."""
    def fill(name, rate):
        del name
        if not isinstance(rate, RunTimeRate):
            return rate
        if rate.name not in keep:
            raise ValueError(f"no run-time value for the dropout rate {rate.name!r}")
        return RunTimeRate(rate.name, keep[rate.name])

    return _map_rates(model, fill)


def make_encoder(kind: str, n_in: int, hidden: int, *, key, **options):
    """The encoder ``kind`` (:data:`ENCODERS`): a :class:`SequenceEncoder` takes every
    option, a :class:`ConvEncoder` only ``dropout`` (the recurrent settings do not
    apply to it)."""
    if kind not in ENCODERS:
        raise ValueError(f"unknown encoder {kind!r}; valid: {', '.join(ENCODERS)}")
    if kind == "recurrent":
        return SequenceEncoder(n_in, hidden, key=key, **options)
    if options.get("n_tokens") is not None:
        raise ValueError(f"encoder={kind!r} reads real-valued steps, not token ids")
    k_conv, k_rec = host_rng(key).spawn(2)
    conv = ConvEncoder(n_in, hidden, key=k_conv, dropout=options.get("dropout", 0.0),
                       norm=CONV_NORM)
    if kind == "conv":
        return conv
    return JointEncoder(conv, SequenceEncoder(n_in, hidden, key=k_rec, **options))


class SequenceClassifierNet(eqx.Module):
    r"""An encoder (:data:`ENCODERS`: a :class:`SequenceEncoder`, a :class:`ConvEncoder`
    or both, :class:`JointEncoder`) and a linear output: :math:`z = v W + b`.

    ``z`` are class logits (softmax) or predicted values. Shapes: as the encoder,
    result ``(n_out,)``.
    """

    encoder: SequenceEncoder | ConvEncoder | JointEncoder
    W: Float[Array, "D n_out"]
    b: Float[Array, " n_out"]

    def __init__(self, n_in: int, hidden: int, n_out: int, *, key, init="glorot_uniform",
                 encoder: str = "recurrent", **encoder_options):
        k_enc, k_out = host_rng(key).spawn(2)
        self.encoder = make_encoder(encoder, n_in, hidden, key=k_enc, init=init,
                                    **encoder_options)
        out_init, _ = cell_init(init)
        self.W = jax.device_put(out_init(k_out, (self.encoder.output_size, int(n_out))))
        self.b = jax.device_put(np.zeros(int(n_out), np.float32))

    def __call__(self, xs: Array, length, key=None) -> Float[Array, " n_out"]:
        return self.encoder(xs, length, key) @ self.W + self.b
