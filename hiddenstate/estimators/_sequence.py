"""``hiddenstate.SequenceModel``: Elman, LSTM and GRU networks on sequences, symbol strings and
token sequences."""

from __future__ import annotations

import dataclasses
import math
from numbers import Integral, Real

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import _serialize
from .._errors import InputError, ModelFileError
from ..distributed import device
from ..nn._cells import CELL_INITS, CELLS
from ..nn._sequence import SequenceNet
from ..objectives import SequenceObjective
from ._base import IncrementalMixin, TrainingData, TrainingMixin
from ._inference import apply_batched, pow2
from ._inputs import check_kind, check_settings, input_kind, kind_words, read_sequences
from ._params import TRAINING_CONSTRAINTS, RegistryOptions, store_params
from ._scaling import SCALES, Scaling, check_kept_scaling, fit_scaling
from ._scoring import label_at
from ._tokens import Vocabulary, pad_ids

__all__ = ["END", "SequenceModel", "SequenceObjective"]

#: How :meth:`SequenceModel.predict` shows the reserved end marker (as token models do).
END = "</s>"
#: Most symbols :meth:`SequenceModel.sample` draws in one call (``n * max_length``): the
#: drawn indices and random keys take about 12 bytes each.
MAX_SAMPLE_SYMBOLS = 10**8
#: Samples drawn per compiled call: at most this many symbols at once (about 200 MB).
_SAMPLE_CHUNK_SYMBOLS = 1 << 24

#: Training pads minibatches to at most this many lengths, multiples of _STEP. Each bucket
#: is one more branch of the compiled epoch (about 0.35 s more XLA compilation on 2 cores);
#: on W3 (Reber strings of 10-31 steps) one bucket took 47 us per online update, two 30 us,
#: three 24-27 us.
_MAX_BUCKETS = 2
_STEP = 4


@dataclasses.dataclass(frozen=True)
class HorizonObjective(SequenceObjective):
    r"""Squared error of direct multi-horizon forecasts: at step ``t`` the outputs are
    the next ``horizon`` values :math:`\hat x_{t+1}, \dots, \hat x_{t+H}` (``H d``
    outputs, horizon-major). ``batch = (xs (B, L, d), ys (B, L, H d + H), mask (B, L))``:
    the last ``H`` columns of ``ys`` say which targets are known. A step's loss is the
    sum over its known horizons of the error averaged over the channels; a sequence's,
    the mean over its counted (step, known horizon) pairs."""

    horizon: int = 1

    def _known(self, batch) -> Array:
        _, ys, mask = batch
        return ys[..., -self.horizon :] * mask[..., None]

    def per_step(self, model, batch) -> Array:
        xs, ys, _ = batch
        z = model(xs[0])[None] if xs.shape[0] == 1 else jax.vmap(model)(xs)
        known = self._known(batch)
        err = jnp.square(z - ys[..., : -self.horizon]).reshape(*known.shape, -1)
        return jnp.sum(err.mean(axis=-1) * known, axis=-1)

    def per_example(self, model, batch, key=None) -> Array:
        return (jnp.sum(self.per_step(model, batch), axis=-1)
                / jnp.maximum(jnp.sum(self._known(batch), axis=(-2, -1)), 1.0))


@eqx.filter_jit
def _per_sequence(model, batch, objective: SequenceObjective):
    return objective.per_example(model, batch)


@eqx.filter_jit
def _step_losses(model, batch, objective: SequenceObjective):
    return objective.per_step(model, batch)


@eqx.filter_jit
def _forward(model, xs, output: str):
    return _outputs(jax.vmap(model)(xs), output)


def _init_net(key, **settings) -> SequenceNet:
    return SequenceNet(key=key, **settings)  # drawn on the host: nothing to compile


@eqx.filter_jit
def _sample(model, prefix, keys, *, steps: int, stop: int, n_stops: int, end: int, output: str,
            temperature: float):
    """Continue ``prefix`` (one-hot rows, at least one) for ``steps`` draws, once per key.

    Drawn symbols are returned as their index; after the ``n_stops``-th ``stop`` (kept)
    or the ``end`` index (reserved end marker, not kept; -1: none) every entry is -1.
    """
    n_in = prefix.shape[-1]

    def one(k):
        state, _ = jax.lax.scan(lambda s, x: (model.step(s, x)[0], None),
                                model.initial_state(), prefix[:-1])

        def body(carry, k_t):
            state, x, stops, ended = carry
            done = (stops >= n_stops) | ended
            state, z = model.step(state, x)
            if output == "sigmoid":  # the seed normalises the multi-hot outputs
                p = jax.nn.sigmoid(z)
                logp = jnp.log(jnp.maximum(p / jnp.sum(p), 1e-12)) / temperature
            else:
                logp = z / temperature
            sym = jax.random.categorical(k_t, logp)
            is_end = sym == end
            x = jax.nn.one_hot(sym, n_in)
            sym = jnp.where(done | is_end, -1, sym)
            return (state, x, stops + (sym == stop), ended | is_end), sym

        carry = (state, prefix[-1], jnp.asarray(0), jnp.asarray(False))
        _, syms = jax.lax.scan(body, carry, jax.random.split(k, steps))
        return syms

    return jax.vmap(one)(keys)


def _outputs(z, output: str):
    if output == "sigmoid":
        return jax.nn.sigmoid(z)
    if output == "softmax":
        return jax.nn.softmax(z, axis=-1)
    return z


@eqx.filter_jit
def _step(model, state, x, output: str):
    state, z = jax.vmap(model.step)(state, x)
    return state, _outputs(z, output)


@eqx.filter_jit
def _forecast(model, xs, lengths, *, steps: int):
    """Read each padded sequence up to its length, then feed each prediction back as the
    next input for ``steps`` steps: ``(n, steps, n_out)``."""

    def one(x, length):
        def read(carry, inp):
            state, last = carry
            x_t, t = inp
            new, z = model.step(state, x_t)
            keep = t < length
            state = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, state)
            return (state, jnp.where(keep, z, last)), None

        z0 = jnp.zeros(model.c.shape, model.c.dtype)
        (state, z), _ = jax.lax.scan(read, (model.initial_state(), z0),
                                     (x, jnp.arange(x.shape[0])))

        def ahead(carry, _):
            state, z = carry
            state, z_next = model.step(state, z)
            return (state, z_next), z

        _, out = jax.lax.scan(ahead, (state, z), None, length=steps)
        return out

    return jax.vmap(one)(xs, lengths)


