"""``hiddenstate.SequenceModel``: Elman, LSTM and GRU networks on sequences, symbol strings and
token sequences."""

from __future__ import annotations

from numbers import Integral, Real

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import _serialize
from .._errors import InputError, ModelFileError
from ..nn._cells import CELL_INITS, CELLS
from ..nn._sequence import SequenceNet
from ..objectives import SequenceObjective
from ._base import TRAINING_CONSTRAINTS, IncrementalMixin, TrainingData, TrainingMixin
from ._inference import apply_batched
from ._tokens import Vocabulary, as_token_sequences, is_token_input, pad_ids

__all__ = ["SequenceModel", "SequenceObjective"]

#: Training pads minibatches to at most this many lengths, multiples of _STEP. Each bucket
#: is one more branch of the compiled epoch (about 0.35 s more XLA compilation on 2 cores);
#: on W3 (Reber strings of 10-31 steps) one bucket took 47 us per online update, two 30 us,
#: three 24-27 us.
_MAX_BUCKETS = 2
_STEP = 4


@eqx.filter_jit
def _per_sequence(model, batch, objective: SequenceObjective):
    return objective.per_example(model, batch)


@eqx.filter_jit
def _step_losses(model, batch, objective: SequenceObjective):
    return objective.per_step(model, batch)


@eqx.filter_jit
def _forward(model, xs, output: str):
    z = jax.vmap(model)(xs)
    if output == "sigmoid":
        return jax.nn.sigmoid(z)
    if output == "softmax":
        return jax.nn.softmax(z, axis=-1)
    return z


def _init_net(key, **settings) -> SequenceNet:
    return SequenceNet(key=key, **settings)  # drawn on the host: nothing to compile


