"""``hiddenstate.SequenceClassifier`` and ``SequenceRegressor``: read a whole sequence, predict
one label or value."""

from __future__ import annotations

import hashlib
import os
from numbers import Integral, Real

import equinox as eqx
import jax
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _serialize
from .._errors import InputError, ModelFileError
from ..distributed import device
from ..nn._cells import CELL_INITS, CELLS
from ..nn._classifier import (
    CONV_BLOCKS,
    ENCODERS,
    POOLINGS,
    RATES,
    RunTimeRate,
    SequenceClassifierNet,
    with_rates,
)
from ..objectives import SequencePredictorObjective
from ._base import (
    IncrementalMixin,
    TrainingData,
    TrainingMixin,
)
from ._inference import apply_batched
from ._inputs import (
    MISSING,
    check_kind,
    check_settings,
    check_table,
    input_kind,
    read_sequences,
)
from ._params import TRAINING_CONSTRAINTS, RegistryOptions, store_params
from ._scaling import SCALES, Scaling, check_kept_scaling, fit_scaling
from ._sequence import length_buckets
from ._tokens import ANALYZERS, TOKENIZERS, Vocabulary, pad_ids, saved_tokenizer

__all__ = ["SequenceClassifier", "SequenceRegressor"]

#: Training pads each minibatch to one of at most this many lengths (multiples of 4):
#: each is one more branch of the compiled epoch.
_MAX_BUCKETS = 3

#: The three kinds of input: token sequences, lists of (T_i, d) arrays, and a 2-D table
#: whose rows are sequences of one value per step (the scikit-learn array path).
_KINDS = ("tokens", "sequences", "table")

#: What each ``"auto"`` setting becomes: ``name -> (token input, real-valued input)``.
#: Token input keeps the settings these estimators had before real-valued defaults
#: were chosen; the real-valued ones are documented (with the evidence) in
#: :class:`SequenceClassifier`.
_AUTO = {
    "encoder": ("recurrent", "conv"),
    "scale": ("none", "standard"),
    "max_iter": (20, None),  # None: _real_valued_epochs
}


#: Real-valued sequences shorter than this (the median; the first convolution's kernel)
#: get the recurrent encoder from ``encoder="auto"``: a table of a few features read as
#: steps is no time series for convolutions whose filters are normalised over the steps.
_CONV_MIN_LENGTH = CONV_BLOCKS[0][1]

#: Minibatches of real-valued sequences with ``batch_size="auto"`` (FCN's 16).
_REAL_VALUED_BATCH = 16