def length_buckets(lengths, max_buckets: int = _MAX_BUCKETS,
                   step: int = _STEP) -> tuple[np.ndarray, tuple[int, ...]]:
    """Group sequence lengths into at most ``max_buckets`` padded lengths.

    Candidate lengths are the multiples of ``step`` that cover some sequence;
    among them the ``max_buckets`` that minimise the total padded steps are
    chosen (dynamic programming), the longest always included. Returns each
    sequence's bucket and the buckets' lengths, shortest first.
    """
    lengths = np.asarray(lengths, np.int64)
    padded = -(-lengths // step) * step
    cands, counts = np.unique(padded, return_counts=True)
    k = len(cands)
    if k > max_buckets:
        # cost[i][j]: steps when the candidates i..j are padded to cands[j].
        cum = np.concatenate([[0], np.cumsum(counts)])
        best = {(0, j): cands[j] * cum[j + 1] for j in range(k)}
        back = {}
        for b in range(1, max_buckets):
            for j in range(b, k):
                opts = [(best[(b - 1, i)] + cands[j] * (cum[j + 1] - cum[i + 1]), i)
                        for i in range(b - 1, j)]
                best[(b, j)], back[(b, j)] = min(opts)
        chosen, j = [k - 1], k - 1
        for b in range(max_buckets - 1, 0, -1):
            j = back[(b, j)]
            chosen.append(j)
        cands = cands[sorted(chosen)]
    row_bucket = np.searchsorted(cands, padded).astype(np.int32)
    return row_bucket, tuple(int(c) for c in cands)


@_serialize.register
class SequenceModel(IncrementalMixin, TrainingMixin, BaseEstimator):
    r"""Recurrent network (Elman, LSTM or GRU) that maps a sequence to per-step outputs.

    Symbol strings: ``fit(strings, alphabet=...)`` learns to predict the next
    symbol (``output='softmax'``), or, given ``Y`` (one ``(len(s) - 1, k)`` array
    per string, e.g. :func:`~hiddenstate.datasets.reber_targets`), multi-hot
    targets (``output='sigmoid'``). Real-valued sequences: ``fit(X, Y)`` with lists
    of ``(T_i, n_in)`` and ``(T_i, n_out)`` arrays. Token sequences (a language
    model, the LM-LSTM pretraining of Dai & Le 2015): ``fit(X)`` with lists of
    tokens (lists of str); a :class:`~hiddenstate.estimators._tokens.Vocabulary`
    maps them to ids (0 for tokens out of the vocabulary, 1 for the end marker),
    the network reads their learned embeddings and learns to predict each next
    token and, after the last one, the end marker (softmax over the vocabulary,
    from integer targets).

    Begin and end of a symbol string: with ``markers='auto'`` (the default) the model
    adds a reserved boundary symbol before and after every string (one more input and
    output unit), so it learns how strings start and when they end, and
    :meth:`sample` needs no start or stop symbol: any file of strings works as it is.
    Strings that carry the seed's own delimiters (every string begins with ``B`` and
    ends with ``E``, as the Reber grammar's) are used as they are, exactly the seed's
    recipe; so are strings given with targets ``Y``. Sequences are padded to a
    multiple of 8 steps with a mask; a whole epoch is one compiled loop. Minibatches
    are drawn from at most two length buckets (multiples of 4 steps), each
    minibatch from one bucket, so short sequences are not run to the longest one's
    length. A 2-D array ``(n, T)`` is refused (give ``list(X[:, :, None])`` and
    targets); a masked array (``numpy.ma``) is read as its kind, but a masked step is
    a missing value, which this model cannot use: it is refused, naming the sequence,
    step and feature. Inputs are read by :mod:`hiddenstate.estimators._inputs`, as by
    every sequence estimator (the same kinds, settings and messages).

    Parameters
    ----------
    cell : {'lstm', 'elman', 'gru'}, default='lstm'
        The recurrent cell (any name in :data:`hiddenstate.nn.CELLS`).
    hidden_size : int, default=32
        Hidden units of each recurrent layer.
    num_layers : int, default=1
        Stacked recurrent layers.
    output : {'softmax', 'sigmoid', 'linear'}, default='softmax'
        Output of each step and its loss: softmax cross-entropy (next symbol),
        sigmoid cross-entropy (multi-hot targets) or squared error (values).
    init : {'glorot_uniform', 'seed'}, default='glorot_uniform'
        ``seed``: uniform(-1, 1) divided by the largest singular value (seed 002)
        for every matrix; otherwise Glorot inputs and orthogonal recurrences.
    forget_bias : float, default=2.0
        Initial LSTM forget-gate bias (the cell's own default is 1). With online
        Adam at 0.01 on fresh embedded Reber strings of the seed's kind, bias 2 and
        32 units solved 10 of 10 seeds (median 2,250 strings; ``python
        benchmarks/embedded_reber_seeds.py stream``); bias 1 and 16 units only 3
        of 10 within 20,000 strings.
    activation : {'tanh', 'relu'}, default='tanh'
        Elman cell nonlinearity.
    optimizer, learning_rate, learning_rate_schedule, momentum, clip_norm :
        As :class:`~hiddenstate.Autoencoder` (defaults: adam, 0.01, cosine, 0.9, None).
        Clipping the gradient's global norm to 1 slowed the long-range learning. The
        cosine schedule decays the rate to 1% over ``max_iter`` epochs; with
        ``warm_start`` each call would restart it, so continue training at
        ``learning_rate_schedule='constant'``.
    batch_size : int or None, default=1
        Sequences per update (1: online, as the seed).
    bucket_lengths : sequence of int or None, default=None
        The padded lengths (steps) of the training buckets; each sequence goes to
        the shortest one that holds it, and each minibatch comes from one bucket.
        ``None``: at most two multiples of 4 chosen to minimise padding (a
        warm-started fit on data no longer than before keeps the previous ones).
        Fix them to keep one compiled loop across calls on streamed data.
    curriculum : int, default=1
        Epochs at the start of a fresh fit that present the sequences from the
        shortest to the longest (minibatches; full-batch training ignores it),
        before shuffled epochs. On the embedded Reber grammar one such epoch made
        the default LSTM learn the long-range symbol on the two of 42 (data, seed)
        pairs where shuffled epochs alone had not within 8 epochs.
    max_iter : int, default=8
        Epochs. With the other defaults (online Adam at 0.01 decayed by a cosine,
        no clipping, softmax next-symbol loss, 32 units, forget-gate bias 2), 8 epochs
        of 5,000 embedded Reber strings of the seed's kind gave long-range accuracy
        1.000 for 10 of 10 seeds, and 0.997-1.000 of 1,000 samples in the grammar
        (GRU: 1.000 and 0.991-0.997; a constant rate left one LSTM seed at 0.985);
        ``python benchmarks/embedded_reber_seeds.py default`` measures it.
    embedding_dim : int, default=32
        Size of the learned token embedding (token sequences only).
    min_count : int, default=1
        Tokens seen fewer times in the training sequences are out of the vocabulary
        (token sequences only).
    max_features : int or None, default=None
        Keep only this many of the most frequent tokens (token sequences only;
        None: all).
    markers : {'auto', True, False}, default='auto'
        Reserved begin and end markers around each symbol string (symbol strings
        only). ``True``: always; ``False``: never (the strings carry their own, as the
        seed's ``B...E``); ``'auto'``: unless every string begins with ``B`` and ends
        with ``E`` (the seed's convention, :meth:`sample`'s default start and stop) or
        targets ``Y`` are given. With markers,
        :meth:`predict_proba` and :meth:`score_samples` have one more step than the
        string has symbols (the first symbol's prediction to the end's), the outputs
        one more column (the end, last), and strings may have any length.
    scale : {'auto', 'standard', 'minmax', 'series', 'none'}, default='auto'
        Scaling of real-valued sequences (per channel to mean 0 and variance 1, to
        [0, 1], each sequence by its own statistics, or none), fitted on the training
        sequences, stored in the model file and undone in every
        prediction and forecast (values come back in the data's units; :meth:`score`
        and :meth:`score_samples` stay in scaled units). ``'auto'``: ``'standard'``
        (per-channel mean 0, variance 1) for real-valued sequences; symbol strings and
        token sequences are never scaled (they take ``'auto'`` or ``'none'``). Targets
        ``Y`` that are the inputs' own channels (next-step pairs, ``Y[i][:-1] ==
        X[i][1:]``, or ``Y == X``) are scaled with the inputs' statistics, other linear
        targets with their own.
    missing : {'error', 'interpolate'}, default='error'
        Missing values (NaN, masked steps) of real-valued sequences: refused with their
        position, or filled by linear interpolation along their channel.
    horizon : int or None, default=None
        Forecasting (real-valued series, ``fit(X)`` without ``Y``, ``output='linear'``):
        at every step the network outputs the next ``horizon`` values of every channel
        at once (direct multi-horizon outputs, trained on the squared error over the
        horizons), and :meth:`forecast` gives split conformal prediction intervals. The
        last ``validation_fraction`` of each series (at least ``horizon + 9`` steps, so
        every horizon has 10 forecast origins) is held out: training stops by its loss
        when ``early_stopping`` (the best epoch's parameters are kept; the loss of the
        first half of each series' held-out origins); the trained model's forecasts are
        averaged with those of its linear start (``lags``), and if the start alone does
        better on the second half of the held-out origins, it is kept. The linear start
        is the iterated autoregression (at the AIC order of the training part or of the
        whole series), or the direct one or their mean where it beats the iterated one
        significantly on rolling origins over the last half of the series, refitted
        by least squares as they advance (``linear_``). The calibration of the
        intervals: those rolling-origin errors (many origins, so the conformal quantile
        is not the largest error), times the ratio of the recurrent model's held-out
        errors to its linear start's when the recurrence is kept. The same model is then
        fitted on the whole series (as many epochs; ``refit_epochs_``; ``forecaster_``
        says what was kept). On the panel's
        development splits the averaging lowered the spread over seeds without raising
        the error. None: next-step
        targets ``Y`` (the seed's recipe).
    lags : 'auto' or int, default='auto'
        With ``horizon``: the order :math:`p` of the linear autoregressive path beside
        the recurrence (:class:`~hiddenstate.nn.SequenceNet`), initialised by least
        squares on the training part, each horizon on its own (a direct
        autoregression), with the recurrence's readout at zero, so training starts from
        that autoregression and early stopping keeps what the recurrence adds to it.
        ``'auto'``: the order by AIC (:func:`hiddenstate.forecasting.fit_ar`, up to
        :func:`~hiddenstate.forecasting.default_max_order` with the period
        :func:`~hiddenstate.forecasting.detect_period` finds); 0: none. Without
        ``horizon``: ``'auto'`` (no path).
    context : 'auto' or int, default='auto'
        With ``horizon``: steps read before each forecast (training windows of this
        length, the loss on their second half; :meth:`forecast` reads the last
        ``context`` steps). ``'auto'``: ``max(2 * lags, 2 * horizon, 24)``, at most what
        the training part allows. Without ``horizon``: ``'auto'``.
    random_state, verbose, warm_start, early_stopping, ... : as the Autoencoder.

    Attributes
    ----------
    model_ : SequenceNet
    alphabet_ : str or None
        The symbols, for string data.
    markers_ : bool
        Whether the model adds its reserved begin and end markers (string data).
    vocabulary_ : Vocabulary or None
        The tokens, for token sequences (learned by a fresh fit, kept by a warm
        start or ``partial_fit``).
    n_features_in_, n_outputs_ : int
        Inputs and outputs per step (tokens: the embedding size and the number of
        ids, ``len(vocabulary_)``).
    scaling_ : Scaling
        The fitted scaling of the inputs (``kind='none'`` for symbols and tokens).
    lags_, context_ : int
        The resolved ``lags`` and ``context`` (0 without ``horizon``).
    calibration_residuals_ : ndarray of shape (n_origins, horizon, n_features) or None
        With ``horizon``: the calibration forecasts' errors (truth minus forecast, in
        scaled units; NaN where the truth lies past the series' end): the linear path's
        on rolling origins (with the recurrence kept, scaled by its held-out error ratio
        to the linear path).
    refit_epochs_ : int
        With ``horizon``, after a fresh fit: the epochs of the final training on the
        whole series (0: the recurrence did not improve the held-out loss of the linear
        path alone, and the model is that autoregression).
    forecaster_ : str or None
        With ``horizon``: what the fit chose, e.g. ``'direct AR(2)'`` (the linear path
        alone) or ``'LSTM + iterated AR(9)'`` (the recurrence beside it); stored in the
        model file (None in files written before it).
    linear_, linear_order_ : str, int
        With ``horizon``, after a fresh fit: the linear path (``'iterated'``, ``'direct'``
        or ``'mean'``) and its order, chosen on rolling origins; ``linear_scores_``
        holds each candidate's mean RMSE over the horizons there (scaled units).
    loss_curve_ : list of float
    """

    _parameter_constraints: dict = {
        "cell": [RegistryOptions(CELLS)],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "output": [StrOptions({"softmax", "sigmoid", "linear"})],
        "init": [StrOptions(set(CELL_INITS))],
        "forget_bias": [Real],
        "activation": [StrOptions({"tanh", "relu"})],
        "bucket_lengths": [None, list, tuple],
        "curriculum": [Interval(Integral, 0, None, closed="left")],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "markers": [StrOptions({"auto"}), "boolean"],
        "scale": [StrOptions(set(SCALES))],
        "missing": [StrOptions({"error", "interpolate"})],
        "horizon": [Interval(Integral, 1, None, closed="left"), None],
        "lags": [StrOptions({"auto"}), Interval(Integral, 0, None, closed="left")],
        "context": [StrOptions({"auto"}), Interval(Integral, 2, None, closed="left")],
        **TRAINING_CONSTRAINTS,
    }

    def __init__(self, cell="lstm", *, hidden_size=32, num_layers=1, output="softmax",
                 init="glorot_uniform", forget_bias=2.0, activation="tanh", optimizer="adam",
                 learning_rate=0.01, learning_rate_schedule="cosine", momentum=0.9,
                 clip_norm=None, batch_size=1, bucket_lengths=None, curriculum=1, max_iter=8,
                 embedding_dim=32, min_count=1, max_features=None, markers="auto", scale="auto",
                 missing="error", horizon=None, lags="auto", context="auto", shuffle=True,
                 early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, random_state=None,
                 verbose=False, warm_start=False, checkpoint_dir=None, checkpoint_every=10,
                 resume=False, devices=None):
        store_params(self, locals())

    # -- data ----------------------------------------------------------------------------------
    @staticmethod
    def _check_alphabet(alphabet) -> str:
        if not isinstance(alphabet, str) or not alphabet:
            raise ValueError(f"alphabet must be a non-empty string of symbols, got {alphabet!r}")
        seen: set[str] = set()
        for j, ch in enumerate(alphabet):
            if ch in seen:
                raise ValueError(f"alphabet {alphabet!r} repeats the symbol {ch!r} "
                                 f"(position {j + 1}); each symbol must appear once")
            seen.add(ch)
        return alphabet

    def _resolve_markers(self, strings, Y) -> bool:
        """Whether a fresh fit on ``strings`` adds the reserved markers."""
        if isinstance(self.markers, str):  # 'auto'
            seeds = all(len(s) >= 2 and s[0] == "B" and s[-1] == "E" for s in strings)
            return Y is None and not seeds
        if self.markers and Y is not None:
            raise ValueError("markers=True needs next-symbol targets (Y=None): the targets "
                             "Y give one row per symbol after the first; pass "
                             "markers=False or 'auto' with Y")
        return bool(self.markers)

    def _input_kind(self) -> str:
        """The kind of input (:data:`~hiddenstate.estimators._inputs.KINDS`) the model read."""
        if getattr(self, "vocabulary_", None) is not None:
            return "tokens"
        return "sequences" if getattr(self, "alphabet_", None) is None else "symbols"

    def _tokens(self, X, Y, *, fitting: bool):
        """Input ids (the tokens) and target ids (the next tokens, then the end marker)."""
        if Y is not None:
            raise InputError("token sequences take no targets Y: the model learns to "
                             "predict each next token")
        if fitting and self.output != "softmax":
            raise ValueError(f"token sequences need output='softmax' (a distribution "
                             f"over the next token), got output={self.output!r}")
        seqs = read_sequences(X, kind="tokens", strings="symbols", end=True,
                              vocabulary=None if fitting else self.vocabulary_,
                              min_count=self.min_count, max_features=self.max_features)
        if fitting:
            self.alphabet_, self.markers_ = None, False
            self.vocabulary_ = seqs.vocabulary
        return [i[:-1] for i in seqs.arrays], [i[1:] for i in seqs.arrays]

    def _sequences(self, X, Y, alphabet, *, fitting: bool, stats: bool = False):
        """Lists of input and target arrays (``fitting``: learn the alphabet or the
        vocabulary, or the scaling); for token sequences, 1-D int arrays of ids.
        Real-valued sequences come back scaled (``scaling_``); with ``stats``, also each
        sequence's ``(loc, scale)`` of the targets' scaling, for :meth:`_data_units`."""
        kind = input_kind(X, strings="symbols", missing=self.missing)
        check_kind(kind, accepted=("symbols", "tokens", "sequences"),
                   trained=None if fitting else self._input_kind())
        if fitting:
            check_settings(self, kind)
            self._check_kind_settings(kind)
        if kind == "tokens":
            xs, ys = self._tokens(X, Y, fitting=fitting)
            if fitting:
                self.scaling_, self.target_scaling_ = Scaling("none"), None
            return (xs, ys, None) if stats else (xs, ys)
        if kind == "symbols":
            if fitting:
                self.alphabet_ = (self._check_alphabet(alphabet) if alphabet is not None
                                  else "".join(sorted(set("".join(X)))))
                self.vocabulary_ = None
                self.markers_ = self._resolve_markers(X, Y)
                self.scaling_, self.target_scaling_ = Scaling("none"), None
            markers = bool(getattr(self, "markers_", False))
            if markers and Y is not None:
                raise InputError("this model adds begin and end markers: it learns next "
                                 "symbols, not given targets Y")
            onehots = read_sequences(X, kind=kind, alphabet=self.alphabet_, markers=markers,
                                     min_steps=2).arrays
            xs = [o[:-1] for o in onehots]
            ys = [o[1:] for o in onehots] if Y is None else [np.asarray(y, np.float32)
                                                              for y in Y]
            if ys is not None:
                self._check_targets(xs, ys)
            return (xs, ys, None) if stats else (xs, ys)
        if fitting:
            self.alphabet_ = self.vocabulary_ = None
            self.markers_ = False
        xs = read_sequences(X, kind=kind, missing=self.missing,
                            n_features=None if fitting else self.n_features_in_).arrays
        ys = None if Y is None else [np.asarray(y, np.float32) for y in Y]
        if ys is not None:
            self._check_targets(xs, ys)
        xs, ys, st = self._scaled(xs, ys, fitting=fitting)
        return (xs, ys, st) if stats else (xs, ys)

    def _check_kind_settings(self, kind: str) -> None:
        """Refuse (at a fresh fit) a setting given for a kind of input it does not
        apply to, or a combination that has no effect. (The token settings,
        ``embedding_dim``, ``min_count`` and ``max_features``, are read alike by every
        sequence estimator; ``rnn fit`` refuses them on a series.)"""
        if kind != "sequences":
            for name, ok in (("scale", ("auto", "none")), ("missing", ("error",)),
                             ("horizon", (None,)), ("lags", ("auto",)),
                             ("context", ("auto",))):
                if getattr(self, name) not in ok:
                    raise ValueError(f"{name}={getattr(self, name)!r} applies to real-valued "
                                     f"sequences; {kind_words(kind)} take {name}={ok[0]!r}")
        if self.horizon is None:
            for name in ("lags", "context"):
                if getattr(self, name) != "auto":
                    raise ValueError(f"{name}={getattr(self, name)!r} applies to forecasting "
                                     f"models: give horizon= as well")
        elif self.output != "linear":
            raise ValueError(f"horizon={self.horizon} forecasts values: it needs "
                             f"output='linear', got output={self.output!r}")

    # -- scaling -------------------------------------------------------------------------------
    @staticmethod
    def _same_channels(xs, ys) -> bool:
        """Whether the targets are the inputs' own channels: next-step pairs or the inputs."""
        return all(x.shape[1] == y.shape[1] and (np.array_equal(x[1:], y[:-1])
                                                 or np.array_equal(x, y))
                   for x, y in zip(xs, ys, strict=True))

    def _scaled(self, xs, ys, *, fitting: bool):
        """``(xs, ys, stats)`` in scaled units; ``fitting``: fit ``scaling_`` (and
        ``target_scaling_``: None for the inputs' statistics) first."""
        if fitting:
            kind = "standard" if self.scale == "auto" else self.scale
            self.scaling_ = fit_scaling(kind, xs)
            if ys is None or self._same_channels(xs, ys):
                self.target_scaling_ = None
            elif self.output != "linear":
                self.target_scaling_ = Scaling("none")
            else:
                self.target_scaling_ = fit_scaling("standard" if kind == "series" else kind, ys)
        scaling = self.scaling_
        st = scaling.statistics(xs)
        xs = scaling.transform(xs)
        if ys is not None and self.target_scaling_ is not None:
            st = self.target_scaling_.statistics(ys)
            ys = self.target_scaling_.transform(ys)
        elif ys is not None and scaling.kind != "none":
            ys = [((y - loc) / sc).astype(np.float32)
                  for y, (loc, sc) in zip(ys, st, strict=True)]
        return xs, ys, st

    def _data_units(self, outputs, st):
        """Linear outputs (``(..., k d)`` for ``k`` values of each of the ``d`` target
        channels) mapped back to the data's units with each sequence's statistics."""
        scaling = self.target_scaling_ or self.scaling_
        if self.output != "linear" or st is None or scaling.kind == "none":
            return outputs
        out = []
        for o, (loc, sc) in zip(outputs, st, strict=True):
            o = np.asarray(o, np.float64)
            shape = o.shape
            o = o.reshape(*shape[:-1], -1, len(loc)) * sc + loc
            out.append(o.reshape(shape).astype(np.float32))
        return out

    @staticmethod
    def _check_targets(xs, ys) -> None:
        if len(ys) != len(xs):
            raise InputError(f"{len(xs)} input sequences but {len(ys)} target sequences")
        for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
            if y.ndim != 2 or y.shape[0] != x.shape[0]:
                raise InputError(f"targets {y.shape} do not match the inputs' {x.shape[0]} "
                                 "steps", index=i)
            if not np.isfinite(y).all():
                raise InputError("non-finite target", index=i)

    @staticmethod
    def _pad(seqs: list[np.ndarray], length: int) -> np.ndarray:
        out = np.zeros((len(seqs), length, seqs[0].shape[1]), np.float32)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = s
        return out

    def _padded(self, xs, ys, length: int):
        """``(xs (n, L, n_in), ys (n, L, n_out), mask (n, L))``; for token ids
        ``(ids (n, L) int32, next ids (n, L) int32, mask (n, L))``."""
        mask = self._pad([np.ones((len(x), 1), np.float32) for x in xs], length)[..., 0]
        if xs[0].ndim == 1:
            return pad_ids(xs, length)[0], pad_ids(ys, length)[0], mask
        return self._pad(xs, length), self._pad(ys, length), mask

    def _buckets(self, seq_lengths: np.ndarray, reset: bool):
        """``(row_bucket, lengths)`` of the training buckets."""
        kept = None if reset else getattr(self, "_bucket_lengths", None)
        if self.bucket_lengths is not None:
            lengths = tuple(sorted({int(b) for b in self.bucket_lengths}))
            if not lengths or lengths[0] < 1:
                raise ValueError(f"bucket_lengths must be positive integers, got "
                                 f"{self.bucket_lengths!r}")
            too_long = np.flatnonzero(seq_lengths > lengths[-1])
            if too_long.size:
                i = int(too_long[0])
                raise InputError(f"{seq_lengths[i]} input steps, more than the longest bucket "
                                 f"({lengths[-1]}) in bucket_lengths", index=i)
        elif kept and seq_lengths.max() <= kept[-1]:
            # Continuing on new data of no greater length: the same buckets and padded
            # shapes, so the compiled loop is reused.
            lengths = kept
        else:
            return length_buckets(seq_lengths)
        # each sequence to the shortest bucket that holds it
        return np.searchsorted(np.asarray(lengths), seq_lengths).astype(np.int32), lengths

    @staticmethod
    def _check_padded_memory(xs, ys, seq_lengths: np.ndarray, length: int) -> None:
        """Refuse training data whose padded copy (every sequence padded to the longest
        bucket) would take more than half the memory this process may use."""
        from .._limits import available_memory, format_bytes

        width = 2 if xs[0].ndim == 1 else xs[0].shape[1] + ys[0].shape[1]
        need = 4 * len(xs) * int(length) * (width + 1)
        have = available_memory() // 2
        if need > have:
            i = int(np.argmax(seq_lengths))
            raise InputError(
                f"padding the {len(xs):,} sequences to {int(length):,} steps (the longest "
                f"bucket) needs {format_bytes(need)}, more than half the memory this machine "
                f"allows ({format_bytes(have)}); the longest sequence has "
                f"{int(seq_lengths[i]):,} steps: split or drop long sequences, or give shorter "
                f"bucket_lengths", index=i)

    # -- training ------------------------------------------------------------------------------
    def _new_model(self, key) -> SequenceNet:
        vocabulary = getattr(self, "vocabulary_", None)
        tokens = {} if vocabulary is None else {"n_tokens": len(vocabulary)}
        lags = int(getattr(self, "lags_", 0))
        net = _init_net(key, n_in=int(self.n_features_in_), hidden=int(self.hidden_size),
                        n_out=int(self.n_outputs_), cell=self.cell,
                        num_layers=int(self.num_layers), init=self.init,
                        forget_bias=float(self.forget_bias), activation=self.activation,
                        **tokens, **({"lags": lags} if lags else {}))
        start = self.__dict__.pop("_ar_init", None)
        if start is not None:  # a fresh forecaster starts as the least-squares autoregression
            A, c = start
            where = (lambda m: (m.V, m.c, m.A)) if lags else (lambda m: (m.V, m.c))
            values = (jnp.zeros_like(net.V), jnp.asarray(c, jnp.float32))
            net = eqx.tree_at(where, net, (*values, jnp.asarray(A, jnp.float32))[: 3 if lags
                                                                                   else 2])
        return net

    def _parameter_estimate(self) -> int | None:
        from .._limits import recurrent_parameters

        cells = recurrent_parameters(self.cell, int(self.n_features_in_), int(self.hidden_size),
                                     int(self.num_layers))
        if cells is None:
            return None
        vocabulary = getattr(self, "vocabulary_", None)
        embedding = 0 if vocabulary is None else len(vocabulary) * int(self.n_features_in_)
        ar = int(getattr(self, "lags_", 0)) * int(self.n_features_in_) * int(self.n_outputs_)
        return cells + (int(self.hidden_size) + 1) * int(self.n_outputs_) + embedding + ar

    def _objective(self) -> SequenceObjective:
        if getattr(self, "horizon_", None):
            return HorizonObjective(self.output, horizon=int(self.horizon_))
        return SequenceObjective(self.output)

    def _curriculum(self) -> int:
        return int(self.curriculum)

    def _description(self) -> str:
        return f"SequenceModel({self.cell})"

    def _prepare(self, X, Y=None, *, reset: bool, alphabet: str | None = None) -> TrainingData:
        if not reset:
            real = self.alphabet_ is None and self.vocabulary_ is None
            check_kept_scaling(self.scale, self.scaling_, "standard" if real else "none")
        if reset:
            self.horizon_ = None if self.horizon is None else int(self.horizon)
            self.lags_ = self.context_ = 0
            self.calibration_residuals_ = None
        if self.horizon_:
            return self._prepare_horizon(X, Y, reset=reset)
        xs, ys = self._sequences(X, Y, alphabet, fitting=reset)
        if ys is None:
            raise InputError("real-valued sequences need targets Y")
        if self.vocabulary_ is not None:
            if reset:
                self.n_features_in_ = int(self.embedding_dim)
                self.n_outputs_ = len(self.vocabulary_)
        elif reset:
            self.n_features_in_, self.n_outputs_ = xs[0].shape[1], ys[0].shape[1]
        elif ys[0].shape[1] != self.n_outputs_:
            raise InputError(f"targets have {ys[0].shape[1]} outputs, the model has "
                             f"{self.n_outputs_}")
        seq_lengths = np.array([len(x) for x in xs])
        row_bucket, lengths = self._buckets(seq_lengths, reset)
        self._check_padded_memory(xs, ys, seq_lengths, lengths[-1])
        self._bucket_lengths = lengths
        return TrainingData(self._padded(xs, ys, lengths[-1]), (row_bucket, lengths),
                            seq_lengths, extra={"variance": self._variance(ys)})

    def _variance(self, ys) -> float | None:
        """The mean per-channel variance of linear targets (as trained)."""
        if self.output != "linear" or not ys or ys[0].ndim != 2:
            return None
        return float(np.mean(np.concatenate(ys).astype(np.float64).var(axis=0)))

    def _target_variance(self, data: TrainingData) -> float | None:
        """The loss-variance warning's hook (:class:`TrainingMixin`): that of the linear
        targets, or of a forecaster's targets on its training part."""
        extra = data.extra if isinstance(data.extra, dict) else {}
        if "calibration" in extra:
            return self._variance(list(extra["calibration"][0]))
        return extra.get("variance")

    # -- forecasting (horizon) -----------------------------------------------------------------
    def _horizon_targets(self, x: np.ndarray, end: int | None = None) -> np.ndarray:
        """``(T, H d + H)``: at step ``t`` the next ``H`` values of every channel (horizon-
        major, zeros where unknown), then whether each is known (``t + k < end``)."""
        H = int(self.horizon_)
        T, d = x.shape
        end = T if end is None else end
        t = np.arange(T)[:, None] + np.arange(1, H + 1)[None]
        known = t < end
        values = x[np.minimum(t, end - 1)] * known[..., None]
        return np.concatenate([values.reshape(T, H * d), known], axis=1).astype(np.float32)

    def _calibration_start(self, T: int, i: int) -> int:
        """Where series ``i`` (``T`` steps) is split: training before, calibration after."""
        H = int(self.horizon_)
        held = max(math.ceil(float(self.validation_fraction) * T), H + 9)
        if T - held < 3 * H and T - held < 12:
            raise InputError(
                f"{T} steps are too few to forecast {H} steps ahead: the last {held} "
                f"(validation_fraction={self.validation_fraction}, at least horizon + 9) "
                f"calibrate the intervals and at least max(3 * horizon, 12) must remain "
                f"to train on; give a longer series or a shorter horizon", index=i)
        return T - held

    @staticmethod
    def _aic_order(x: np.ndarray) -> int:
        """The AIC order of :func:`hiddenstate.forecasting.fit_ar` on ``x`` (up to
        :func:`~hiddenstate.forecasting.default_max_order` with the detected period)."""
        from .._baselines import default_max_order, detect_period, fit_ar

        top = default_max_order(len(x), detect_period(x))
        return fit_ar(x, max_order=min(top, max(0, (len(x) - 3) // 2))).order

    def _resolve_orders(self, parts: list[np.ndarray], whole: list[np.ndarray]) -> None:
        """``lags_`` and ``context_`` from the settings and the training parts, and the
        orders the linear path chooses among (``lags='auto'``: the AIC orders of the
        longest training part and of the longest whole series, as the baseline's
        autoregression chooses it; ``lags_`` is the larger)."""
        H = int(self.horizon_)
        shortest = min(len(p) for p in parts)
        if self.lags == "auto":
            orders = {self._aic_order(max(parts, key=len)), self._aic_order(max(whole, key=len))}
        else:
            orders = {int(self.lags)}
        lags = max(orders)
        if self.context == "auto":
            context = min(max(2 * lags, 2 * H, 24), shortest - 1)
            lags = min(lags, context // 2 + 1)
        else:
            context = int(self.context)
        if context > shortest - 1 or max(context // 2, lags - 1) >= context:
            raise InputError(
                f"context={context} and lags={lags} do not fit the training part of the "
                f"shortest series ({shortest} steps): the context must be shorter than it, and "
                f"lags at most half the context plus one")
        self.lags_, self.context_ = int(lags), int(context)
        self._orders = sorted({min(p, lags) for p in orders})

    def _horizon_rows(self, x: np.ndarray, starts, end: int, first: int):
        """Windows ``x[s : s + context_]`` with their targets (known before ``end``) and a
        mask that counts steps from ``first`` on."""
        W = int(self.context_)
        starts = np.asarray(list(starts), np.int64)
        targets = self._horizon_targets(x, end)
        idx = starts[:, None] + np.arange(W)[None]
        mask = np.zeros((len(starts), W), np.float32)
        mask[:, first:] = 1
        return x[idx], targets[idx], mask

    def _prepare_horizon(self, X, Y, *, reset: bool) -> TrainingData:
        """Training windows of the first part of each series, and one window ending at
        each forecast origin of the held-out last part (the calibration, ``extra``)."""
        if Y is not None:
            raise InputError(f"horizon={self.horizon_}: the model forecasts the series X "
                             f"themselves; give no targets Y")
        xs, _ = self._sequences(X, None, None, fitting=reset)
        H, d = int(self.horizon_), xs[0].shape[1]
        if reset:
            self.n_features_in_, self.n_outputs_ = d, d * H
        splits = [self._calibration_start(len(x), i) for i, x in enumerate(xs)]
        if reset:
            self._resolve_orders([x[:f] for x, f in zip(xs, splits, strict=True)], xs)
        W, lags = int(self.context_), int(self.lags_)
        for i, f in enumerate(splits):
            if f <= W:
                raise InputError(f"the training part ({f} steps) is not longer than the "
                                 f"model's context ({W})", index=i)
        first = max(W // 2, lags - 1)
        train = [self._horizon_rows(x, range(0, f - W + 1), f, first)
                 for x, f in zip(xs, splits, strict=True)]
        held = [self._horizon_rows(x, range(f - W, len(x) - W), len(x), W - 1)
                for x, f in zip(xs, splits, strict=True)]
        whole = [self._horizon_rows(x, range(0, len(x) - W + 1), len(x), first) for x in xs]
        rows, calibration, full = (tuple(np.concatenate(a) for a in zip(*parts, strict=True))
                                   for parts in (train, held, whole))
        start = None
        if reset:
            rolling = self._choose_linear(xs, splits)
            self._ar_init = self._least_squares([x[:f] for x, f in zip(xs, splits,
                                                                       strict=True)])
            start = {"part": self._ar_init, "whole": self._least_squares(xs),
                     "rolling": rolling}
        # Early stopping reads the first half of each series' held-out origins; whether the
        # recurrence helps is judged on the second half, which chose nothing yet.
        first_half = np.concatenate([np.arange(len(x) - f) < (len(x) - f) // 2
                                     for x, f in zip(xs, splits, strict=True)])
        return TrainingData(rows, extra={"calibration": calibration, "full": full,
                                         "start": start, "stopping": first_half})

    #: The linear paths a forecaster chooses among (see :meth:`_least_squares`).
    _LINEAR = ("iterated", "direct", "mean")
    #: The linear path kept unless another beats it significantly (:meth:`_choose_linear`).
    _DEFAULT_LINEAR = "iterated"
    #: At most this many least-squares refits per series in :meth:`_choose_linear`.
    _ROLLING_FITS = 40

    def _choose_linear(self, xs: list[np.ndarray], splits: list[int]) -> np.ndarray:
        """``linear_``: the linear path (:attr:`_LINEAR`) chosen on rolling origins over
        the last half of each series (at least its held-out part), refitted by least
        squares on the steps before the origin every few origins (at most
        :attr:`_ROLLING_FITS` fits): the iterated autoregression (the baseline's, at the
        order with the lowest mean RMSE over the horizons there), unless the direct one or
        the mean of the two has a lower one and beats it by more than chance (a one-sided
        Diebold-Mariano test at 5%, :func:`hiddenstate.forecasting.significantly_better`).
        Picking the lowest score alone followed noise: on Nile's 39 origins the direct
        path scored 2% lower, not significantly, and did worse after them (on its
        development split too).
        Returns the chosen path's errors ``(n_origins, horizon, n_features)`` (truth
        minus forecast, NaN past the end): the calibration of the intervals
        (:meth:`_scaled_rolling`)."""
        H, lags, d = int(self.horizon_), int(self.lags_), xs[0].shape[1]
        kinds = [(k, p) for p in getattr(self, "_orders", [lags])
                 for k in (self._LINEAR if p else ("direct",))]
        errors: dict[tuple, list[np.ndarray]] = {k: [] for k in kinds}
        fits = max(2, self._ROLLING_FITS // len(xs))
        for i, x in enumerate(xs):
            T = len(x)
            lo = min(splits[i], max(T // 2, 3 * (lags + 1) + H))
            others = [y[:f] for j, (y, f) in enumerate(zip(xs, splits, strict=True)) if j != i]
            step = -(-(T - lo) // fits)
            for a in range(lo, T, step):
                origins = np.arange(a, min(a + step, T))  # steps seen: x[:o]
                t = origins - 1
                design = np.concatenate([np.ones((len(t), 1))]
                                        + [x[np.maximum(t - j, 0)] for j in range(lags)], axis=1)
                ahead = t[:, None] + np.arange(1, H + 1)[None]
                truth = np.where((ahead < T)[..., None], x[np.minimum(ahead, T - 1)], np.nan)
                for kind, p in kinds:  # 'mean' last: the mean of the two forecasts
                    if kind == "mean":
                        errors[kind, p].append((errors["direct", p][-1]
                                                + errors["iterated", p][-1]) / 2)
                        continue
                    A, c = self._least_squares(others + [x[:a]], kind, p)
                    z = (design[:, 1:] @ A + c).reshape(len(t), H, d)
                    errors[kind, p].append(truth - z)
        errors = {k: np.concatenate(v) for k, v in errors.items()}
        score = {k: float(np.mean(np.sqrt(np.nanmean(np.square(e), axis=(0, 2)))))
                 for k, e in errors.items()}
        from .._baselines import significantly_better

        best = min(kinds, key=score.get)
        default = min((k for k in kinds if k[0] == self._DEFAULT_LINEAR), key=score.get,
                      default=best)
        if not significantly_better(errors[best], errors[default], H):
            best = default
        self.linear_, self.linear_order_ = best
        self.linear_scores_ = {f"{k} AR({p})": v for (k, p), v in score.items()}
        return errors[best].astype(np.float32)

    def _least_squares(self, parts: list[np.ndarray], kind: str | None = None,
                       order: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        r"""The linear path's start ``(A, c)`` (:class:`~hiddenstate.nn.SequenceNet`):
        autoregressions of order ``lags_`` fitted by least squares on ``parts``, for each
        horizon ``k``: the direct one (``'direct'``: :math:`x_{t+k}` on :math:`[1, x_t,
        \dots, x_{t-p+1}]`), the iterated one (``'iterated'``: one step ahead, applied
        ``k`` times; each channel on its own lags, :func:`hiddenstate.forecasting.fit_ar`,
        the baseline's autoregression), or their mean (``'mean'``). Direct forecasts win
        on some series (CO2), iterated ones on others (Marcellino, Stock and Watson
        2006): ``kind`` (default ``linear_``) and the order (default ``linear_order_``,
        at most ``lags_``; the rows of higher lags are zero) are chosen per series on
        rolling origins (:meth:`_choose_linear`)."""
        rows = int(self.lags_)
        kind = kind or getattr(self, "linear_", "mean")
        lags = int(getattr(self, "linear_order_", rows) if order is None else order)
        A, c = self._least_squares_order(parts, kind, lags)
        pad = (rows - lags) * parts[0].shape[1]
        return (np.concatenate([A, np.zeros((pad, A.shape[1]))]) if pad else A), c

    def _least_squares_order(self, parts, kind: str, lags: int):
        """:meth:`_least_squares` of order ``lags``."""
        H = int(self.horizon_)
        if lags and kind == "iterated":
            return self._iterated(parts, lags)
        d = parts[0].shape[1]
        A = np.zeros((lags * d, H * d))
        c = np.zeros(H * d)
        for k in range(1, H + 1):
            design, target = [], []
            for x in parts:
                t = np.arange(max(lags - 1, 0), len(x) - k)
                design.append(np.column_stack([np.ones(len(t))]
                                              + [x[t - i] for i in range(lags)]))
                target.append(x[t + k])
            D, Yk = np.concatenate(design).astype(np.float64), np.concatenate(target)
            ridge = 1e-6 * len(D) * np.eye(D.shape[1])
            ridge[0, 0] = 0
            beta = np.linalg.solve(D.T @ D + ridge, D.T @ Yk)
            c[(k - 1) * d : k * d] = beta[0]
            A[:, (k - 1) * d : k * d] = beta[1:]
        if lags and kind == "mean":
            A_it, c_it = self._iterated(parts, lags)
            A, c = (A + A_it) / 2, (c + c_it) / 2
        return A, c

    def _iterated(self, parts: list[np.ndarray], p: int) -> tuple[np.ndarray, np.ndarray]:
        """``(A, c)`` of the iterated one-step autoregression of order ``p`` (each
        channel on its own lags, fitted on the longest part): row ``k`` of the powers
        of its companion matrix."""
        from .._baselines import fit_ar

        H = int(self.horizon_)
        x = max(parts, key=len)
        d = x.shape[1]
        ar = fit_ar(x, max_order=p, order=p)
        A = np.zeros((p * d, H * d))
        c = np.zeros(H * d)
        for j in range(d):
            M = np.zeros((p + 1, p + 1))  # state [x_t, ..., x_{t-p+1}, 1]
            M[0, :p], M[0, p] = ar.coef[:, j], ar.const[j]
            M[1:p, : p - 1] = np.eye(p - 1)
            M[p, p] = 1
            power = np.eye(p + 1)
            for k in range(H):
                power = M @ power
                A[j::d, k * d + j] = power[0, :p]  # lag i of channel j: row i * d + j
                c[k * d + j] = power[0, p]
        return A, c

    def _split(self, prepared: TrainingData, rng, incremental: bool):
        if not getattr(self, "horizon_", None):
            return super()._split(prepared, rng, incremental)
        if not self.early_stopping or incremental:
            return prepared, None
        from .. import train

        rows = prepared.extra["stopping"]
        return prepared, train.EarlyStopping(tuple(a[rows] for a in
                                                   prepared.extra["calibration"]),
                                             int(self.n_iter_no_change), float(self.tol))

    def _after_train(self, data: TrainingData) -> None:
        """A forecaster: the model trained on the first part, or its linear start if that
        does better on the held-out part (early stopping's epoch 0); the held-out
        residuals of that model; then the same model on the whole series: trained again
        for as many epochs (the best epoch's with early stopping) from the least-squares
        start of the whole, or that start alone."""
        if not getattr(self, "horizon_", None):
            return
        calibration, start = data.extra["calibration"], data.extra["start"]
        if start is None or not len(self.loss_curve_):
            self._calibrate(*calibration)
            return  # continued training (warm start, partial_fit) keeps its model
        scores = self.validation_scores_
        epochs = int(np.nanargmax(scores)) + 1 if scores else len(self.loss_curve_)
        rng = self._rng
        self._ar_init = start["part"]
        linear = self._new_model(self._key(rng))
        self.model_ = self._shrunk(self.model_, linear)
        judge = tuple(a[~data.extra["stopping"]] for a in calibration)
        if self._held_out_loss(linear, judge) <= self._held_out_loss(self.model_, judge):
            self.model_, epochs = linear, 0
            self.calibration_residuals_ = start["rolling"]
        else:
            self.calibration_residuals_ = self._scaled_rolling(start["rolling"], linear,
                                                               calibration)
        self.refit_epochs_ = epochs
        path = f"{self.linear_} AR({int(self.linear_order_)})"
        self.forecaster_ = f"{str(self.cell).upper()} + {path}" if epochs else path
        if not self._REFIT_WHOLE:
            return
        self._ar_init = start["whole"]
        model = self._new_model(self._key(rng))
        if epochs:
            from .. import train

            full = TrainingData(data.extra["full"])
            plan = self._plan(full, curriculum=0)
            result = train.fit(
                model, full.data, objective=self._objective(),
                optimizer=self._optimizer(plan.steps_per_epoch), max_iter=epochs, rng=rng,
                key=self._key(rng), plan=plan, devices=self.devices,
                progress=train.Progress(self.verbose, f"{self._description()} (whole series)"))
            self._opt_state, self._step = result.opt_state, result.step
            model = self._shrunk(result.model, model)
        self.model_ = model

    #: The weight of the trained model against its linear start in a forecaster (see
    #: :meth:`_shrunk`).
    _SHRINK = 0.5

    def _shrunk(self, trained, start):
        """The forecasts ``w trained + (1 - w) start`` as one network (``w``:
        :attr:`_SHRINK`): the outputs are linear in ``V``, ``c`` and ``A``, and ``start``
        has ``V = 0``."""
        w = float(self._SHRINK)
        if w == 1:
            return trained
        lags = bool(getattr(trained, "lags", 0))
        where = (lambda m: (m.V, m.c, m.A)) if lags else (lambda m: (m.V, m.c))
        mix = [w * a + (1 - w) * b for a, b in zip(where(trained), where(start), strict=True)]
        return eqx.tree_at(where, trained, tuple(mix))

    #: Whether a fresh forecaster is trained again on the whole series (see _after_train).
    _REFIT_WHOLE = True

    def _held_out_loss(self, model, calibration) -> float:
        objective = self._objective()
        losses = [np.asarray(_per_sequence(model, tuple(device(a[i : i + 256])
                                                        for a in calibration), objective))
                  for i in range(0, len(calibration[0]), 256)]
        return float(np.mean(np.concatenate(losses)))

    def _calibrate(self, xs, ys, _mask) -> None:
        """``calibration_residuals_`` of the current model on the held-out windows."""
        self.calibration_residuals_ = self._residuals(self.model_, xs, ys)

    def _residuals(self, model, xs, ys) -> np.ndarray:
        """``(n, horizon, n_features)`` errors (truth minus forecast; NaN past the series'
        end) of ``model`` at the last step of each window ``xs`` with targets ``ys``."""
        H, d = int(self.horizon_), int(self.n_features_in_)
        z = np.concatenate([np.asarray(_forward(model, device(xs[i : i + 256]),
                                                "linear"))[:, -1]
                            for i in range(0, len(xs), 256)])
        truth, known = ys[:, -1, : H * d], ys[:, -1, H * d :].astype(bool)
        resid = (truth - z).reshape(len(z), H, d)
        return np.where(known[..., None], resid, np.nan).astype(np.float32)

    def _scaled_rolling(self, rolling: np.ndarray, linear, calibration) -> np.ndarray:
        r"""The calibration of a forecaster that keeps the recurrence: the linear path's
        rolling-origin errors (``rolling``, many origins) times, per channel, the ratio
        :math:`\sqrt{\sum e_{\mathrm{model}}^2 / \sum e_{\mathrm{linear}}^2}` of the
        model's squared errors to its linear start's (``linear``) on the same held-out
        origins and horizons. The conformal quantile of the held-out residuals alone
        rests on few origins (about 20: the 19th of 20 errors), and its coverage swings
        with them (0.73 for a 90% interval on a simulated AR(2)); the paired ratio of two
        models' errors on the same origins is far steadier, and the rolling errors give
        the shape of the distribution per horizon."""
        xs, ys, _ = calibration
        mine, base = self._residuals(self.model_, xs, ys), self._residuals(linear, xs, ys)
        num = np.nansum(np.square(mine.astype(np.float64)), axis=(0, 1))
        den = np.nansum(np.square(base.astype(np.float64)), axis=(0, 1))
        ratio = np.sqrt(num / np.maximum(den, 1e-30))
        return (rolling * ratio).astype(np.float32)

    def fit(self, X, Y=None, *, alphabet: str | None = None):
        """Train on sequences, symbol strings or token sequences (see the class docstring).
        Returns ``self``."""
        return self._fit(X, Y, alphabet=alphabet)

    def _encoder_parts(self) -> dict:
        """The trained encoder, for a model that starts from it (``init_from``).

        Returns
        -------
        dict with
            ``cell`` (str) and ``hidden_size`` (int): the settings of the cells;
            ``cells``: tuple of the recurrent cells (:class:`~hiddenstate.nn.RecurrentCell`),
            first layer first (``model_.cells``);
            ``embedding``: the ``(n_tokens, embedding_dim)`` token embedding, or None;
            ``vocabulary``: the :class:`Vocabulary` of the ids, or None;
            ``n_features_in``: the first cell's input width (the embedding size for
            tokens, else the width of a step);
            ``scaling``: the :class:`~hiddenstate.estimators._scaling.Scaling` the cells
            read real-valued inputs in (None for symbols and tokens).
        """
        check_is_fitted(self)
        return {"cell": self.cell, "hidden_size": int(self.hidden_size),
                "cells": tuple(self.model_.cells), "embedding": self.model_.embedding,
                "vocabulary": self.vocabulary_, "n_features_in": int(self.n_features_in_),
                "scaling": getattr(self, "scaling_", None)}

    # -- inference -----------------------------------------------------------------------------
    def _by_length(self, fn, xs, ys=None, *, ragged: bool):
        """``fn(padded batch)`` over length buckets and chunks of sequences."""
        if ys is None:
            ys = [np.zeros(len(x), np.int32) if x.ndim == 1 else np.zeros((len(x), 1), np.float32)
                  for x in xs]

        def batch(rows, size, length):
            rows = list(rows) + [rows[0]] * (size - len(rows))
            return (self._padded([xs[i] for i in rows], [ys[i] for i in rows], length),)

        return apply_batched(fn, len(xs), batch, lengths=[len(x) for x in xs], ragged=ragged)

    def predict_proba(self, X):
        """Per-step outputs: a list of ``(T_i, n_out)`` arrays (probabilities, or values;
        tokens: ``(T_i, len(vocabulary_))``, row ``t`` the distribution of the token after
        token ``t``, the last row that of the end marker's place; strings with
        ``markers_``: ``(len + 1, len(alphabet_) + 1)``, row ``t`` the distribution of the
        symbol after the first ``t`` symbols, the last column the end). Values are in the
        data's units; with ``horizon_``, row ``t`` holds the next ``horizon_`` values of
        every channel (horizon-major, ``(T_i, horizon_ * n_features_in_)``)."""
        check_is_fitted(self)
        xs, _, st = self._sequences(X, None, None, fitting=False, stats=True)
        out = self._by_length(lambda b: _forward(self.model_, device(b[0]), self.output),
                              xs, ragged=True)
        return self._data_units([o[: len(x)] for o, x in zip(out, xs, strict=True)], st)

    def predict(self, X):
        """Most likely next symbol per step (strings; with ``markers_``, lists of symbols
        with ``'</s>'`` for the end), next token per step (lists of str, with ``'</s>'``
        for the end and ``'<unk>'`` for a token out of the vocabulary), multi-hot
        decisions, or values."""
        probs = self.predict_proba(X)
        if self.output == "softmax":
            if self.vocabulary_ is not None:
                return [self.vocabulary_.decode(p.argmax(-1)) for p in probs]
            if self.alphabet_ is not None:
                if self.markers_:  # lists, to show the end marker as token models do
                    symbols = [*self.alphabet_, END]
                    return [[symbols[k] for k in p.argmax(-1)] for p in probs]
                return ["".join(self.alphabet_[k] for k in p.argmax(-1)) for p in probs]
            return [p.argmax(-1) for p in probs]
        if self.output == "sigmoid":
            return [p > 0.5 for p in probs]
        return probs

    def _losses(self, X, Y, fn, *, ragged: bool):
        """``(inputs, fn(model, batch, objective) over length buckets)``."""
        check_is_fitted(self)
        if getattr(self, "horizon_", None):
            if Y is not None:
                raise InputError(f"this model forecasts {self.horizon_} steps of the series X "
                                 "themselves: give no targets Y")
            xs, _ = self._sequences(X, None, None, fitting=False)
            ys = [self._horizon_targets(x) for x in xs]
        else:
            xs, ys = self._sequences(X, Y, None, fitting=False)
        if ys is None:
            raise InputError("real-valued sequences need targets Y")
        objective = self._objective()
        return xs, self._by_length(
            lambda b: fn(self.model_, tuple(device(a) for a in b), objective),
            xs, ys, ragged=ragged)

    def score(self, X, Y=None):
        """Minus the mean per-step loss (higher is better)."""
        return -float(np.mean(self._losses(X, Y, _per_sequence, ragged=False)[1]))

    def score_samples(self, X, Y=None, *, per_step: bool = False):
        r"""Log-likelihood of each sequence under the model ``(n,)``: higher is more
        normal (anomaly detection).

        Minus the sum over the predicted steps of the per-step loss. For softmax outputs
        (symbol strings, token sequences) that loss is the surprisal
        :math:`-\log p(x_{t+1} \mid x_{\le t})` in nats, so the score is the
        sequence's log-likelihood given its first symbol (token sequences: every token
        after the first, and the end marker); for ``sigmoid`` outputs it is the binary
        cross-entropy averaged over the outputs, for ``linear`` the squared error averaged
        over the outputs. ``Y`` as for :meth:`score` (targets of real-valued sequences).

        With ``per_step=True``, a list of ``(T_i,)`` arrays: minus each step's loss (for
        a string of ``k`` symbols, ``k - 1`` steps: entry ``t`` scores symbol ``t + 1``;
        with ``markers_``, ``k + 1`` steps: entry ``t`` scores symbol ``t``, the last the
        end, so the score is the whole string's log-likelihood).
        """
        xs, steps = self._losses(X, Y, _step_losses, ragged=True)
        steps = [-s[: len(x)].astype(np.float64) for s, x in zip(steps, xs, strict=True)]
        if per_step:
            return steps
        return np.array([s.sum() for s in steps])

    # -- anomaly scoring (the Scorable protocol of ._scoring) --------------------------------
    #: One error term per predicted step of a sequence.
    item_unit = "step"

    def item_errors(self, X) -> list[np.ndarray]:
        """The surprisal of each predicted step, a float64 ``(T_i,)`` array per sequence
        (minus :meth:`score_samples` with ``per_step=True``; real-valued sequences as
        next-step prediction, inputs ``x[:-1]``, targets ``x[1:]``): what
        :class:`~hiddenstate.AnomalyDetector` scores and explains sequences by."""
        return [-s for s in self.score_samples(*self._next_step(X), per_step=True)]

    def item_labels(self, X, i: int, entries) -> tuple[list[int], list[str]]:
        """Steps ``entries`` of sequence ``i`` as positions in it: step ``t`` scores
        symbol or token ``t + 1``, or ``t`` when the model adds its own begin marker
        (``markers_``; its last step scores the end, ``'</s>'``)."""
        offset = int(not getattr(self, "markers_", False))
        positions = [int(t) + offset for t in entries]
        return positions, [label_at(X[i], pos) for pos in positions]

    def detector_fit_args(self, X, calibration, fit_params: dict) -> tuple[tuple, dict]:
        """Symbol strings: ``alphabet`` (unless given) is every symbol of ``X`` and of
        ``calibration``, so that a symbol seen only in the held-out part does not make
        calibration fail. Real-valued sequences: next-step prediction, ``(x[:-1],
        x[1:])``."""
        if "alphabet" not in fit_params and isinstance(X[0], str):
            symbols = "".join(X) + ("".join(calibration) if calibration is not None
                                    and isinstance(calibration[0], str) else "")
            fit_params = {**fit_params, "alphabet": "".join(sorted(set(symbols)))}
        return self._next_step(X), fit_params

    @staticmethod
    def _next_step(X) -> tuple:
        """``(X,)``, or for real-valued sequences ``(inputs, targets)`` of next-step
        prediction."""
        if input_kind(X, strings="symbols") in ("symbols", "tokens"):
            return (X,)
        xs = [np.asarray(x, np.float32) for x in X]
        for i, x in enumerate(xs):
            if x.ndim != 2 or x.shape[0] < 2:
                raise InputError(f"next-step prediction needs sequences of shape (T >= 2, "
                                 f"n_features), got {x.shape}", index=i)
        return [x[:-1] for x in xs], [x[1:] for x in xs]

    def sample(self, n: int = 1, *, start: str | None = None, stop: str | None = None,
               n_stops: int = 1, max_length: int = 100, temperature: float = 1.0,
               random_state=None) -> list[str]:
        """Generate ``n`` strings (one compiled loop per chunk of samples).

        Each string begins with ``start`` and continues with symbols drawn from the
        model's output until the ``n_stops``-th ``stop`` symbol (kept; 2 for the embedded
        Reber grammar, whose inner string ends in ``E`` too), the end marker, or
        ``max_length`` symbols in all. Sigmoid (multi-hot) outputs are normalised to a
        distribution, as the seed does; ``temperature`` divides the log-probabilities.

        Parameters
        ----------
        n : int, default=1
            Strings to draw (``n * max_length`` at most :data:`MAX_SAMPLE_SYMBOLS`).
        start : str or None
            A prefix the strings continue. With ``markers_`` it may be empty (the
            default: from the begin marker); otherwise it has at least one symbol
            (default ``'B'``, the seed's begin symbol).
        stop : str or None
            A symbol that ends a string once seen ``n_stops`` times. Default: with
            ``markers_`` none (strings end at the end marker), otherwise ``'E'``.
        n_stops : int, default=1
        max_length : int, default=100
            Most symbols in a string, ``start`` included.
        temperature : float, default=1.0
        random_state : int, Generator or None
        """
        check_is_fitted(self)
        if self.vocabulary_ is not None:
            raise InputError("sample draws symbol strings; this model was trained on token "
                             "sequences (use predict_proba for next-token distributions)")
        if self.alphabet_ is None:
            raise InputError("sample needs a model trained on symbol strings, this one was "
                             "trained on real-valued sequences")
        markers = bool(self.markers_)
        start, stop = self._sample_symbols(start, stop)
        for name, value in (("n", n), ("max_length", max_length), ("n_stops", n_stops)):
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(temperature, Real) and np.isfinite(temperature)
                and temperature > 0):
            raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
        if stop is None and n_stops != 1:
            raise ValueError(f"n_stops={n_stops} counts a stop symbol; this model's strings end "
                             f"at its end marker: give stop= as well")
        if len(start) > max_length:
            raise ValueError(f"start has {len(start)} symbols, more than max_length="
                             f"{max_length}")
        if n * max_length > MAX_SAMPLE_SYMBOLS:
            raise ValueError(f"n * max_length = {n * max_length:,} symbols is more than one "
                             f"call draws ({MAX_SAMPLE_SYMBOLS:,}, about "
                             f"{12 * MAX_SAMPLE_SYMBOLS / 1e9:.1f} GB); draw in several calls")
        from .._limits import check_output_memory

        # 12 bytes a symbol (the drawn indices and their keys), a string object per sample.
        check_output_memory(12 * int(n) * int(max_length) + 64 * int(n),
                            f"drawing {int(n):,} strings of up to {int(max_length):,} symbols",
                            "draw fewer or shorter strings per call")
        steps = int(max_length) - len(start) + int(markers)  # markers: one draw for the end
        if steps == 0:
            return [start] * int(n)
        size = len(self.alphabet_)
        codes = ([size] if markers else []) + [self.alphabet_.index(c) for c in start]
        prefix = device(np.eye(size + int(markers), dtype=np.float32)[codes])
        rng = np.random.default_rng(random_state)
        keys = jax.random.split(jax.random.key(int(rng.integers(2**31 - 1))), int(n))
        chunk = max(1, min(int(n), _SAMPLE_CHUNK_SYMBOLS // steps))
        stop_index = -1 if stop is None else self.alphabet_.index(stop)
        out = []
        for i in range(0, int(n), chunk):
            part = keys[i : i + chunk]
            rows = part.shape[0]
            if rows < chunk:  # the same compiled shape for the last chunk
                part = jnp.concatenate([part, keys[: chunk - rows]])
            syms = np.asarray(_sample(
                self.model_, prefix, part, steps=steps, stop=stop_index,
                n_stops=int(n_stops), end=size if markers else -1, output=self.output,
                temperature=float(temperature)))[:rows, : int(max_length) - len(start)]
            out.extend(start + "".join(self.alphabet_[k] for k in row if k >= 0)
                       for row in syms)
        return out

    def _sample_symbols(self, start, stop) -> tuple[str, str | None]:
        """:meth:`sample`'s ``start`` and ``stop`` with their defaults, checked."""
        markers = bool(self.markers_)
        start = ("" if markers else "B") if start is None else start
        if stop is None and not markers:
            stop = "E"
        if not isinstance(start, str) or (not start and not markers):
            raise InputError(f"start must be a string of symbols of {self.alphabet_!r}"
                             + ("" if markers else " (at least one: this model has no begin "
                                "marker)") + f", got {start!r}")
        for j, sym in enumerate(start):
            if sym not in self.alphabet_:
                raise InputError(f"start symbol {sym!r} (position {j + 1}) is not in the "
                                 f"alphabet {self.alphabet_!r}")
        if stop is not None and (not isinstance(stop, str) or len(stop) != 1
                                 or stop not in self.alphabet_):
            raise InputError(f"stop symbol {stop!r} is not in the alphabet {self.alphabet_!r}")
        return start, stop

    # -- state carried between calls ----------------------------------------------------------
    def _step_inputs(self, x, n: int | None = None):
        """One input per stream as the network reads it: one-hot rows, ids, or values."""
        if self.vocabulary_ is not None:
            tokens = [x] if isinstance(x, str) else list(x)
            ids = np.array([self.vocabulary_.encode([t], end=False)[0] for t in tokens],
                           np.int32)
            return device(ids)
        if self.alphabet_ is not None:
            if not isinstance(x, str) and not (isinstance(x, list | tuple)
                                               and all(isinstance(c, str) for c in x)):
                raise InputError(f"step takes one symbol per stream (a string of {n or 'n'} "
                                 f"symbols), got {type(x).__name__}")
            codes = []
            for j, ch in enumerate(x):
                if len(ch) != 1 or ch not in self.alphabet_:
                    raise InputError(f"symbol {ch!r} (stream {j}) is not in the alphabet "
                                     f"{self.alphabet_!r}")
                codes.append(self.alphabet_.index(ch))
            return device(np.eye(int(self.n_features_in_), dtype=np.float32)[codes])
        v = np.asarray(x, np.float32)
        if v.ndim == 1:
            v = v[None]
        if v.ndim != 2 or v.shape[1] != self.n_features_in_:
            raise InputError(f"step takes one ({self.n_features_in_},) vector per stream, an "
                             f"(n, {self.n_features_in_}) array; got shape {np.shape(x)}")
        if not np.isfinite(v).all():
            raise InputError("non-finite input value")
        scaling = self.scaling_
        if scaling.kind == "series":
            raise InputError("step reads one value at a time; this model scales each whole "
                             "sequence by its own statistics (scale='series'): use "
                             "predict_proba or forecast")
        return device(scaling.transform([v])[0])

    def initial_state(self, n: int = 1):
        """The recurrent state of ``n`` fresh streams, for :meth:`step` (an opaque pytree
        of arrays with ``n`` rows). With ``markers_`` the begin marker has been read.

        A stream's state carries everything the model has read: feeding a sequence in
        pieces, each :meth:`step` (or each piece) continuing from the state the previous
        returned, gives the outputs of :meth:`predict_proba` on the whole sequence.
        """
        check_is_fitted(self)
        if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        state = jax.tree.map(lambda a: jnp.broadcast_to(a, (int(n), *a.shape)),
                             self.model_.initial_state())
        if self.markers_:
            begin = np.zeros((int(n), int(self.n_features_in_)), np.float32)
            begin[:, -1] = 1
            state, _ = _step(self.model_, state, device(begin), self.output)
        return state

    def step(self, state, x):
        """Read one input per stream and return ``(state, outputs)``.

        ``x``: a string of ``n`` symbols (one per stream), a list of ``n`` tokens, or an
        ``(n, n_features_in_)`` array; ``outputs`` ``(n, n_outputs_)``: the distribution
        of each stream's next symbol or token (with ``markers_``, the last column is the
        end), or the values. ``state`` from :meth:`initial_state` or a previous step.
        """
        check_is_fitted(self)
        n = jax.tree.leaves(state)[0].shape[0]
        xs = self._step_inputs(x, n)
        if xs.shape[0] != n:
            raise InputError(f"state holds {n} streams, got {xs.shape[0]} inputs")
        state, out = _step(self.model_, state, xs, self.output)
        if self.alphabet_ is None and self.vocabulary_ is None:
            scaling = self.target_scaling_ or self.scaling_
            out = self._data_units([out], scaling.statistics([np.asarray(out)]))[0]
        return state, np.asarray(out)

    def forecast(self, X, steps: int, *, interval: float | None = None):
        """Predict ``steps`` values past the end of each real-valued sequence, in the data's
        units.

        A model fitted with ``horizon`` reads the last ``context_`` steps and outputs the
        next ``horizon`` values at once (beyond ``horizon``, its forecasts are appended
        and read in turn). Otherwise the model must have been trained to predict each
        next step of a series (``fit(X, Y)`` with ``Y`` the inputs one step later,
        ``output='linear'``, as many outputs as inputs), and each prediction is fed back
        as the next input (one compiled loop).

        ``X``: one ``(T, n_features)`` array or a list of them; returns one ``(steps,
        n_features)`` array or a list. Row 0 is the one-step forecast.

        ``interval`` (for example 0.9; models fitted with ``horizon``, ``steps <=
        horizon``): returns ``(forecast, lower, upper)``, three arrays (or lists) of the
        forecast's shape: split conformal bounds. For horizon ``k`` and each channel,
        the bound is the forecast plus or minus the
        :math:`\\lceil (n + 1)\\,\\mathrm{interval} \\rceil`-th smallest absolute held-out
        residual of that horizon (``calibration_residuals_``, ``n`` of them; infinite
        when there are too few), which covers a new value with probability at least
        ``interval`` when the errors are exchangeable (Vovk et al. 2005; Lei et al.
        2018).
        """
        check_is_fitted(self)
        if self.alphabet_ is not None or self.vocabulary_ is not None:
            raise InputError("forecast extends real-valued sequences; for symbol strings use "
                             "sample(start=prefix)")
        horizon = getattr(self, "horizon_", None)
        if not horizon and (self.output != "linear" or self.n_outputs_ != self.n_features_in_):
            raise InputError(f"forecast feeds each prediction back as the next input: it needs "
                             f"output='linear' and as many outputs as inputs, this model has "
                             f"output={self.output!r}, {self.n_features_in_} inputs and "
                             f"{self.n_outputs_} outputs")
        if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        if interval is not None:
            self._check_interval(interval, steps)
        single = isinstance(X, np.ndarray) and X.ndim == 2
        xs, _, st = self._sequences([X] if single else X, None, None, fitting=False,
                                    stats=True)
        n_values = int(self.n_features_in_)
        if len(xs) * int(steps) * n_values > MAX_SAMPLE_SYMBOLS:
            raise ValueError(f"{len(xs)} sequences x {steps} steps x {n_values} values "
                             f"is more than one call returns ({MAX_SAMPLE_SYMBOLS:,})")
        from .._limits import check_output_memory

        # float32 values held at once: the result, and one compiled call's output (its
        # rows padded as apply_batched pads them) on the device and copied to the host.
        rows = pow2(len(xs), 8, 256)
        check_output_memory(
            4 * int(steps) * n_values * (len(xs) + 2 * rows),
            f"forecasting {len(xs):,} sequence{'s' if len(xs) > 1 else ''} {int(steps):,} "
            f"steps ahead ({n_values} value{'s' if n_values > 1 else ''} "
            "a step)", "forecast fewer steps, or fewer sequences at a time")
        out = (self._forecast_direct(xs, int(steps)) if horizon
               else self._forecast_recursive(xs, int(steps)))
        result = [self._data_units(out, st)]
        if interval is not None:
            q = self._conformal_width(float(interval))[: int(steps)]
            result += [self._data_units([o - q for o in out], st),
                       self._data_units([o + q for o in out], st)]
        result = [r[0] if single else list(r) for r in result]
        return result[0] if interval is None else tuple(result)

    def _check_interval(self, interval, steps: int) -> None:
        if not (isinstance(interval, Real) and not isinstance(interval, bool)
                and 0 < interval < 1):
            raise ValueError(f"interval must be a probability between 0 and 1 (e.g. 0.9), got "
                             f"{interval!r}")
        horizon = getattr(self, "horizon_", None)
        if not horizon or getattr(self, "calibration_residuals_", None) is None:
            raise InputError("prediction intervals come from the held-out residuals of a "
                             "model fitted with horizon= (rnn fit --horizon H); this model "
                             "was fitted without")
        if steps > horizon:
            raise InputError(f"the intervals are calibrated up to the model's horizon "
                             f"({horizon} step{'s' if horizon > 1 else ''}); {steps} steps "
                             "asked (fit with a longer horizon, --horizon)")

    def _conformal_width(self, interval: float) -> np.ndarray:
        """Half-widths ``(horizon, n_features)`` in scaled units (inf: too few residuals)."""
        resid = np.abs(np.asarray(self.calibration_residuals_, np.float64))
        width = np.full(resid.shape[1:], np.inf)
        for k in range(resid.shape[1]):
            for j in range(resid.shape[2]):
                r = np.sort(resid[:, k, j][np.isfinite(resid[:, k, j])])
                rank = math.ceil((len(r) + 1) * interval)
                if 1 <= rank <= len(r):
                    width[k, j] = r[rank - 1]
        return width

    def _forecast_direct(self, xs, steps: int) -> list[np.ndarray]:
        """Each sequence's next ``steps`` values (scaled units) from its last ``context_``
        steps, ``horizon_`` at a time."""
        H, W, d = int(self.horizon_), int(self.context_), int(self.n_features_in_)
        hist = [np.asarray(x, np.float32) for x in xs]
        out: list[list[np.ndarray]] = [[] for _ in xs]
        for _ in range(-(-steps // H)):
            ctx = [h[-W:] for h in hist]
            groups: dict[int, list[int]] = {}
            for i, c in enumerate(ctx):
                groups.setdefault(len(c), []).append(i)
            for rows in groups.values():
                for lo in range(0, len(rows), 256):
                    part = rows[lo : lo + 256]
                    z = np.asarray(_forward(self.model_, device(np.stack(
                        [ctx[i] for i in part])), "linear"))[:, -1].reshape(len(part), H, d)
                    for i, zi in zip(part, z, strict=True):
                        out[i].append(zi)
                        hist[i] = np.concatenate([hist[i], zi])
        return [np.concatenate(o)[:steps] for o in out]

    def _forecast_recursive(self, xs, steps: int) -> list[np.ndarray]:
        def batch(rows, size, length):
            rows = list(rows) + [rows[0]] * (size - len(rows))
            lengths = np.array([len(xs[i]) for i in rows], np.int32)
            return self._pad([xs[i] for i in rows], length), lengths

        return list(apply_batched(
            lambda b, lengths: _forecast(self.model_, device(b), device(lengths),
                                         steps=steps),
            len(xs), batch, lengths=[len(x) for x in xs]))

    # -- files ---------------------------------------------------------------------------------
    def _fitted_config(self) -> dict:
        config = {"n_features_in": int(self.n_features_in_), "n_outputs": int(self.n_outputs_),
                  "alphabet": self.alphabet_, "markers": bool(self.markers_),
                  "vocabulary": None if self.vocabulary_ is None
                  else self.vocabulary_.to_config()}
        if self.alphabet_ is None and self.vocabulary_ is None:  # real-valued sequences
            config["scaling"] = self.scaling_.to_config()
            config["target_scaling"] = (None if self.target_scaling_ is None
                                        else self.target_scaling_.to_config())
            if getattr(self, "horizon_", None):
                config["forecaster"] = {"horizon": int(self.horizon_),
                                        "lags": int(self.lags_),
                                        "context": int(self.context_)}
                if getattr(self, "forecaster_", None) is not None:
                    config["forecaster"]["chosen"] = str(self.forecaster_)
        return config

    def _extra_tensors_expected(self) -> set[str]:
        return {"calibration_residuals"} if getattr(self, "horizon_", None) else set()

    def _extra_tensors(self) -> dict[str, np.ndarray]:
        if getattr(self, "calibration_residuals_", None) is None:
            return {}
        return {"calibration_residuals": np.asarray(self.calibration_residuals_, np.float32)}

    def _restore_extra_tensors(self, tensors: dict[str, np.ndarray], path) -> None:
        if not getattr(self, "horizon_", None):
            return
        resid = tensors.get("calibration_residuals")
        if resid is None or resid.ndim != 3 or resid.shape[1:] != (self.horizon_,
                                                                   self.n_features_in_):
            raise ModelFileError(f"{path}: a forecaster needs its calibration residuals "
                                 f"(n, {self.horizon_}, {self.n_features_in_})")
        self.calibration_residuals_ = np.asarray(resid, np.float32)

    def _restore_scaling(self, config: dict, path) -> None:
        """``scaling_``, ``target_scaling_`` and the forecaster's settings (files written
        before them: no scaling, next-step model)."""
        n_in, n_out = int(self.n_features_in_), int(self.n_outputs_)
        real = self.alphabet_ is None and self.vocabulary_ is None
        self.scaling_ = (Scaling.from_config(config.get("scaling"), n_in, path) if real
                         else Scaling("none"))
        if real and "scaling" not in config:  # written before scaling: continued training
            self.scale = "none"  # keeps the unscaled values (check_kept_scaling)
        target = config.get("target_scaling")
        self.target_scaling_ = None if target is None else Scaling.from_config(target, n_out,
                                                                               path)
        self.horizon_, self.lags_, self.context_, self.forecaster_ = None, 0, 0, None
        self.calibration_residuals_ = None
        fc = config.get("forecaster")
        if fc is None:
            return
        try:
            H, lags, context = (int(fc[k]) for k in ("horizon", "lags", "context"))
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{path}: invalid forecaster settings {fc!r}") from None
        if not real or H < 1 or lags < 0 or context < 2 or n_out != H * n_in or lags > 10**6:
            raise ModelFileError(f"{path}: forecaster settings {fc!r} do not match the model")
        self.horizon_, self.lags_, self.context_ = H, lags, context
        chosen = fc.get("chosen")  # files written before it: not known
        self.forecaster_ = chosen if isinstance(chosen, str) else None

    def _restore_fitted(self, config: dict, path) -> None:
        n_in, n_out = int(config["n_features_in"]), int(config["n_outputs"])
        if n_in < 1 or n_out < 1:
            raise ModelFileError(f"{path}: invalid sizes {n_in} -> {n_out}")
        self.n_features_in_, self.n_outputs_ = n_in, n_out
        self.alphabet_ = config.get("alphabet")
        # Files written before the markers hold no such key: no markers.
        markers = config.get("markers", False)
        if not isinstance(markers, bool):
            raise ModelFileError(f"{path}: markers must be true or false, got {markers!r}")
        self.markers_ = markers
        if self.alphabet_ is not None:
            if not isinstance(self.alphabet_, str) or len(self.alphabet_) + markers != n_in:
                raise ModelFileError(f"{path}: alphabet does not match the input size")
            if len(set(self.alphabet_)) != len(self.alphabet_):
                raise ModelFileError(f"{path}: the alphabet repeats a symbol")
        elif markers:
            raise ModelFileError(f"{path}: markers without an alphabet")
        # Files written before token sequences hold no vocabulary.
        tokens = config.get("vocabulary")
        self.vocabulary_ = None if tokens is None else Vocabulary.from_config(tokens, path)
        if self.vocabulary_ is not None:
            if self.alphabet_ is not None:
                raise ModelFileError(f"{path}: both an alphabet and a vocabulary")
            if n_out != len(self.vocabulary_) or n_in != int(self.embedding_dim):
                raise ModelFileError(
                    f"{path}: sizes {n_in} -> {n_out} do not match the vocabulary "
                    f"({len(self.vocabulary_)} ids) and embedding_dim={self.embedding_dim}")
        self._restore_scaling(config, path)
