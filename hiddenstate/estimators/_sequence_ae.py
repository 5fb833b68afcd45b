"""``hiddenstate.SequenceAutoencoder``: the encoder-decoder of Dai & Le (2015)."""

from __future__ import annotations

from numbers import Integral

import equinox as eqx
import jax
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .. import _serialize
from .._errors import InputError, ModelFileError
from ..distributed import device
from ..nn._cells import CELLS
from ..nn._recurrent_ae import SequenceAutoencoderNet
from ..objectives import SequenceAEObjective
from ._base import IncrementalMixin, TrainingData, TrainingMixin
from ._inference import apply_batched
from ._inputs import MISSING, check_kind, check_settings, input_kind, read_sequences
from ._params import TRAINING_CONSTRAINTS, RegistryOptions, store_params
from ._scaling import SCALES, Scaling, check_kept_scaling, fit_scaling
from ._scoring import label_at
from ._sequence import length_buckets
from ._tokens import TOKENIZERS, Vocabulary, pad_ids, saved_tokenizer

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


@eqx.filter_jit
def _step_errors(model, xs, lengths):
    return SequenceAEObjective().per_step(model, (xs, lengths))


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
    inference to power-of-two length buckets (bounded compilations). A 2-D array
    ``(n, T)`` is refused (give ``list(X[:, :, None])``); a masked array (``numpy.ma``)
    is read as its kind, but a masked step is a missing value, which this model cannot
    use: it is refused, naming the sequence, step and feature. Inputs are read by
    :mod:`hiddenstate.estimators._inputs`, as by every sequence estimator (the same
    kinds, settings and messages).

    Real-valued sequences are scaled (``scale``, fitted on the training sequences and
    stored in the model file) before the encoder reads them; the network, its loss and
    therefore :meth:`reconstruction_error`, :meth:`score_samples` and the anomaly
    scores of :class:`~hiddenstate.AnomalyDetector` are in the scaled units, where every
    channel counts alike whatever its units (a channel in thousands does not drown one
    in fractions), while :meth:`predict` returns reconstructions in the data's units.

    Token sequences (the SA-LSTM pretraining of Dai & Le): ``fit(X)`` with lists
    of tokens or strings (split into words by ``tokenizer``). A
    :class:`~hiddenstate.estimators._tokens.Vocabulary` maps the tokens to ids
    (0 for tokens out of the vocabulary), the encoder reads their learned
    embeddings, the decoder's outputs are logits over the vocabulary, and
    training minimises the softmax cross-entropy per step against the ids (mean
    over the real steps). Training minibatches then come from at most two length
    buckets (multiples of 4 steps), so short sentences are not run to the longest
    one's length; ``predict`` and ``inverse_transform`` give token lists.

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
    embedding_dim : int, default=32
        Size of the learned token embedding (token sequences only).
    min_count : int, default=1
        Tokens seen fewer times in the training sequences are out of the vocabulary
        (token sequences only).
    max_features : int or None, default=None
        Keep only this many of the most frequent tokens (token sequences only;
        None: all).
    tokenizer : {'default', 'whitespace'}, default='default'
        How a sequence given as a string becomes words, at fit and at every later
        call (stored in the model file): ``"default"`` lower-cases and splits the
        punctuation at the ends of words off (``"Absolutely BRILLIANT!"`` ->
        ``absolutely brilliant !``; ``don't``, ``co-writer/director``, ``1,000`` stay
        whole; see :func:`~hiddenstate.estimators._tokens.tokenize`); ``"whitespace"``
        splits on whitespace and keeps case (the rule of model files saved before this
        setting, which load with it). Sequences given as lists of tokens (characters
        included) are used as they are. A classifier started from this model
        (``init_from``) must split its words by the same rule.
    scale : {'auto', 'standard', 'minmax', 'series', 'none'}, default='auto'
        How real-valued sequences are scaled before the network reads them (auto:
        standard). Fitted on the training sequences
        (:mod:`~hiddenstate.estimators._scaling`): ``"standard"`` per channel to mean 0
        and variance 1 over the training steps, ``"minmax"`` per channel to [0, 1],
        ``"series"`` each sequence by its own mean and standard deviation (the shape
        only: a sequence's level and amplitude are then invisible to the model and to
        its anomaly scores), ``"none"`` as given; ``"auto"`` is ``"standard"``, which
        keeps the differences of level and amplitude between sequences that anomalies
        often are (one-class detection on the UEA panel, trained on one class: ROC AUC
        0.98 against 0.83 per series on BasicMotions, 0.97 against 0.60 on
        JapaneseVowels). Stored in the model file, applied at every later call and undone for
        the reconstructions. Token sequences take ``"auto"`` or ``"none"`` (nothing is
        scaled); files written before this setting load as ``"none"``.
    missing : {'error', 'interpolate'}, default='error'
        Missing values (NaN, masked steps) of real-valued sequences: refused with their
        sequence, step and feature, or filled by linear interpolation along the steps of
        their channel, at fit and at every later call.

    Attributes
    ----------
    model_ : SequenceAutoencoderNet
    n_features_in_ : int
        Width ``d`` of every step (tokens: ``embedding_dim``).
    vocabulary_ : Vocabulary or None
        The tokens, for token sequences (learned by a fresh fit, kept by a warm
        start or ``partial_fit``).
    scaling_ : Scaling
        The fitted scaling (``scaling_.kind``: ``scale`` resolved; ``"none"`` for
        tokens), learned by a fresh fit, kept by a warm start or ``partial_fit``.
    loss_curve_ : list of float
    n_iter_ : int
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "cell": [RegistryOptions(CELLS)],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "tokenizer": [StrOptions(set(TOKENIZERS))],
        "scale": [StrOptions(set(SCALES))],
        "missing": [StrOptions(set(MISSING))],
        **TRAINING_CONSTRAINTS,
    }
    _tensor_prefix = "model."

    def __init__(self, n_components=32, *, cell="lstm", optimizer="adam", learning_rate=1e-2,
                 learning_rate_schedule="cosine", momentum=0.9, clip_norm=1.0, batch_size="auto",
                 max_iter=100, shuffle=True, early_stopping=False, validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-4, random_state=None, verbose=False,
                 warm_start=False, checkpoint_dir=None, checkpoint_every=10, resume=False,
                 devices=None, embedding_dim=32, min_count=1, max_features=None,
                 tokenizer="default", scale="auto", missing="error"):
        store_params(self, locals())

    # -- input -------------------------------------------------------------------------------
    def _input_kind(self) -> str:
        """The kind of input (:data:`~hiddenstate.estimators._inputs.KINDS`) the model read."""
        return "sequences" if getattr(self, "vocabulary_", None) is None else "tokens"

    def _check_sequences(self, X, *, reset: bool, raw: bool = False) -> list[np.ndarray]:
        """``(T_i, d)`` float arrays, scaled by ``scaling_`` (unless ``raw``), or, for
        token sequences, ``(T_i,)`` int32 ids (``reset``: learn the width, the vocabulary
        and the scaling)."""
        kind = input_kind(X, missing=self.missing)
        check_kind(kind, accepted=("tokens", "sequences"),
                   trained=None if reset else self._input_kind())
        if reset:
            check_settings(self, kind)
            _check_real_settings(self, kind)
        seqs = read_sequences(
            X, kind=kind, tokenizer=self.tokenizer, min_count=self.min_count,
            max_features=self.max_features,
            vocabulary=None if reset else getattr(self, "vocabulary_", None),
            n_features=None if reset else int(self.n_features_in_), missing=self.missing)
        if reset:
            self.vocabulary_ = seqs.vocabulary
            self.n_features_in_ = (int(self.embedding_dim) if kind == "tokens"
                                   else seqs.n_features)
            self.scaling_ = (Scaling("none") if kind == "tokens" else fit_scaling(
                "standard" if self.scale == "auto" else self.scale, seqs.arrays))
        return seqs.arrays if raw else self.scaling_.transform(seqs.arrays)

    @staticmethod
    def _pad(seqs: list[np.ndarray], L: int) -> tuple[np.ndarray, np.ndarray]:
        if seqs[0].ndim == 1:
            return pad_ids(seqs, L)
        d = seqs[0].shape[1]
        xs = np.zeros((len(seqs), L, d), np.float32)
        for i, s in enumerate(seqs):
            xs[i, : s.shape[0]] = s
        return xs, np.array([s.shape[0] for s in seqs], np.int32)

    def _by_buckets(self, seqs: list[np.ndarray], fn, *, ragged: bool = False):
        def batch(rows, size, length):
            rows = list(rows) + [rows[0]] * (size - len(rows))
            xs, lens = self._pad([seqs[i] for i in rows], length)
            return device(xs), device(lens)

        return apply_batched(fn, len(seqs), batch, lengths=[s.shape[0] for s in seqs],
                             ragged=ragged)

    # -- training ----------------------------------------------------------------------------
    def _new_model(self, key) -> SequenceAutoencoderNet:
        vocabulary = getattr(self, "vocabulary_", None)
        tokens = {} if vocabulary is None else {"n_tokens": len(vocabulary)}
        return SequenceAutoencoderNet(int(self.n_features_in_), int(self.n_components), key=key,
                                      cell=self.cell, **tokens)

    def _parameter_estimate(self) -> int | None:
        from .._limits import recurrent_parameters

        n_in, h = int(self.n_features_in_), int(self.n_components)
        vocabulary = getattr(self, "vocabulary_", None)
        n_out = n_in if vocabulary is None else len(vocabulary)
        encoder = recurrent_parameters(self.cell, n_in, h)
        decoder = recurrent_parameters(self.cell, 0, h)
        if encoder is None or decoder is None:
            return None
        embedding = 0 if vocabulary is None else len(vocabulary) * n_in
        return encoder + decoder + (h + 1) * n_out + embedding

    def _objective(self) -> SequenceAEObjective:
        return SequenceAEObjective()

    def _target_variance(self, data: TrainingData) -> float | None:
        """The variance of the (scaled) real-valued steps the decoder reconstructs, per
        channel over the real steps, averaged over the channels (None for tokens)."""
        if self.vocabulary_ is not None:
            return None
        xs, lengths = (np.asarray(a) for a in data.data)
        real = np.arange(xs.shape[1])[None, :] < lengths[:, None]
        return float(np.mean(xs[real].astype(np.float64).var(axis=0)))

    def _prepare(self, X, y=None, *, reset: bool) -> TrainingData:
        del y
        if not reset:
            check_kept_scaling(self.scale, self.scaling_,
                               "none" if self.vocabulary_ is not None else "standard")
        seqs = self._check_sequences(X, reset=reset)
        if self.vocabulary_ is None:
            # Real-valued sequences: one padded length, as before (bit-for-bit the same runs).
            return TrainingData(self._pad(seqs, max(s.shape[0] for s in seqs)))
        row_bucket, lengths = length_buckets([s.shape[0] for s in seqs])
        return TrainingData(self._pad(seqs, lengths[-1]), buckets=(row_bucket, lengths))

    def fit(self, X, y=None):
        """Train on ``X``: a list of ``(T_i, d)`` arrays (lengths may differ), or of token
        sequences (lists of tokens, or strings split by ``tokenizer``). Returns ``self``."""
        return self._fit(X)

    def _encoder_parts(self) -> dict:
        """The trained encoder, for a model that starts from it (``init_from``).

        Returns
        -------
        dict with
            ``cell`` (str) and ``hidden_size`` (int, ``n_components``): the encoder's
            settings; ``cells``: ``(model_.encoder,)``, the encoder cell
            (:class:`~hiddenstate.nn.RecurrentCell`) in a one-layer tuple;
            ``embedding``: the ``(n_tokens, embedding_dim)`` token embedding, or None;
            ``vocabulary``: the :class:`Vocabulary` of the ids, or None;
            ``n_features_in``: the encoder's input width (the embedding size for
            tokens, else ``d``); ``tokenizer``: how strings became the vocabulary's tokens;
            ``scaling``: the :class:`~hiddenstate.estimators._scaling.Scaling` the encoder
            read its real-valued input through (``kind="none"`` for tokens), which a model
            that starts from the encoder must apply to its own input.
        """
        check_is_fitted(self)
        return {"cell": self.cell, "hidden_size": int(self.n_components),
                "cells": (self.model_.encoder,), "embedding": self.model_.embedding,
                "vocabulary": self.vocabulary_, "n_features_in": int(self.n_features_in_),
                "tokenizer": self.tokenizer, "scaling": self.scaling_}

    # -- inference ---------------------------------------------------------------------------
    def transform(self, X) -> np.ndarray:
        """Codes ``(n, n_components)``: the encoder's last output for each sequence."""
        check_is_fitted(self)
        return self._codes(self._check_sequences(X, reset=False))

    def _codes(self, seqs: list[np.ndarray]) -> np.ndarray:
        return self._by_buckets(seqs, lambda x, n: _encode(self.model_, x, n))

    def inverse_transform(self, codes, lengths) -> list[np.ndarray] | list[list[str]]:
        """Decode ``codes`` ``(n, n_components)`` into sequences of the given ``lengths``
        (token lists, the most likely token per step, for a model of token sequences),
        in the data's units; with ``scale="series"``, whose statistics belong to each
        input sequence and are not in its code, in the z-normalised units (:meth:`predict`
        maps those back with each input's own)."""
        check_is_fitted(self)
        decoded = self._decoded(codes, lengths)
        if self.vocabulary_ is not None or self.scaling_.kind == "series":
            return decoded
        return self.scaling_.inverse(decoded, self.scaling_.statistics(decoded))

    def _decoded(self, codes, lengths) -> list[np.ndarray] | list[list[str]]:
        """:meth:`inverse_transform` in the scaled units."""
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
            return device(chunk), length

        rev = apply_batched(lambda c, L: _decode(self.model_, c, L), codes.shape[0], batch,
                            lengths=lengths, ragged=True)
        if self.vocabulary_ is not None:
            return [self.vocabulary_.decode(r[:n][::-1].argmax(-1))
                    for r, n in zip(rev, lengths, strict=True)]
        return [r[:n][::-1].copy() for r, n in zip(rev, lengths, strict=True)]

    def predict(self, X) -> list[np.ndarray] | list[list[str]]:
        """Reconstructions of ``X`` (encode, then decode to the same lengths), in the
        data's units (the scaling undone with each sequence's statistics); token lists
        for token sequences."""
        check_is_fitted(self)
        raw = self._check_sequences(X, reset=False, raw=True)
        seqs = self.scaling_.transform(raw)
        decoded = self._decoded(self._codes(seqs), [s.shape[0] for s in seqs])
        if self.vocabulary_ is not None:
            return decoded
        return self.scaling_.inverse(decoded, self.scaling_.statistics(raw))

    def reconstruction_error(self, X, *, per_step: bool = False):
        """Mean squared error per step and feature of each sequence ``(n,)``, in the
        scaled units the model is trained in (``scale``; tokens: the mean softmax
        cross-entropy per step).

        With ``per_step=True``, a list of ``(T_i,)`` arrays: each step's error (squared
        error averaged over the step's features, or the token's cross-entropy in nats),
        so that the mean of sequence ``i``'s array is its error.
        """
        check_is_fitted(self)
        seqs = self._check_sequences(X, reset=False)
        if per_step:
            steps = self._by_buckets(seqs, lambda x, n: _step_errors(self.model_, x, n),
                                     ragged=True)
            return [e[: s.shape[0]] for e, s in zip(steps, seqs, strict=True)]
        return self._by_buckets(seqs, lambda x, n: _errors(self.model_, x, n))

    def score_samples(self, X) -> np.ndarray:
        """Minus :meth:`reconstruction_error` (higher = more normal; anomaly detection)."""
        return -self.reconstruction_error(X)

    def score(self, X, y=None) -> float:
        """Minus the mean reconstruction error."""
        return float(np.mean(self.score_samples(X)))

    # -- anomaly scoring (the Scorable protocol of ._scoring) --------------------------------
    #: One error term per step of a sequence.
    item_unit = "step"

    def item_errors(self, X) -> list[np.ndarray]:
        """float64 reconstruction error of each step, a ``(T_i,)`` array per sequence (those
        of :meth:`reconstruction_error` with ``per_step=True``): what
        :class:`~hiddenstate.AnomalyDetector` scores and explains sequences by."""
        return [np.asarray(e, np.float64) for e in self.reconstruction_error(X, per_step=True)]

    def item_labels(self, X, i: int, entries) -> tuple[list[int], list[str]]:
        """Steps ``entries`` of sequence ``i``: a string's words (split on whitespace),
        a token list's tokens, ``t=<step>`` for real-valued steps."""
        positions = [int(t) for t in entries]
        return positions, [label_at(X[i], pos, words=True) for pos in positions]

    # -- files -------------------------------------------------------------------------------
    @classmethod
    def _from_file(cls, config: dict, tensors: dict, *, path):
        return super()._from_file(saved_tokenizer(config, tokens_only=True), tensors, path=path)

    def _fitted_config(self) -> dict:
        return {"n_features_in": int(self.n_features_in_),
                "vocabulary": None if self.vocabulary_ is None else self.vocabulary_.to_config(),
                "scaling": self.scaling_.to_config()}

    def _restore_fitted(self, config: dict, path) -> None:
        self.n_features_in_ = int(config["n_features_in"])
        if self.n_features_in_ < 1:
            raise ModelFileError(f"{path}: invalid n_features_in {self.n_features_in_}")
        # Files written before token sequences hold no vocabulary.
        tokens = config.get("vocabulary")
        self.vocabulary_ = None if tokens is None else Vocabulary.from_config(tokens, path)
        if self.vocabulary_ is not None and self.n_features_in_ != int(self.embedding_dim):
            raise ModelFileError(f"{path}: n_features_in {self.n_features_in_} is not "
                                 f"embedding_dim={self.embedding_dim}")
        # Files written before scaling was stored hold none: they were trained unscaled.
        self.scaling_ = Scaling.from_config(config.get("scaling"), self.n_features_in_, path)
        if "scaling" not in config:
            self.scale = "none"
        elif self.vocabulary_ is not None and self.scaling_.kind != "none":
            raise ModelFileError(f"{path}: a model of token sequences with scaling "
                                 f"{self.scaling_.kind!r}")


def _check_real_settings(est: SequenceAutoencoder, kind: str) -> None:
    """Refuse ``scale`` and ``missing`` given for token sequences, which have no values to
    scale or fill (the same words as :func:`~._inputs.check_settings`)."""
    if kind == "sequences":
        return
    for name, idle in (("scale", ("auto", "none")), ("missing", ("error",))):
        value = getattr(est, name)
        if value not in idle:
            raise ValueError(f"{name}={value!r} applies to real-valued sequences; token "
                             f"sequences take {name}={idle[0]!r}")