def _real_valued_epochs(n: int, mean_length: float) -> int:
    """Epochs of a real-valued fit with ``max_iter="auto"``: about 2000 minibatch steps,
    at most 500 epochs, and at most 6 million sequence steps read in all (``mean_length``:
    as padded; about a minute on two CPU cores), but at least 20 epochs."""
    steps_per_epoch = -(-int(n) // _REAL_VALUED_BATCH)
    epochs = min(2000 / steps_per_epoch, 500, 6e6 / (n * max(mean_length, 1.0)))
    return int(max(round(epochs), 20))


@eqx.filter_jit
def _logits(model, xs, lengths):
    return jax.vmap(lambda x, n: model(x, n))(xs, lengths)


@eqx.filter_jit
def _vectors(model, xs, lengths):
    return jax.vmap(lambda x, n: model.encoder(x, n))(xs, lengths)


def _digest(model) -> str:
    """A short hash of a network's parameters (the identity of a pretrained model)."""
    h = hashlib.blake2b(digest_size=8)
    for leaf in jax.tree.leaves(eqx.filter(model, eqx.is_array)):
        h.update(np.ascontiguousarray(np.asarray(leaf)).view(np.uint8))
    return h.hexdigest()


class _SequencePredictor(TransformerMixin, IncrementalMixin, TrainingMixin, BaseEstimator):
    """What the classifier and the regressor share: inputs, network, pretraining, files."""

    #: Entries of :data:`_AUTO` that differ for this estimator.
    _own_auto: dict = {}

    _parameter_constraints: dict = {
        "cell": [RegistryOptions(CELLS)],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "pooling": [StrOptions(set(POOLINGS))],
        "embedding_dim": [Interval(Integral, 1, None, closed="left")],
        "analyzer": [StrOptions(set(ANALYZERS))],
        "tokenizer": [StrOptions(set(TOKENIZERS))],
        "min_count": [Interval(Integral, 1, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "input_dropout": [Interval(Real, 0, 1, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "init": [StrOptions(set(CELL_INITS))],
        "forget_bias": [Real],
        "activation": [StrOptions({"tanh", "relu"})],
        "init_from": [None, str, os.PathLike, BaseEstimator],
        "encoder": [StrOptions({"auto", *ENCODERS})],
        "scale": [StrOptions(set(SCALES))],
        "missing": [StrOptions(set(MISSING))],
        **TRAINING_CONSTRAINTS,
        "max_iter": [*TRAINING_CONSTRAINTS["max_iter"], StrOptions({"auto"})],
    }

    def __init__(self, cell="lstm", *, hidden_size=64, num_layers=1, bidirectional=False,
                 pooling="last", embedding_dim=64, analyzer="word", tokenizer="default",
                 min_count=1, max_features=None,
                 input_dropout=0.0, dropout=0.0, init="glorot_uniform", forget_bias=2.0,
                 activation="tanh", init_from=None, encoder="auto", scale="auto",
                 missing="error", optimizer="adam", learning_rate=3e-3,
                 learning_rate_schedule="cosine", momentum=0.9, clip_norm=1.0,
                 batch_size="auto", max_iter="auto", shuffle=True, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=5, tol=1e-4, random_state=None,
                 verbose=False, warm_start=False, checkpoint_dir=None, checkpoint_every=10,
                 resume=False, devices=None):
        store_params(self, locals())

    # -- inputs --------------------------------------------------------------------------------
    def _read(self, X, *, reset: bool) -> list[np.ndarray]:
        """The sequences of ``X`` as id arrays ``(T_i,)`` or value arrays ``(T_i, d)``;
        ``reset`` learns the kind of input (and, for tokens, the vocabulary)."""
        kind = input_kind(X, missing=self.missing)
        check_kind(kind, accepted=("tokens", "sequences", "table"),
                   trained=None if reset else self.input_kind_)
        if reset:
            check_settings(self, kind)
            self._check_real_valued_settings(kind)
            self.input_kind_ = kind
            self._init_parts = self._pretrained()
            self.encoder_ = self._auto("encoder")
        if kind == "tokens":
            return self._read_tokens(X, reset=reset)
        seqs = (self._read_sequences if kind == "sequences" else self._read_table)(X, reset=reset)
        if reset:
            self.scaling_ = self._fitted_scaling(seqs)
            if self.encoder == "auto" and np.median([len(s) for s in seqs]) < _CONV_MIN_LENGTH:
                self.encoder_ = "recurrent"
        return self.scaling_.transform(seqs)

    def _fitted_scaling(self, seqs: list[np.ndarray]) -> Scaling:
        """The scaling fitted on ``seqs``; a model started ``init_from`` a real-valued one
        reads its inputs as that model did, so it takes that model's scaling (another
        ``scale`` given explicitly is refused)."""
        theirs = (self._init_parts or {}).get("scaling")
        if theirs is None:
            return fit_scaling(self._auto("scale"), seqs)
        if self.scale not in ("auto", theirs.kind):
            raise ValueError(f"scale={self.scale!r}, but init_from's encoder was trained on "
                             f"inputs scaled {theirs.kind!r}: it keeps that scaling (use "
                             "scale='auto')")
        return theirs

    def _check_kept_scaling(self, reset: bool) -> None:
        """Continued training (``partial_fit``, ``warm_start``) refuses another ``scale``."""
        if not reset and self.input_kind_ != "tokens":
            check_kept_scaling(self.scale, self.scaling_, self._auto("scale"))

    def _check_real_valued_settings(self, kind: str) -> None:
        """Refuse a setting for real-valued input given with tokens, and an encoder that
        cannot start from ``init_from``."""
        if kind == "tokens":
            for name, given in (("scale", self.scale not in ("auto", "none")),
                                ("missing", self.missing != "error"),
                                ("encoder", self.encoder not in ("auto", "recurrent"))):
                if given:
                    raise ValueError(f"{name}={getattr(self, name)!r} applies to real-valued "
                                     f"sequences; token sequences take {name}="
                                     f"{'auto' if name != 'missing' else 'error'!r}")
        if self.init_from is not None and self.encoder not in ("auto", "recurrent"):
            raise ValueError(f"init_from starts a recurrent encoder; encoder={self.encoder!r} "
                             "has a convolutional one (use encoder='recurrent' or 'auto')")

    def _auto(self, name: str):
        """The value of setting ``name``, its ``"auto"`` resolved by the kind of input
        (:data:`_AUTO`; a model started ``init_from`` a recurrent one keeps its encoder)."""
        value = getattr(self, name)
        if value != "auto":
            return value
        tokens, real = {**_AUTO, **self._own_auto}[name]
        if self.input_kind_ == "tokens" or (name == "encoder" and self.init_from is not None):
            return tokens
        return real

    def _read_tokens(self, X, *, reset: bool) -> list[np.ndarray]:
        vocabulary = None if reset else self.vocabulary_
        pretrained = self._init_parts if reset else None
        if pretrained is not None:
            if pretrained["vocabulary"] is None:
                raise InputError("init_from was trained on real-valued sequences, "
                                 "these are tokens")
            vocabulary = pretrained["vocabulary"]
        seqs = read_sequences(X, kind="tokens", analyzer=self.analyzer, tokenizer=self.tokenizer,
                              vocabulary=vocabulary, min_count=self.min_count,
                              max_features=self.max_features)
        if reset:
            self.vocabulary_ = seqs.vocabulary
            self.n_features_in_ = int(self.embedding_dim)
        return seqs.arrays

    def _read_sequences(self, X, *, reset: bool) -> list[np.ndarray]:
        out = read_sequences(X, kind="sequences", missing=self.missing,
                             n_features=None if reset else int(self.n_features_in_)).arrays
        if reset:
            self.n_features_in_ = int(out[0].shape[1])
            pretrained = self._init_parts
            if pretrained is not None and pretrained["vocabulary"] is not None:
                raise InputError("init_from was trained on token sequences, these are "
                                 "real-valued sequences")
        return out

    def _read_table(self, X, *, reset: bool) -> list[np.ndarray]:
        X = validate_data(self, check_table(X, self.missing), reset=reset,
                          dtype=[np.float64, np.float32], ensure_all_finite=False)
        out = read_sequences(X, kind="table", missing=self.missing,
                             columns=getattr(self, "feature_names_in_", None)).arrays
        if reset and self._init_parts is not None:
            raise InputError("init_from needs token sequences or a list of (T, d) arrays; a "
                             "2-D array is read as sequences of one value per step")
        return out

    def _width(self) -> int:
        """Values per step of the network's input (the embedding size for tokens)."""
        return 1 if self.input_kind_ == "table" else int(self.n_features_in_)

    def _batch(self, seqs: list[np.ndarray], length: int):
        if self.input_kind_ == "tokens":
            return pad_ids(seqs, length)
        xs = np.zeros((len(seqs), int(length), seqs[0].shape[1]), np.float32)
        for i, s in enumerate(seqs):
            xs[i, : len(s)] = s
        return xs, np.array([len(s) for s in seqs], np.int32)

    def _apply(self, seqs: list[np.ndarray], fn) -> np.ndarray:
        """``fn(xs, lengths)`` over length buckets and chunks of ``seqs``."""
        def batch(rows, size, length):
            rows = list(rows) + [rows[0]] * (size - len(rows))
            return tuple(device(a) for a in self._batch([seqs[i] for i in rows], length))

        return apply_batched(fn, len(seqs), batch, lengths=[len(s) for s in seqs])

    # -- pretraining ---------------------------------------------------------------------------
    def _pretrained(self) -> dict | None:
        """The encoder of ``init_from`` (see ``_encoder_parts`` of SequenceModel and
        SequenceAutoencoder), checked against this estimator's settings."""
        source = self.init_from
        if source is None:
            return None
        if isinstance(source, str | os.PathLike):
            from .._serialize import load

            source = load(source)
        if not hasattr(source, "_encoder_parts"):
            raise ValueError(f"init_from must be a fitted SequenceModel or SequenceAutoencoder "
                             f"(or a path to one), got {type(source).__name__}")
        check_is_fitted(source, msg=f"init_from: this {type(source).__name__} is not fitted "
                        "(note that sklearn.clone copies init_from unfitted: pass a model "
                        "file path to share one pretrained model)")
        parts = source._encoder_parts()
        mismatch = [f"{name}={parts[key]!r} (this model: {mine!r})"
                    for name, key, mine in (("cell", "cell", self.cell),
                                            ("hidden size", "hidden_size", self.hidden_size))
                    if parts[key] != mine]
        if parts["embedding"] is not None and parts["n_features_in"] != self.embedding_dim:
            mismatch.append(f"embedding_dim={parts['n_features_in']} (this model: "
                            f"{self.embedding_dim})")
        if len(parts["cells"]) > int(self.num_layers):
            mismatch.append(f"{len(parts['cells'])} layers (this model: {self.num_layers})")
        theirs = parts.get("tokenizer")  # a SequenceModel has none: it reads token lists
        if (theirs is not None and parts["vocabulary"] is not None
                and self.analyzer == "word" and theirs != self.tokenizer):
            # Its vocabulary holds the tokens of its rule; ours would miss them.
            mismatch.append(f"tokenizer={theirs!r} (this model: {self.tokenizer!r})")
        if mismatch:
            raise ValueError(f"init_from: the pretrained {type(source).__name__} has "
                             f"{', '.join(mismatch)}; give this model the same settings")
        return {**parts, "source": type(source).__name__}

    def _initialise_from(self, model: SequenceClassifierNet) -> SequenceClassifierNet:
        parts = getattr(self, "_init_parts", None) if self.init_from is not None else None
        if parts is None:
            return model
        self._pretrained_from_ = {"estimator": parts["source"],
                                  "digest": _digest((parts["cells"], parts["embedding"]))}
        cells = list(model.encoder.forward)
        cells[: len(parts["cells"])] = parts["cells"]
        model = eqx.tree_at(lambda m: m.encoder.forward, model, tuple(cells))
        if parts["embedding"] is not None:
            if parts["embedding"].shape != model.encoder.embedding.shape:
                raise ValueError(f"init_from: embedding {parts['embedding'].shape} does not "
                                 f"match {model.encoder.embedding.shape}")
            model = eqx.tree_at(lambda m: m.encoder.embedding, model, parts["embedding"])
        elif parts["n_features_in"] != self._width():
            raise InputError(f"init_from reads {parts['n_features_in']} features per step, "
                             f"these sequences have {self._width()}")
        return model

    def _checkpoint_params(self) -> dict:
        params = super()._checkpoint_params()
        if params["init_from"] is not None:
            parts = self._init_parts
            params["init_from"] = {"estimator": parts["source"],
                                   "digest": _digest((parts["cells"], parts["embedding"]))}
        return params

    # -- training ------------------------------------------------------------------------------
    def _fit(self, X, y=None, **kwargs):
        """The template's fit with ``max_iter="auto"`` resolved by ``_training_data`` for the
        run (and put back after it, as ``get_params`` must return what was given)."""
        given = self.max_iter
        try:
            return super()._fit(X, y, **kwargs)
        finally:
            self.max_iter = given

    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _resolve_batch_size(self, n: int) -> int | None:
        if self.batch_size == "auto" and self.input_kind_ != "tokens":
            return min(_REAL_VALUED_BATCH, n)
        return super()._resolve_batch_size(n)

    def _parameter_estimate(self) -> int | None:
        from .._limits import recurrent_parameters

        directions = 2 if self.bidirectional else 1
        hidden, recurrent = int(self.hidden_size), self.encoder_ != "conv"
        cells = recurrent_parameters(self.cell, int(self._width()), hidden,
                                     int(self.num_layers), directions=directions)
        if cells is None:
            return None
        tokens = len(self.vocabulary_) * int(self._width()) if self.input_kind_ == "tokens" else 0
        width = directions * hidden if recurrent else 0
        convs, n_in = 0, int(self._width())
        for mult, kernel in CONV_BLOCKS if self.encoder_ != "recurrent" else ():
            convs += (kernel * n_in + 3) * mult * hidden  # kernel, bias, norm gain and offset
            n_in = mult * hidden
        width += n_in if convs else 0
        return (cells if recurrent else 0) + convs + (width + 1) * int(self._n_outputs()) + tokens

    def _new_model(self, key) -> SequenceClassifierNet:
        tokens = self.input_kind_ == "tokens"
        model = SequenceClassifierNet(
            self._width(), int(self.hidden_size), self._n_outputs(), key=key,
            n_tokens=len(self.vocabulary_) if tokens else None, cell=self.cell,
            num_layers=int(self.num_layers), bidirectional=bool(self.bidirectional),
            pooling=self.pooling, input_dropout=float(self.input_dropout),
            dropout=float(self.dropout), init=self.init, forget_bias=float(self.forget_bias),
            activation=self.activation, encoder=self.encoder_)
        return self._initialise_from(model)

    def _rates(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in RATES}

    def _objective(self) -> SequencePredictorObjective:
        # The rates are run-time values: fits that differ only in them share programs.
        return SequencePredictorObjective(self._loss, rates=tuple(self._rates().items()))

    def _for_training(self, tree):
        return with_rates(tree, {name: RunTimeRate(name) if rate > 0 else 0.0
                                  for name, rate in self._rates().items()})

    def _fitted_network(self, model):
        return with_rates(model, self._rates())

    def _inference_network(self):
        """``model_`` without its dropout rates (inference never drops units): one
        compiled inference program whatever the rates."""
        return with_rates(self.model_, dict.fromkeys(RATES, 0.0))

    def _description(self) -> str:
        encoder = getattr(self, "encoder_", "recurrent")
        return f"{type(self).__name__}({self.cell if encoder == 'recurrent' else encoder})"

    def _training_data(self, seqs, targets, weights) -> TrainingData:
        seq_lengths = np.array([len(s) for s in seqs])
        row_bucket, lengths = length_buckets(seq_lengths, _MAX_BUCKETS)
        if self.max_iter == "auto":
            epochs = _AUTO["max_iter"][self.input_kind_ != "tokens"]
            self.max_iter = (epochs if epochs is not None else _real_valued_epochs(
                len(seqs), float(np.mean(np.asarray(lengths)[row_bucket]))))
        xs, n = self._batch(seqs, lengths[-1])
        return TrainingData((xs, n, targets, weights), (row_bucket, lengths))

    # -- inference -----------------------------------------------------------------------------
    def _raw(self, X) -> np.ndarray:
        check_is_fitted(self)
        net = self._inference_network()
        return self._apply(self._read(X, reset=False), lambda x, n: _logits(net, x, n))

    def transform(self, X) -> np.ndarray:
        """The sequence vectors ``(n, D)`` the output layer reads (``D = hidden_size``, twice
        that when bidirectional)."""
        check_is_fitted(self)
        net = self._inference_network()
        return self._apply(self._read(X, reset=False), lambda x, n: _vectors(net, x, n))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]  # the vectors are float32
        return tags

    # -- files ---------------------------------------------------------------------------------
    @classmethod
    def _from_file(cls, config: dict, tensors: dict, *, path):
        return super()._from_file(saved_tokenizer(config, tokens_only=True), tensors, path=path)

    def _file_params(self) -> dict:
        params = super()._file_params()
        params["init_from"] = None  # the parameters hold what was taken from it
        return params

    def _fitted_config(self) -> dict:
        return {"input_kind": self.input_kind_, "n_features_in": int(self.n_features_in_),
                "vocabulary": (self.vocabulary_.to_config()
                               if self.input_kind_ == "tokens" else None),
                "feature_names_in": (None if not hasattr(self, "feature_names_in_")
                                     else [str(c) for c in self.feature_names_in_]),
                "pretrained_from": getattr(self, "_pretrained_from_", None),
                "encoder": self.encoder_,
                "scaling": None if self.input_kind_ == "tokens" else self.scaling_.to_config()}

    def _restore_fitted(self, config: dict, path) -> None:
        kind = config.get("input_kind")
        if kind not in _KINDS:
            raise ModelFileError(f"{path}: unknown input_kind {kind!r}")
        self.input_kind_ = kind
        self.n_features_in_ = int(config["n_features_in"])
        if self.n_features_in_ < 1:
            raise ModelFileError(f"{path}: invalid n_features_in {self.n_features_in_}")
        if kind == "tokens":
            self.vocabulary_ = Vocabulary.from_config(config.get("vocabulary"), path)
        else:  # files written before scaling was stored read as "none"
            self.scaling_ = Scaling.from_config(config.get("scaling"), self._width(), path)
        self.encoder_ = config.get("encoder", "recurrent")  # files before the conv encoder
        if self.encoder_ not in ENCODERS or (kind == "tokens" and self.encoder_ != "recurrent"):
            raise ModelFileError(f"{path}: unknown encoder {self.encoder_!r} for {kind}")
        names = config.get("feature_names_in")
        if names is not None:
            if len(names) != self.n_features_in_:
                raise ModelFileError(f"{path}: feature_names_in does not match n_features_in")
            self.feature_names_in_ = np.asarray(names, dtype=object)


def _labels_to_json(classes: np.ndarray) -> dict:
    return {"values": classes.tolist(), "dtype": classes.dtype.str
            if classes.dtype != object else "object"}


@_serialize.register
class SequenceClassifier(ClassifierMixin, _SequencePredictor):
    r"""Recurrent classifier of whole sequences: read a sequence, predict its label.

    Each sequence is read by stacked recurrent layers (``cell``: any name in
    :data:`hiddenstate.nn.CELLS`; forwards, and backwards too with
    ``bidirectional``), pooled into one vector (``pooling``: the final hidden vector,
    or the mean or maximum over the valid steps) and mapped to class logits by a
    linear layer; training minimises the softmax cross-entropy, each sequence
    weighted by its class's ``class_weight``. Minibatches are padded to one of at
    most three lengths (a mask keeps padding out), so training compiles once.

    Inputs (``X``), one of:

    - token sequences: strings (split into words by ``tokenizer``, or into characters
      with ``analyzer='char'``) or lists of tokens. A
      vocabulary is learned (``min_count``, ``max_features``; tokens not kept, and
      tokens never seen, share the out-of-vocabulary vector) and each token is looked
      up in a learned embedding of ``embedding_dim`` values;
    - a list of ``(T_i, d)`` arrays (or one ``(n, T, d)`` array): real-valued
      sequences, lengths may differ;
    - a 2-D array ``(n, T)``: ``n`` sequences of ``T`` steps of one value each (the
      scikit-learn array path; predict needs the same ``T``).

    A missing value (NaN, or a masked step of a ``numpy.ma`` array) is refused, naming
    the sequence, step and feature, unless ``missing="interpolate"`` fills it from its
    neighbours along its channel. Inputs are read by
    :mod:`hiddenstate.estimators._inputs`, as by every sequence estimator (the same
    kinds, settings and messages).

    Real-valued input (time series) gets its own defaults, resolved at fit from the
    ``"auto"`` settings; token input keeps the recurrent ones (``encoder="recurrent"``,
    no scaling, 20 epochs of minibatches of 32):

    - ``encoder="conv"``: FCN's three convolutional blocks (Wang et al. 2017; filters
      ``H, 2H, H`` of ``hidden_size`` :math:`H`, kernels 8, 5, 3, each filter normalised
      over the steps of its sequence, ReLU) and the mean over the steps
      (:class:`~hiddenstate.nn._classifier.ConvEncoder`); ``"conv+recurrent"`` runs the
      recurrent layers beside it and concatenates their vectors (LSTM-FCN, Karim et
      al. 2018). Sequences of a median length below 8 (the first kernel; e.g. a table
      of a few features) get ``"recurrent"``;
    - ``scale="standard"``: each channel to mean 0 and variance 1 over the training
      steps (stored in the model file and applied at every later call);
    - ``max_iter="auto"``: about 2000 minibatch steps, at most 500 epochs and at most
      6 million sequence steps read (about a minute on two CPU cores), at least 20
      epochs; ``batch_size="auto"``: minibatches of ``min(16, n)``; the learning rate
      (0.003, Adam) decays to 0 on a cosine, without early stopping.

    On the UEA & UCR archive's official splits these defaults reach or pass 1-NN DTW on
    GunPoint, ItalyPowerDemand, BasicMotions, JapaneseVowels and on problems chosen
    among those not used to pick them (see ``benchmarks/ts_classification.py``).

    Pretraining (Dai & Le 2015): ``init_from`` a fitted
    :class:`~hiddenstate.SequenceAutoencoder` (SA-LSTM) or
    :class:`~hiddenstate.SequenceModel` language model (LM-LSTM), or the path of
    one's model file, starts the first layers' forward cells and the embedding from
    its encoder and adopts its vocabulary (``min_count`` and ``max_features`` then do
    not apply). It must have the same ``cell``, ``hidden_size`` (the autoencoder's
    ``n_components``) and ``embedding_dim``, no more layers, and (an autoencoder, with
    ``analyzer='word'``) the same ``tokenizer``, as its vocabulary holds that rule's
    tokens (a language model has no such setting: it reads lists of tokens, so give
    this estimator the rule that made them). ``sklearn.clone``
    (grid searches, ``cross_val_score``) copies an estimator given here unfitted:
    pass a path to share one pretrained model.

    Parameters
    ----------
    cell : {'lstm', 'gru', 'elman'}, default='lstm'
    hidden_size : int, default=64
        Hidden units of each layer and direction.
    num_layers : int, default=1
    bidirectional : bool, default=False
    pooling : {'last', 'mean', 'max'}, default='last'
    embedding_dim : int, default=64
        Size of the token embedding (token input only).
    analyzer : {'word', 'char'}, default='word'
        How a string becomes tokens: split into words (by ``tokenizer``), or every
        character a token (symbol strings such as ``"BTSXSE"``; case kept). Lists of
        tokens are taken as they are.
    tokenizer : {'default', 'whitespace'}, default='default'
        How a string becomes words with ``analyzer='word'``, at fit and at every later
        call (stored in the model file): ``"default"`` lower-cases and splits the
        punctuation at the ends of words off (``"Absolutely BRILLIANT!"`` ->
        ``absolutely brilliant !``; ``don't``, ``co-writer/director``, ``1,000`` stay
        whole; see :func:`~hiddenstate.estimators._tokens.tokenize`); ``"whitespace"``
        splits on whitespace and keeps case (the rule of model files saved before this
        setting, which load with it). Strings read with ``analyzer='char'``, and
        sequences given as lists of tokens, are used as they are.
    min_count : int, default=1
        Tokens seen fewer times in training are out of the vocabulary.
    max_features : int or None, default=None
        Keep at most this many tokens, the most frequent.
    input_dropout : float, default=0.0
        Fraction of input features (embedding entries) dropped at each step in training.
    dropout : float, default=0.0
        Fraction of each layer's outputs dropped in training (between layers, and the
        sequence vector before the output layer).
    init : {'glorot_uniform', 'seed'}, default='glorot_uniform'
        Weight scheme of the cells and the output layer (see SequenceModel).
    forget_bias : float, default=2.0
        Initial LSTM forget-gate bias. On the long-range pairs
        (:func:`~hiddenstate.datasets.make_long_range_pairs`, 500 pairs, 12 epochs, Adam
        at 0.003) bias 2 solved 4 of 4 seeds, bias 1 two.
    activation : {'tanh', 'relu'}, default='tanh'
        Elman cell nonlinearity.
    init_from : SequenceModel, SequenceAutoencoder, path or None, default=None
        Pretrained encoder (see above).
    encoder : {'auto', 'recurrent', 'conv', 'conv+recurrent'}, default='auto'
        The network that reads a sequence into one vector: the recurrent layers, the
        convolutional blocks of FCN, or both side by side (real-valued input only;
        ``cell``, ``num_layers``, ``bidirectional``, ``pooling`` and ``input_dropout``
        apply to the recurrent part). ``'auto'``: ``'recurrent'`` for tokens (and with
        ``init_from``), ``'conv'`` for real-valued sequences (``'recurrent'`` when their
        median length is below 8).
    scale : {'auto', 'standard', 'minmax', 'series', 'none'}, default='auto'
        Scaling of real-valued input, fitted on the training sequences and stored with
        the model (``'standard'``: per channel to mean 0 and variance 1; ``'minmax'``:
        per channel to [0, 1]; ``'series'``: each sequence z-normalised by itself, as
        the UEA & UCR archive does; ``'none'``). ``'auto'``:
        ``'standard'`` for real-valued input; tokens are not scaled (a scale given with
        them is refused).
    missing : {'error', 'interpolate'}, default='error'
        Missing values of real-valued input (NaN, masked steps): refused with their
        position, or filled by linear interpolation along the steps of their channel
        (the nearest value at either end), at fit and at every later call.
    class_weight : dict, 'balanced' or None, default=None
        Weight of each class in the loss (``'balanced'``: ``n / (k * count)``).
    optimizer, learning_rate, learning_rate_schedule, momentum, clip_norm, batch_size, \
max_iter, shuffle, early_stopping, validation_fraction, n_iter_no_change, tol, random_state, \
verbose, warm_start, checkpoint_dir, checkpoint_every, resume, devices
        As :class:`~hiddenstate.Autoencoder` (defaults: adam, 0.003, cosine, 0.9, clip 1.0,
        minibatches of ``min(32, n)`` (real-valued input: 16), 20 epochs (real-valued
        input: see above; ``max_iter="auto"``), patience 5). ``tol`` is an absolute
        change of the cross-entropy (nats), as in scikit-learn's MLPClassifier.

    Attributes
    ----------
    classes_ : ndarray
    model_ : SequenceClassifierNet
    vocabulary_ : Vocabulary
        Token input only.
    input_kind_ : {'tokens', 'sequences', 'table'}
    encoder_ : {'recurrent', 'conv', 'conv+recurrent'}
        The encoder used (``encoder`` with ``'auto'`` resolved).
    scaling_ : Scaling
        The fitted scaling of real-valued input (not set for tokens).
    n_features_in_ : int
        Values per step (``embedding_dim`` for tokens; the columns ``T`` for a 2-D array).
    loss_curve_, validation_scores_, n_iter_, best_loss_
        As the other estimators (validation scores: minus the validation loss).
    """

    _parameter_constraints: dict = {
        **_SequencePredictor._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }
    _loss = "softmax"
    _absolute_tol = True  # a solved task's loss falls from 4e-4 to 3.9e-4: not worth a warning

    def __init__(self, cell="lstm", *, hidden_size=64, num_layers=1, bidirectional=False,
                 pooling="last", embedding_dim=64, analyzer="word", tokenizer="default",
                 min_count=1, max_features=None,
                 input_dropout=0.0, dropout=0.0, init="glorot_uniform", forget_bias=2.0,
                 activation="tanh", init_from=None, encoder="auto", scale="auto",
                 missing="error", class_weight=None, optimizer="adam",
                 learning_rate=3e-3,
                 learning_rate_schedule="cosine", momentum=0.9, clip_norm=1.0,
                 batch_size="auto", max_iter="auto", shuffle=True, early_stopping=False,
                 validation_fraction=0.1, n_iter_no_change=5, tol=1e-4, random_state=None,
                 verbose=False, warm_start=False, checkpoint_dir=None, checkpoint_every=10,
                 resume=False, devices=None):
        store_params(self, locals())

    def _n_outputs(self) -> int:
        return int(self.classes_.size)

    def _labels(self, y, n: int, *, reset: bool, classes=None) -> np.ndarray:
        from sklearn.utils.multiclass import check_classification_targets
        from sklearn.utils.validation import column_or_1d

        if y is None:
            raise InputError("SequenceClassifier requires y to be passed, but the target y is "
                             "None (give one label per sequence)")
        y = column_or_1d(np.asarray(y), warn=True)
        if y.shape[0] != n:
            raise InputError(f"{y.shape[0]} labels for {n} sequences; give one label per "
                             "sequence")
        check_classification_targets(y)
        if reset:
            classes = np.unique(y if classes is None else np.asarray(classes))
            if classes.size < 2:
                raise InputError(f"y holds one class ({classes[0]!r}); a classifier "
                                 "needs at least two classes")
            self.classes_ = classes
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            bad = unknown[0].item() if hasattr(unknown[0], "item") else unknown[0]
            raise InputError(f"label {bad!r} is not one of the classes "
                             f"{self.classes_.tolist()} of the first fit")
        return np.searchsorted(self.classes_, y).astype(np.int32)

    def _class_weights(self, idx: np.ndarray) -> np.ndarray:
        from sklearn.utils.class_weight import compute_class_weight

        if self.class_weight is None:
            return np.ones(idx.shape[0], np.float32)
        if isinstance(self.class_weight, dict):
            unknown = set(self.class_weight) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"class_weight names {sorted(map(str, unknown))}, not among "
                                 f"the classes {self.classes_.tolist()}")
        per_class = compute_class_weight(self.class_weight, classes=self.classes_,
                                         y=self.classes_[idx])
        return per_class[idx].astype(np.float32)

    def _prepare(self, X, y=None, *, reset: bool, classes=None) -> TrainingData:
        self._check_kept_scaling(reset)
        seqs = self._read(X, reset=reset)
        idx = self._labels(y, len(seqs), reset=reset, classes=classes)
        return self._training_data(seqs, idx, self._class_weights(idx))

    def fit(self, X, y):
        """Train on sequences ``X`` (see the class docstring) and labels ``y``. Returns
        ``self``."""
        return self._fit(X, y)

    def partial_fit(self, X, y, classes=None):
        """One epoch over ``X``, ``y``, continuing the current parameters and optimizer
        state. The first call starts a new model: it learns the vocabulary (token input)
        from its ``X`` alone, and needs ``classes`` (every label of all calls) unless its
        ``y`` holds them all. Returns ``self``."""
        if hasattr(self, "model_") or classes is None:
            return self._fit(X, y, incremental=True)
        return self._fit(X, y, incremental=True, classes=classes)

    def decision_function(self, X) -> np.ndarray:
        """Class logits ``(n, k)``; for two classes the logit of the second minus the first's
        ``(n,)`` (positive: ``classes_[1]``)."""
        z = self._raw(X)
        return z[:, 1] - z[:, 0] if z.shape[1] == 2 else z

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(n, k)``, columns in the order of ``classes_``."""
        from scipy.special import softmax

        return softmax(self._raw(X).astype(np.float64), axis=1)

    def predict_log_proba(self, X) -> np.ndarray:
        return np.log(self.predict_proba(X))

    def predict(self, X) -> np.ndarray:
        """The most probable class of each sequence."""
        z = self._raw(X)
        return self.classes_[np.argmax(z, axis=1)]

    def _fitted_config(self) -> dict:
        return {**super()._fitted_config(), "classes": _labels_to_json(self.classes_)}

    def _restore_fitted(self, config: dict, path) -> None:
        super()._restore_fitted(config, path)
        classes = config.get("classes")
        try:
            self.classes_ = np.asarray(classes["values"], dtype=classes["dtype"])
        except (TypeError, KeyError, ValueError):
            raise ModelFileError(f"{path}: invalid classes {classes!r}") from None
        if self.classes_.ndim != 1 or self.classes_.size < 2:
            raise ModelFileError(f"{path}: need at least two classes, got {classes!r}")


@_serialize.register
class SequenceRegressor(RegressorMixin, _SequencePredictor):
    r"""Recurrent regression of whole sequences: read a sequence, predict one value (or a
    vector of values).

    The network and the inputs are those of :class:`SequenceClassifier` (see there,
    ``init_from`` included); the output layer is linear and training minimises the
    squared error averaged over the outputs. With real-valued input scaled (``scale``
    other than ``'none'``) the targets are standardised too (mean 0, variance 1 per
    output, from the training targets; stored with the model) and predictions mapped
    back to their units; token input's targets are used as given: scale them to about
    unit size first (e.g. ``sklearn.compose.TransformedTargetRegressor`` with a
    ``StandardScaler``). ``encoder="auto"`` is ``'conv+recurrent'`` for real-valued
    input: the convolutional blocks normalise each filter over the steps and so do not
    see a sequence's level, which a regression often predicts; the recurrence does.

    Parameters
    ----------
    As :class:`SequenceClassifier`, without ``class_weight``.

    Attributes
    ----------
    n_outputs_ : int
    target_scaling_ : Scaling
        The targets' standardisation (kind ``'none'`` when they are used as given).
    model_, vocabulary_, input_kind_, n_features_in_, encoder_, scaling_, loss_curve_, n_iter_
        As :class:`SequenceClassifier`.
    """

    _loss = "squared"
    #: The convolutional blocks normalise each filter over the steps, so they do not see a
    #: sequence's level, which a regression often predicts: the recurrence beside them does.
    _own_auto = {"encoder": ("recurrent", "conv+recurrent")}

    def _n_outputs(self) -> int:
        return int(self.n_outputs_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _targets(self, y, n: int, *, reset: bool) -> np.ndarray:
        if y is None:
            raise InputError("SequenceRegressor requires y to be passed, but the target y is "
                             "None (give one value per sequence)")
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError("y must be numeric") from None
        if y.ndim not in (1, 2) or y.shape[0] != n:
            raise InputError(f"y has shape {y.shape}, but there are {n} sequences; give one "
                             "value (or one row of values) per sequence")
        bad = ~np.isfinite(y.astype(np.float32))
        if bad.any():
            raise InputError(f"y holds a non-finite value (or one beyond float32) at row "
                             f"{int(np.argwhere(bad)[0][0])}")
        y2 = y.reshape(n, -1)
        if reset:
            self.n_outputs_ = y2.shape[1]
            self._y_1d = y.ndim == 1
            scaled = self.input_kind_ != "tokens" and self.scaling_.kind != "none"
            self.target_scaling_ = fit_scaling("standard" if scaled else "none", [y2])
        elif y2.shape[1] != self.n_outputs_:
            raise InputError(f"y has {y2.shape[1]} outputs, the model has {self.n_outputs_}")
        return self.target_scaling_.transform([y2.astype(np.float32)])[0].astype(np.float32)

    def _prepare(self, X, y=None, *, reset: bool) -> TrainingData:
        self._check_kept_scaling(reset)
        seqs = self._read(X, reset=reset)
        targets = self._targets(y, len(seqs), reset=reset)
        return self._training_data(seqs, targets, np.ones(len(seqs), np.float32))

    def fit(self, X, y):
        """Train on sequences ``X`` (see :class:`SequenceClassifier`) and targets ``y``
        ``(n,)`` or ``(n, k)``. Returns ``self``."""
        return self._fit(X, y)

    def predict(self, X) -> np.ndarray:
        """Predicted values ``(n,)`` (or ``(n, k)`` when fitted on 2-D targets), float64 as
        scikit-learn's regressors give them (the network computes in float32)."""
        z = np.asarray(self._raw(X), np.float64)
        t = self.target_scaling_
        if t.kind != "none":
            z = z * t.scale + t.loc
        return z[:, 0] if self._y_1d else z

    def _fitted_config(self) -> dict:
        return {**super()._fitted_config(), "n_outputs": int(self.n_outputs_),
                "y_1d": bool(self._y_1d), "target_scaling": self.target_scaling_.to_config()}

    def _restore_fitted(self, config: dict, path) -> None:
        super()._restore_fitted(config, path)
        self.n_outputs_ = int(config.get("n_outputs", 0))
        if self.n_outputs_ < 1:
            raise ModelFileError(f"{path}: invalid n_outputs {self.n_outputs_}")
        self._y_1d = bool(config.get("y_1d", True))
        # Files written before the targets were scaled read as "none".
        self.target_scaling_ = Scaling.from_config(config.get("target_scaling"),
                                                   self.n_outputs_, path)
