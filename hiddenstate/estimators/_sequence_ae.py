"""``hiddenstate.SequenceAutoencoder``: the encoder-decoder of Dai & Le (2015)."""

from __future__ import annotations

from numbers import Integral

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import _serialize
from .._errors import InputError, ModelFileError
from ..nn._cells import CELLS
from ..nn._recurrent_ae import SequenceAutoencoderNet
from ..objectives import SequenceAEObjective
from ._base import TRAINING_CONSTRAINTS, IncrementalMixin, TrainingData, TrainingMixin
from ._inference import apply_batched

__all__ = ["SequenceAutoencoder"]


@eqx.filter_jit
def _encode(model, xs, lengths):
    return jax.vmap(model.encode)(xs, lengths)


@eqx.filter_jit
def _decode(model, codes, n_steps: int):
    return jax.vmap(lambda c: model.decode_reversed(c, n_steps))(codes)


@eqx.filter_jit
def _errors(model, xs, lengths):
    return SequenceAEObjective().per_example(model, (xs, lengths))


@_serialize.register
class SequenceAutoencoder(TransformerMixin, IncrementalMixin, TrainingMixin, BaseEstimator):
    r"""Sequence autoencoder (Dai & Le 2015): a recurrent encoder folds each sequence
    into one code, a recurrent decoder unrolls it back.

    The encoder (``cell``: ``'elman'``, ``'lstm'`` or ``'gru'``) reads the
    sequence; its last output is the code (``n_components`` values). The
    decoder, a cell of the same kind started from the code and given no
    inputs, emits the sequence newest first (the most recent step is the
    first read out), so any length can be decoded from a code. Training
    minimises the mean squared error per step and feature. Sequences of
    different lengths are padded and masked; training pads to the longest,
    inference to power-of-two length buckets (bounded compilations).

    Parameters
    ----------
    n_components : int, default=32
        Code size (hidden units of both cells).
    cell : {'lstm', 'gru', 'elman'}, default='lstm'
    optimizer, learning_rate, learning_rate_schedule, momentum, clip_norm, batch_size, \
max_iter, shuffle, early_stopping, validation_fraction, n_iter_no_change, tol, random_state, \
verbose, warm_start, checkpoint_dir, checkpoint_every, resume, devices
        As :class:`~hiddenstate.Autoencoder` (``max_iter`` epochs; defaults: adam, 0.01,
        cosine, 0.9, clip 1.0, batches of ``min(32, n)``, 100 epochs).

    Attributes
    ----------
    model_ : SequenceAutoencoderNet
    n_features_in_ : int
        Width ``d`` of every step.
    loss_curve_ : list of float
    n_iter_ : int
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "cell": [StrOptions(set(CELLS))],
        **TRAINING_CONSTRAINTS,
    }
    _tensor_prefix = "model."

    def __init__(self, n_components=32, *, cell="lstm", optimizer="adam", learning_rate=1e-2,
                 learning_rate_schedule="cosine", momentum=0.9, clip_norm=1.0, batch_size="auto",
                 max_iter=100, shuffle=True, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, random_state=None, verbose=False,
                 warm_start=False, checkpoint_dir=None, checkpoint_every=10, resume=False,
                 devices=None):
        self.n_components = n_components
        self.cell = cell
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.momentum = momentum
        self.clip_norm = clip_norm
        self.batch_size = batch_size
        self.max_iter = max_iter
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

    # -- input -------------------------------------------------------------------------------
    def _check_sequences(self, X, *, reset: bool) -> list[np.ndarray]:
        if isinstance(X, np.ndarray) and X.ndim == 3:
            X = list(X)
        if isinstance(X, np.ndarray) or not hasattr(X, "__len__"):
            raise InputError("X must be a list of (T_i, d) arrays (or one (n, T, d) array)")
        if len(X) == 0:
            raise InputError("X holds no sequences")
        width = None if reset else self.n_features_in_
        out = []
        for i, x in enumerate(X):
            a = self._one_sequence(x, i)
            width = a.shape[1] if width is None else width
            if a.shape[1] != width:
                what = "the fitted" if not reset else "the first sequence's"
                raise InputError(
                    f"has {a.shape[1]} features per step, {what} width is {width}", index=i
                )
            out.append(a)
        if reset:
            self.n_features_in_ = int(width)
        return out

    @staticmethod
    def _one_sequence(x, i: int) -> np.ndarray:
        try:
            a = np.asarray(x, dtype=np.float32)
        except (TypeError, ValueError):
            raise InputError("not a numeric (T, d) array", index=i) from None
        if a.ndim != 2:
            raise InputError(f"expected a (T, d) array, got shape {a.shape}", index=i)
        if a.shape[0] == 0:
            raise InputError("empty sequence (0 steps)", index=i)
        if not np.all(np.isfinite(a)):
            step = int(np.flatnonzero(~np.isfinite(a).all(axis=1))[0])
            raise InputError(f"non-finite value at step {step}", index=i)
        return a

    @staticmethod
    def _pad(seqs: list[np.ndarray], L: int) -> tuple[np.ndarray, np.ndarray]:
        d = seqs[0].shape[1]
        xs = np.zeros((len(seqs), L, d), np.float32)
        for i, s in enumerate(seqs):
            xs[i, : s.shape[0]] = s
        return xs, np.array([s.shape[0] for s in seqs], np.int32)

    def _by_buckets(self, seqs: list[np.ndarray], fn) -> np.ndarray:
        def batch(rows, size, length):
            rows = list(rows) + [rows[0]] * (size - len(rows))
            xs, lens = self._pad([seqs[i] for i in rows], length)
            return jnp.asarray(xs), jnp.asarray(lens)

        return apply_batched(fn, len(seqs), batch, lengths=[s.shape[0] for s in seqs])

    # -- training ----------------------------------------------------------------------------
    def _new_model(self, key) -> SequenceAutoencoderNet:
        return SequenceAutoencoderNet(int(self.n_features_in_), int(self.n_components), key=key,
                                      cell=self.cell)

    def _objective(self) -> SequenceAEObjective:
        return SequenceAEObjective()

    def _prepare(self, X, y=None, *, reset: bool) -> TrainingData:
        del y
        seqs = self._check_sequences(X, reset=reset)
        return TrainingData(self._pad(seqs, max(s.shape[0] for s in seqs)))

    def fit(self, X, y=None):
        """Train on ``X``, a list of ``(T_i, d)`` arrays (lengths may differ). Returns ``self``."""
        return self._fit(X)

    # -- inference ---------------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Codes ``(n, n_components)``: the encoder's last output for each sequence."""
        check_is_fitted(self)
        seqs = self._check_sequences(X, reset=False)
        return self._by_buckets(seqs, lambda x, n: _encode(self.model_, x, n))

    def inverse_transform(self, codes, lengths) -> list[np.ndarray]:
        """Decode ``codes`` ``(n, n_components)`` into sequences of the given ``lengths``."""
        check_is_fitted(self)
        codes = np.asarray(codes, dtype=np.float32)
        H = int(self.n_components)
        if codes.ndim != 2 or codes.shape[1] != H:
            raise InputError(
                f"codes must have shape (n, {H}) (n_components={H}), got {codes.shape}"
            )
        lengths = np.asarray(lengths)
        if lengths.shape != (codes.shape[0],) or not np.issubdtype(lengths.dtype, np.integer):
            raise InputError(
                f"lengths must be {codes.shape[0]} integers, one per code, "
                f"got shape {lengths.shape} of {lengths.dtype}"
            )
        if (lengths < 1).any():
            raise InputError(f"lengths must be >= 1, got {int(lengths.min())}")
        if not np.all(np.isfinite(codes)):
            raise InputError("codes hold non-finite values")

        def batch(rows, size, length):
            chunk = np.zeros((size, H), np.float32)
            chunk[: len(rows)] = codes[rows]
            return jnp.asarray(chunk), length

        rev = apply_batched(lambda c, L: _decode(self.model_, c, L), codes.shape[0], batch,
                            lengths=lengths, ragged=True)
        return [r[:n][::-1].copy() for r, n in zip(rev, lengths, strict=True)]

    def predict(self, X) -> list[np.ndarray]:
        """Reconstructions of ``X`` (encode, then decode to the same lengths)."""
        seqs = self._check_sequences(X, reset=False)
        return self.inverse_transform(self.transform(seqs), [s.shape[0] for s in seqs])

    def reconstruction_error(self, X) -> np.ndarray:
        """Mean squared error per step and feature of each sequence ``(n,)``."""
        check_is_fitted(self)
        seqs = self._check_sequences(X, reset=False)
        return self._by_buckets(seqs, lambda x, n: _errors(self.model_, x, n))

    def score_samples(self, X) -> np.ndarray:
        """Minus :meth:`reconstruction_error` (higher = more normal; anomaly detection)."""
        return -self.reconstruction_error(X)

    def score(self, X, y=None) -> float:
        """Minus the mean reconstruction error."""
        return float(np.mean(self.score_samples(X)))

    # -- files -------------------------------------------------------------------------------
    def _fitted_config(self) -> dict:
        return {"n_features_in": int(self.n_features_in_)}

    def _restore_fitted(self, config: dict, path) -> None:
        self.n_features_in_ = int(config["n_features_in"])
        if self.n_features_in_ < 1:
            raise ModelFileError(f"{path}: invalid n_features_in {self.n_features_in_}")