@eqx.filter_jit
def _sample(model, start, key, *, n: int, steps: int, stop: int, n_stops: int, output: str,
            temperature: float):
    """Draw ``n`` continuations of ``start`` (a one-hot row) for ``steps`` steps at once."""
    n_out = start.shape[-1]

    def one(k):
        def body(carry, k_t):
            state, x, stops = carry
            done = stops >= n_stops
            state, z = model.step(state, x)
            if output == "sigmoid":  # the seed normalises the multi-hot outputs
                p = jax.nn.sigmoid(z)
                logp = jnp.log(jnp.maximum(p / jnp.sum(p), 1e-12)) / temperature
            else:
                logp = z / temperature
            sym = jax.random.categorical(k_t, logp)
            x = jax.nn.one_hot(sym, n_out)
            sym = jnp.where(done, -1, sym)
            return (state, x, stops + (sym == stop)), sym

        keys = jax.random.split(k, steps)
        _, syms = jax.lax.scan(body, (model.initial_state(), start, jnp.asarray(0)), keys)
        return syms

    return jax.vmap(one)(jax.random.split(key, n))


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
    from integer targets). Sequences are padded to a
    multiple of 8 steps with a mask; a whole epoch is one compiled loop. Minibatches
    are drawn from at most two length buckets (multiples of 4 steps), each
    minibatch from one bucket, so short sequences are not run to the longest one's
    length.

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
    random_state, verbose, warm_start, early_stopping, ... : as the Autoencoder.

    Attributes
    ----------
    model_ : SequenceNet
    alphabet_ : str or None
        The symbols, for string data.
    vocabulary_ : Vocabulary or None
        The tokens, for token sequences (learned by a fresh fit, kept by a warm
        start or ``partial_fit``).
    n_features_in_, n_outputs_ : int
        Inputs and outputs per step (tokens: the embedding size and the number of
        ids, ``len(vocabulary_)``).
    loss_curve_ : list of float
    """

    _parameter_constraints: dict = {
        "cell": [StrOptions(set(CELLS))],
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
        **TRAINING_CONSTRAINTS,
    }

    def __init__(self, cell="lstm", *, hidden_size=32, num_layers=1, output="softmax",
                 init="glorot_uniform", forget_bias=2.0, activation="tanh", optimizer="adam",
                 learning_rate=0.01, learning_rate_schedule="cosine", momentum=0.9,
                 clip_norm=None, batch_size=1, bucket_lengths=None, curriculum=1, max_iter=8,
                 embedding_dim=32, min_count=1, max_features=None, shuffle=True,
                 early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-4, random_state=None,
                 verbose=False, warm_start=False, checkpoint_dir=None, checkpoint_every=10,
                 resume=False, devices=None):
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.output = output
        self.init = init
        self.forget_bias = forget_bias
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.momentum = momentum
        self.clip_norm = clip_norm
        self.batch_size = batch_size
        self.bucket_lengths = bucket_lengths
        self.curriculum = curriculum
        self.max_iter = max_iter
        self.embedding_dim = embedding_dim
        self.min_count = min_count
        self.max_features = max_features
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.devices = devices

    # -- data ----------------------------------------------------------------------------------
    def _encode_strings(self, strings, alphabet: str) -> list[np.ndarray]:
        index = {c: i for i, c in enumerate(alphabet)}
        out = []
        for i, s in enumerate(strings):
            if not isinstance(s, str):
                raise InputError(f"expected a string, got {type(s).__name__}", index=i)
            if len(s) < 2:
                raise InputError("a string needs at least 2 symbols (an input and a next one)",
                                 index=i)
            codes = np.empty(len(s), np.int64)
            for j, ch in enumerate(s):
                if ch not in index:
                    raise InputError(
                        f"symbol {ch!r} is not in the alphabet {alphabet!r}", index=i,
                        column=j + 1)
                codes[j] = index[ch]
            out.append(np.eye(len(alphabet), dtype=np.float32)[codes])
        return out

    @staticmethod
    def _is_strings(X) -> bool:
        return isinstance(X, list | tuple) and len(X) > 0 and isinstance(X[0], str)

    def _tokens(self, X, Y, *, fitting: bool):
        """Input ids (the tokens) and target ids (the next tokens, then the end marker)."""
        if Y is not None:
            raise InputError("token sequences take no targets Y: the model learns to "
                             "predict each next token")
        if fitting:
            if self.output != "softmax":
                raise ValueError(f"token sequences need output='softmax' (a distribution "
                                 f"over the next token), got output={self.output!r}")
        elif getattr(self, "vocabulary_", None) is None:
            what = ("symbol strings" if getattr(self, "alphabet_", None) is not None
                    else "real-valued sequences")
            raise InputError(f"this model was trained on {what}, not token sequences")
        seqs = as_token_sequences(X, split_strings=False)
        if fitting:
            self.alphabet_ = None
            self.vocabulary_ = Vocabulary.learn(seqs, min_count=int(self.min_count),
                                                max_features=self.max_features)
        ids = [self.vocabulary_.encode(s, end=True) for s in seqs]
        return [i[:-1] for i in ids], [i[1:] for i in ids]

    def _sequences(self, X, Y, alphabet, *, fitting: bool):
        """Lists of input and target arrays (``fitting``: learn the alphabet or the
        vocabulary); for token sequences, 1-D int arrays of ids."""
        if isinstance(X, str):
            raise InputError("expected a list of sequences, got one string")
        if X is None or len(X) == 0:
            raise InputError("no sequences")
        if is_token_input(X, strings_are_tokens=False):
            return self._tokens(X, Y, fitting=fitting)
        if not fitting and getattr(self, "vocabulary_", None) is not None:
            raise InputError("this model was trained on token sequences (lists of tokens), "
                             "not " + ("symbol strings" if self._is_strings(X)
                                       else "real-valued sequences"))
        if self._is_strings(X):
            if fitting:
                self.alphabet_ = alphabet or "".join(sorted(set("".join(X))))
                self.vocabulary_ = None
            elif getattr(self, "alphabet_", None) is None:
                raise InputError("this model was trained on real-valued sequences, not strings")
            onehots = self._encode_strings(X, self.alphabet_)
            xs = [o[:-1] for o in onehots]
            ys = [o[1:] for o in onehots] if Y is None else [np.asarray(y, np.float32)
                                                              for y in Y]
        else:
            if fitting:
                self.alphabet_ = self.vocabulary_ = None
            xs = self._real_sequences(X)
            ys = None if Y is None else [np.asarray(y, np.float32) for y in Y]
        if ys is not None:
            self._check_targets(xs, ys)
        if not fitting and xs[0].shape[1] != self.n_features_in_:
            raise InputError(f"sequences have {xs[0].shape[1]} features, the model expects "
                             f"{self.n_features_in_}")
        return xs, ys

    @staticmethod
    def _real_sequences(X) -> list[np.ndarray]:
        xs = [np.asarray(x, np.float32) for x in X]
        for i, x in enumerate(xs):
            if x.ndim != 2 or x.shape[0] == 0:
                raise InputError(f"each sequence must be (T >= 1, n_features), got {x.shape}",
                                 index=i)
            if not np.isfinite(x).all():
                t, j = np.argwhere(~np.isfinite(x))[0]
                raise InputError(f"non-finite value at step {t}, feature {j}", index=i)
        widths = {x.shape[1] for x in xs}
        if len(widths) > 1:
            raise InputError(f"sequences of different widths {sorted(widths)}")
        return xs

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

    # -- training ------------------------------------------------------------------------------
    def _new_model(self, key) -> SequenceNet:
        vocabulary = getattr(self, "vocabulary_", None)
        tokens = {} if vocabulary is None else {"n_tokens": len(vocabulary)}
        return _init_net(key, n_in=int(self.n_features_in_), hidden=int(self.hidden_size),
                         n_out=int(self.n_outputs_), cell=self.cell,
                         num_layers=int(self.num_layers), init=self.init,
                         forget_bias=float(self.forget_bias), activation=self.activation,
                         **tokens)

    def _objective(self) -> SequenceObjective:
        return SequenceObjective(self.output)

    def _curriculum(self) -> int:
        return int(self.curriculum)

    def _description(self) -> str:
        return f"SequenceModel({self.cell})"

    def _prepare(self, X, Y=None, *, reset: bool, alphabet: str | None = None) -> TrainingData:
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
        self._bucket_lengths = lengths
        return TrainingData(self._padded(xs, ys, lengths[-1]), (row_bucket, lengths),
                            seq_lengths)

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
            tokens, else the width of a step).
        """
        check_is_fitted(self)
        return {"cell": self.cell, "hidden_size": int(self.hidden_size),
                "cells": tuple(self.model_.cells), "embedding": self.model_.embedding,
                "vocabulary": self.vocabulary_, "n_features_in": int(self.n_features_in_)}

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
        token ``t``, the last row that of the end marker's place)."""
        check_is_fitted(self)
        xs, _ = self._sequences(X, None, None, fitting=False)
        out = self._by_length(lambda b: _forward(self.model_, jnp.asarray(b[0]), self.output),
                              xs, ragged=True)
        return [o[: len(x)] for o, x in zip(out, xs, strict=True)]

    def predict(self, X):
        """Most likely next symbol per step (strings), next token per step (lists of str,
        with ``'</s>'`` for the end and ``'<unk>'`` for a token out of the vocabulary),
        multi-hot decisions, or values."""
        probs = self.predict_proba(X)
        if self.output == "softmax":
            if self.vocabulary_ is not None:
                return [self.vocabulary_.decode(p.argmax(-1)) for p in probs]
            if self.alphabet_ is not None:
                return ["".join(self.alphabet_[k] for k in p.argmax(-1)) for p in probs]
            return [p.argmax(-1) for p in probs]
        if self.output == "sigmoid":
            return [p > 0.5 for p in probs]
        return probs

    def _losses(self, X, Y, fn, *, ragged: bool):
        """``(inputs, fn(model, batch, objective) over length buckets)``."""
        check_is_fitted(self)
        xs, ys = self._sequences(X, Y, None, fitting=False)
        if ys is None:
            raise InputError("real-valued sequences need targets Y")
        objective = self._objective()
        return xs, self._by_length(
            lambda b: fn(self.model_, tuple(jnp.asarray(a) for a in b), objective),
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
        a string of ``k`` symbols, ``k - 1`` steps: entry ``t`` scores symbol ``t + 1``).
        """
        xs, steps = self._losses(X, Y, _step_losses, ragged=True)
        steps = [-s[: len(x)].astype(np.float64) for s, x in zip(steps, xs, strict=True)]
        if per_step:
            return steps
        return np.array([s.sum() for s in steps])

    def sample(self, n: int = 1, *, start: str = "B", stop: str = "E", n_stops: int = 1,
               max_length: int = 100, temperature: float = 1.0,
               random_state=None) -> list[str]:
        """Generate ``n`` strings at once (one compiled loop): from ``start``, drawing each
        next symbol from the model's output, until the ``n_stops``-th ``stop`` symbol (2 for
        the embedded Reber grammar, whose inner string ends in ``E`` too) or ``max_length``
        symbols. Sigmoid (multi-hot) outputs are normalised to a distribution, as the seed
        does; ``temperature`` divides the log-probabilities."""
        check_is_fitted(self)
        if self.vocabulary_ is not None:
            raise InputError("sample draws symbol strings; this model was trained on token "
                             "sequences (use predict_proba for next-token distributions)")
        if self.alphabet_ is None:
            raise InputError("sample needs a model trained on symbol strings, this one was "
                             "trained on real-valued sequences")
        for name, sym in (("start", start), ("stop", stop)):
            if len(sym) != 1 or sym not in self.alphabet_:
                raise InputError(f"{name} symbol {sym!r} is not in the alphabet "
                                 f"{self.alphabet_!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        rng = np.random.default_rng(random_state)
        key = jax.random.key(int(rng.integers(2**31 - 1)))
        first = jnp.eye(len(self.alphabet_))[self.alphabet_.index(start)]
        syms = np.asarray(_sample(self.model_, first, key, n=int(n), steps=int(max_length) - 1,
                                  stop=self.alphabet_.index(stop), n_stops=int(n_stops),
                                  output=self.output, temperature=float(temperature)))
        return [start + "".join(self.alphabet_[k] for k in row if k >= 0) for row in syms]

    # -- files ---------------------------------------------------------------------------------
    def _fitted_config(self) -> dict:
        return {"n_features_in": int(self.n_features_in_), "n_outputs": int(self.n_outputs_),
                "alphabet": self.alphabet_,
                "vocabulary": None if self.vocabulary_ is None else self.vocabulary_.to_config()}

    def _restore_fitted(self, config: dict, path) -> None:
        n_in, n_out = int(config["n_features_in"]), int(config["n_outputs"])
        if n_in < 1 or n_out < 1:
            raise ModelFileError(f"{path}: invalid sizes {n_in} -> {n_out}")
        self.n_features_in_, self.n_outputs_ = n_in, n_out
        self.alphabet_ = config.get("alphabet")
        if self.alphabet_ is not None and (not isinstance(self.alphabet_, str)
                                           or len(self.alphabet_) != n_in):
            raise ModelFileError(f"{path}: alphabet does not match the input size")
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
