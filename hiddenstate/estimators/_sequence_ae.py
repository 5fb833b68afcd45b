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

from .. import _serialize, train
from .._errors import DivergenceError, InputError, ModelFileError
from ..nn._cells import CELLS
from ..nn._recurrent_ae import SequenceAEObjective, SequenceAutoencoderNet
from ._base import TRAINING_CONSTRAINTS, TrainingMixin

__all__ = ["SequenceAutoencoder"]

_CHUNK = 256
_TRAINING = (
    "optimizer",
    "learning_rate",
    "learning_rate_schedule",
    "momentum",
    "clip_norm",
    "batch_size",
    "max_iter",
    "shuffle",
    "random_state",
    "verbose",
)


def _bucket(n: int) -> int:
    return max(8, 1 << (int(n) - 1).bit_length())


@eqx.filter_jit
def _encode(model, xs, lengths):
    return jax.vmap(model.encode)(xs, lengths)


@eqx.filter_jit
def _decode(model, codes, n_steps: int):
    return jax.vmap(lambda c: model.decode_reversed(c, n_steps))(codes)


@eqx.filter_jit
def _errors(model, xs, lengths):
    return jax.vmap(SequenceAEObjective().per_sequence, in_axes=(None, 0, 0))(model, xs, lengths)


@_serialize.register
class SequenceAutoencoder(TransformerMixin, TrainingMixin, BaseEstimator):
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
    optimizer, learning_rate, learning_rate_schedule, momentum, clip_norm,
    batch_size, max_iter, shuffle, random_state, verbose
        As :class:`~hiddenstate.Autoencoder` (``max_iter`` epochs).

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
        **{k: TRAINING_CONSTRAINTS[k] for k in _TRAINING},
    }

    def __init__(
        self,
        n_components: int = 32,
        *,
        cell: str = "lstm",
        optimizer: str = "adam",
        learning_rate: float = 1e-2,
        learning_rate_schedule: str = "cosine",
        momentum: float = 0.9,
        clip_norm: float | None = 1.0,
        batch_size: int | str | None = "auto",
        max_iter: int = 100,
        shuffle: bool = True,
        random_state=None,
        verbose: bool | int = False,
    ) -> None:
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
        self.random_state = random_state
        self.verbose = verbose

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
            try:
                a = np.asarray(x, dtype=np.float32)
            except (TypeError, ValueError):
                raise InputError("not a numeric (T, d) array", index=i) from None
            if a.ndim != 2:
                raise InputError(f"expected a (T, d) array, got shape {a.shape}", index=i)
            if a.shape[0] == 0:
                raise InputError("empty sequence (0 steps)", index=i)
            if width is None:
                width = a.shape[1]
            if a.shape[1] != width:
                what = "the fitted" if not reset else "the first sequence's"
                raise InputError(
                    f"has {a.shape[1]} features per step, {what} width is {width}", index=i
                )
            if not np.all(np.isfinite(a)):
                step = int(np.flatnonzero(~np.isfinite(a).all(axis=1))[0])
                raise InputError(f"non-finite value at step {step}", index=i)
            out.append(a)
        if reset:
            self.n_features_in_ = int(width)
        return out

    @staticmethod
    def _pad(seqs: list[np.ndarray], L: int) -> tuple[np.ndarray, np.ndarray]:
        d = seqs[0].shape[1]
        xs = np.zeros((len(seqs), L, d), np.float32)
        for i, s in enumerate(seqs):
            xs[i, : s.shape[0]] = s
        return xs, np.array([s.shape[0] for s in seqs], np.int32)

    def _by_buckets(self, seqs: list[np.ndarray], fn) -> np.ndarray:
        lengths = np.array([s.shape[0] for s in seqs])
        buckets = np.array([_bucket(n) for n in lengths])
        out = None
        for L in np.unique(buckets):
            idx = np.flatnonzero(buckets == L)
            for start in range(0, idx.size, _CHUNK):
                part = idx[start : start + _CHUNK]
                size = min(_CHUNK, max(8, 1 << (part.size - 1).bit_length()))
                chunk = [seqs[i] for i in part] + [seqs[part[0]]] * (size - part.size)
                xs, lens = self._pad(chunk, int(L))
                res = np.asarray(fn(jnp.asarray(xs), jnp.asarray(lens)))[: part.size]
                if out is None:
                    out = np.zeros((len(seqs), *res.shape[1:]), res.dtype)
                out[part] = res
        return out

    # -- training ----------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Train on ``X``, a list of ``(T_i, d)`` arrays (lengths may differ). Returns ``self``."""
        self._validate_params()
        seqs = self._check_sequences(X, reset=True)
        xs, lengths = self._pad(seqs, max(s.shape[0] for s in seqs))
        seed = self._run_seed()
        rng = np.random.default_rng(seed)
        model = SequenceAutoencoderNet(
            self.n_features_in_, int(self.n_components), key=self._key(rng), cell=self.cell
        )
        bsz = self._resolve_batch_size(len(seqs))
        steps = 1 if bsz is None else -(-len(seqs) // bsz)
        try:
            result = train.fit(
                model,
                (xs, lengths),
                objective=SequenceAEObjective(),
                optimizer=self._optimizer(steps),
                max_iter=int(self.max_iter),
                rng=rng,
                key=self._key(rng),
                batch_size=bsz,
                shuffle=self.shuffle,
                verbose=self.verbose,
                description="SequenceAutoencoder",
            )
        except DivergenceError as err:
            self.model_ = err.result.model  # type: ignore[attr-defined]
            raise
        self.model_ = result.model
        self._record(result.history, append=False)
        return self

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
        out: list = [None] * codes.shape[0]
        buckets = np.array([_bucket(n) for n in lengths])
        for L in np.unique(buckets):
            idx = np.flatnonzero(buckets == L)
            for start in range(0, idx.size, _CHUNK):
                part = idx[start : start + _CHUNK]
                size = min(_CHUNK, max(8, 1 << (part.size - 1).bit_length()))
                chunk = np.zeros((size, H), np.float32)
                chunk[: part.size] = codes[part]
                rev = np.asarray(_decode(self.model_, jnp.asarray(chunk), int(L)))
                for j, i in enumerate(part):
                    out[i] = rev[j, : lengths[i]][::-1].copy()
        return out

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
    def _to_file(self):
        params = self.get_params()
        params["random_state"] = None
        config = {
            "params": params,
            "n_features_in": int(self.n_features_in_),
            "loss_curve": [float(x) for x in self.loss_curve_],
        }
        return config, _serialize.module_to_tensors(self.model_, "model.")

    @classmethod
    def _from_file(cls, config: dict, tensors: dict, *, path) -> SequenceAutoencoder:
        est = cls(**config["params"])
        est.n_features_in_ = int(config["n_features_in"])
        if est.n_features_in_ < 1 or est.cell not in CELLS:
            raise ModelFileError(f"{path}: invalid settings")
        skeleton = SequenceAutoencoderNet(
            est.n_features_in_, int(est.n_components), key=jax.random.key(0), cell=est.cell
        )
        est.model_ = _serialize.tensors_to_module(skeleton, tensors, path=path, prefix="model.")
        est.loss_curve_ = list(config.get("loss_curve", []))
        est.n_iter_ = len(est.loss_curve_)
        return est
