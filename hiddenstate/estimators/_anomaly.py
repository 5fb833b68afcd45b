"""``hiddenstate.AnomalyDetector``: outlier detection by reconstruction error or surprisal,
with a conformal, calibrated threshold and per-feature or per-step explanations."""

from __future__ import annotations

import dataclasses
import math
import os
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted

from .. import _serialize
from .._errors import InputError, ModelFileError
from ._autoencoder import Autoencoder
from ._sequence import SequenceModel
from ._sequence_ae import SequenceAutoencoder
from ._tokens import is_token_input

__all__ = ["AnomalyDetector", "Explanation"]

#: The models a detector can wrap, by the name its files and messages use.
_KINDS = {Autoencoder: "autoencoder", SequenceAutoencoder: "sequence-ae",
          SequenceModel: "sequence-model"}
#: ``contamination="auto"``: this false-alarm rate, when the calibration set allows it.
AUTO_RATE = 0.01
_MODEL_PREFIX = "model/"
_SCORES = "calibration_scores/"  # + each aggregate
_AGGREGATES = {"mean": np.mean, "sum": np.sum, "max": np.max}


def _kind(model) -> str:
    for cls, name in _KINDS.items():
        if isinstance(model, cls):
            return name
    raise TypeError(
        f"AnomalyDetector needs a model that scores its inputs: an Autoencoder (rows), a "
        f"SequenceAutoencoder or a SequenceModel (sequences), got {type(model).__name__}")


def needed_calibration(rate: float) -> int:
    """Calibration rows needed to flag a false-alarm rate of ``rate``: with ``n`` rows the
    smallest conformal p-value is ``1 / (n + 1)``, so ``n >= ceil(1 / rate) - 1``."""
    return max(math.ceil(1.0 / rate - 1e-9) - 1, 1)


def expected_false_alarms(rate: float, n: int) -> float:
    """The share of normal inputs flagged at ``rate`` with ``n`` calibration inputs:
    a new normal input's rank among the ``n + 1`` is uniform, so it is flagged with
    probability ``floor(rate (n + 1)) / (n + 1)``, at most ``rate``."""
    return _flagged_ranks(rate, n) / (n + 1)


def _flagged_ranks(rate: float, n: int) -> int:
    return math.floor(rate * (n + 1) + 1e-9)


@dataclasses.dataclass(frozen=True)
class Explanation:
    """Why rows or sequences score as they do: their ``top`` largest error terms.

    Attributes
    ----------
    kind : {'feature', 'step'}
        What ``index`` counts: features of a row, or positions in a sequence.
    index : ndarray of int, shape (n, top)
        Feature index, or position in the sequence (0 = its first step or symbol), of
        each of the ``top`` largest terms, largest first; -1 where a sequence has fewer
        scored steps than ``top``.
    label : ndarray of str, shape (n, top)
        The feature's name (``feature_names_in_``, else ``x<j>``), or the symbol or token
        at that position (``'</s>'`` for a token sequence's end; for real-valued steps
        ``t=<position>``); ``''`` where ``index`` is -1.
    value : ndarray of float, shape (n, top)
        The terms: the feature's reconstruction error term, or the step's surprisal (nats)
        or reconstruction error; NaN where ``index`` is -1.
    share : ndarray of float, shape (n, top)
        Each term's fraction of the row's total error (the sum of all its terms).
    per_item : ndarray (n, n_features) or list of ndarray (T_i,)
        Every term, for plots (e.g. a per-pixel error image).
    """

    kind: str
    index: np.ndarray
    label: np.ndarray
    value: np.ndarray
    share: np.ndarray
    per_item: np.ndarray | list

    def to_strings(self, digits: int = 4) -> list[str]:
        """One line per row: ``"name=value; name=value"`` (largest first)."""
        lines = []
        for idx, lab, val in zip(self.index, self.label, self.value, strict=True):
            parts = []
            for i, name, v in zip(idx, lab, val, strict=True):
                if i < 0:
                    continue
                where = name if self.kind == "feature" else f"{i}:{name}"
                parts.append(f"{where}={v:.{digits}g}")
            lines.append("; ".join(parts))
        return lines


@_serialize.register
class AnomalyDetector(OutlierMixin, BaseEstimator):
    r"""Outlier detector around a hiddenstate model, with a calibrated false-alarm rate.

    Scores each input by how badly the model reproduces it: an
    :class:`~hiddenstate.Autoencoder`'s reconstruction error per feature (rows), a
    :class:`~hiddenstate.SequenceAutoencoder`'s per step, or a
    :class:`~hiddenstate.SequenceModel`'s surprisal per step (the negative
    log-likelihood of each next symbol or token; real-valued sequences are modelled as
    next-step prediction, inputs ``x[:-1]``, targets ``x[1:]``, scored by squared error).
    The per-item errors :math:`e_j` of an input are reduced by ``aggregate`` and negated:
    :meth:`score_samples` is higher for more normal inputs, as scikit-learn's
    IsolationForest and LocalOutlierFactor.

    The threshold is calibrated on inputs the model did not train on (split conformal
    prediction; Vovk et al. 2005, Bates et al. 2023): ``fit`` holds out
    ``calibration_fraction`` of its data (or takes ``calibration=``) and keeps their
    scores :math:`s_1..s_n`. An input scoring :math:`s` gets the p-value

    .. math:: p(s) = \frac{1 + \#\{i : s_i \le s\}}{n + 1},

    and is flagged (``predict`` = -1) when :math:`p(s) \le \alpha`, ``alpha`` =
    ``contamination``. If normal inputs are exchangeable with the calibration ones, the
    probability of flagging a normal input is then at most ``alpha`` and more than
    ``alpha - 1/(n + 1)``, whatever the model or the data: ``contamination`` is the
    false-alarm rate asked for, not a guess of the anomalies' share. Changing it with
    ``set_params(contamination=...)`` moves the threshold at once, without refitting.

    Parameters
    ----------
    model : Autoencoder, SequenceAutoencoder or SequenceModel, default=None
        The model to train (``fit`` trains a clone) or, with ``prefit=True``, a fitted
        one to use as it is. None: ``Autoencoder()``.
    contamination : 'auto' or float in (0, 0.5], default='auto'
        The false-alarm rate :math:`\alpha`. ``'auto'``: 0.01 when there are at least
        99 calibration inputs, else the smallest rate they allow, ``1 / (n + 1)`` (the
        rate in effect is ``contamination_``). A float needs at least
        ``ceil(1 / alpha) - 1`` calibration inputs (99 for 0.01, 19 for 0.05).
    calibration_fraction : float in (0, 1), default=0.2
        Share of ``fit``'s data held out for calibration when no ``calibration=`` is
        given (drawn at random with ``random_state``).
    aggregate : {'mean', 'sum', 'max'}, default='mean'
        How an input's per-feature or per-step errors become one score. ``'max'``
        suits anomalies confined to one step or feature (one wrong symbol in a long
        string); ``'sum'`` is the whole sequence's negative log-likelihood for a
        SequenceModel, which grows with length.
    prefit : bool, default=False
        ``model`` is already fitted: ``fit`` only calibrates, on ``calibration=`` if
        given, else on all of its data (which must then be data the model did not train
        on).
    random_state : int, RandomState or None, default=None
        Seed of the calibration split.

    Attributes
    ----------
    model_ : the fitted model
    calibration_scores_ : ndarray of shape (n_calibration,)
        The calibration inputs' scores under the current ``aggregate``, sorted
        ascending (the scores under every aggregate are kept, so
        ``set_params(aggregate=...)`` needs no refit either).
    offset_ : float
        The threshold on :meth:`score_samples` for the current ``contamination``:
        :meth:`decision_function` is ``score_samples - offset_``, negative for outliers.
    contamination_ : float
        The false-alarm rate in effect.
    n_features_in_ : int
        Features per row (Autoencoder) or per step.
    """

    _parameter_constraints: dict = {
        "model": [None, object],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "calibration_fraction": [Interval(Real, 0, 1, closed="neither")],
        "aggregate": [StrOptions({"mean", "sum", "max"})],
        "prefit": ["boolean"],
        "random_state": ["random_state"],
    }

    def __init__(self, model=None, *, contamination="auto", calibration_fraction=0.2,
                 aggregate="mean", prefit=False, random_state=None):
        self.model = model
        self.contamination = contamination
        self.calibration_fraction = calibration_fraction
        self.aggregate = aggregate
        self.prefit = prefit
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------------
    def _base_model(self):
        return Autoencoder() if self.model is None else self.model

    def fit(self, X, y=None, *, calibration=None, **fit_params):
        """Train the model (a clone of ``model``) and calibrate the threshold.

        Parameters
        ----------
        X : array (n_samples, n_features), or list of sequences, strings or token lists
            Normal data (the model's input; see the model's ``fit``).
        y : ignored
        calibration : same kind as X, optional
            Normal data the model does not train on, for the threshold. Without it,
            ``calibration_fraction`` of ``X`` is held out.
        **fit_params
            Passed to the model's ``fit`` (e.g. ``alphabet=`` for symbol strings).

        Returns
        -------
        self
        """
        del y
        self._validate_params()
        base = self._base_model()
        kind = _kind(base)
        n = self._count(X, "X")
        if kind == "autoencoder" and not hasattr(X, "iloc"):
            X = np.asarray(X)  # array-likes that cannot be indexed by rows
        # The calibration set's size is known before training: check it first.
        if calibration is not None:
            n_cal = self._count(calibration, "calibration")
        elif self.prefit:
            n_cal = n
        else:
            n_cal = int(round(float(self.calibration_fraction) * n))
        if n_cal >= 1:
            self._rate(n_cal)
        if (kind == "sequence-model" and "alphabet" not in fit_params and not self.prefit
                and isinstance(X[0], str)):
            # The alphabet of all the data, calibration included: a symbol seen only in the
            # held-out part must not make calibration fail.
            symbols = "".join(X) + ("".join(calibration) if calibration is not None
                                    and isinstance(calibration[0], str) else "")
            fit_params["alphabet"] = "".join(sorted(set(symbols)))
        if self.prefit:
            check_is_fitted(base, msg="prefit=True needs a fitted model; this "
                                      "%(name)s is not fitted yet")
            if fit_params:
                raise ValueError(f"prefit=True trains nothing; fit parameters "
                                 f"{sorted(fit_params)} would be ignored")
            model, cal = base, (X if calibration is None else calibration)
        else:
            model = clone(base)
            if calibration is None:
                if n_cal < 1 or n - n_cal < 1:
                    raise InputError(
                        f"n_samples={n}: too few to hold out calibration_fraction="
                        f"{self.calibration_fraction} of them for calibration and still "
                        f"train on some; give more data or calibration=")
                rng = np.random.default_rng(self._seed())
                order = rng.permutation(n)
                train, cal = _safe_indexing(X, np.sort(order[n_cal:])), \
                    _safe_indexing(X, np.sort(order[:n_cal]))
            else:
                train, cal = X, calibration
            model.fit(*self._model_args(train, kind), **fit_params)
        self.model_, self.kind_ = model, kind
        self.n_features_in_ = int(model.n_features_in_)
        if hasattr(model, "feature_names_in_"):
            self.feature_names_in_ = model.feature_names_in_
        try:
            per_item = self._per_item(cal)
        except InputError as exc:  # keep where it is wrong, say which data
            if exc.path is None:  # "calibration data, sequence 3, column 2: ..."
                raise InputError(exc.message, path="calibration data", line=exc.line,
                                 column=exc.column, row=exc.row, index=exc.index) from None
            raise InputError(f"calibration data: {exc.message}", path=exc.path,
                             line=exc.line, column=exc.column, row=exc.row,
                             index=exc.index) from None
        except ValueError as exc:
            raise ValueError(f"calibration data: {exc}") from None
        by_aggregate = {a: np.sort(self._reduce(per_item, a)) for a in _AGGREGATES}
        if not all(np.all(np.isfinite(v)) for v in by_aggregate.values()):
            raise InputError("calibration data: the model's scores are not finite "
                             "(did training diverge?)")
        self.calibration_scores_by_aggregate_ = by_aggregate
        self._rate()  # enough calibration inputs for the contamination asked for
        return self

    @property
    def calibration_scores_(self) -> np.ndarray:
        check_is_fitted(self)
        return self.calibration_scores_by_aggregate_[self.aggregate]

    def _seed(self):
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(2**31 - 1))
        return rs

    @staticmethod
    def _count(X, name: str) -> int:
        if X is None:
            raise InputError(f"{name}: no data")
        if isinstance(X, str):
            raise InputError(f"{name}: expected a list of sequences, got one string")
        if hasattr(X, "tocsr") or hasattr(X, "todense"):
            raise TypeError(f"{name}: sparse input is not supported; pass a dense array")
        try:
            n = _num_samples(X)
        except TypeError as exc:
            raise InputError(f"{name}: {exc}") from None
        if n == 0:
            raise InputError(f"{name}: no inputs")
        return n

    @staticmethod
    def _is_real_sequences(X) -> bool:
        return not (isinstance(X[0], str) or is_token_input(X, strings_are_tokens=False))

    def _model_args(self, X, kind: str) -> tuple:
        """The model's ``fit`` / scoring arguments: real-valued sequences become
        next-step prediction for a SequenceModel."""
        if kind != "sequence-model" or not self._is_real_sequences(X):
            return (X,)
        xs = [np.asarray(x, np.float32) for x in X]
        for i, x in enumerate(xs):
            if x.ndim != 2 or x.shape[0] < 2:
                raise InputError(f"next-step prediction needs sequences of shape (T >= 2, "
                                 f"n_features), got {x.shape}", index=i)
        return [x[:-1] for x in xs], [x[1:] for x in xs]

    # -- scores --------------------------------------------------------------------------------
    def _per_item(self, X):
        """Per-feature errors ``(n, d)`` (rows) or per-step errors (a list, sequences)."""
        model = self.model_
        if self.kind_ == "autoencoder":
            return np.asarray(model.reconstruction_error(X, per_feature=True), np.float64)
        if self.kind_ == "sequence-ae":
            return [np.asarray(e, np.float64) for e in model.reconstruction_error(
                X, per_step=True)]
        return [-s for s in model.score_samples(*self._model_args(X, self.kind_),
                                                per_step=True)]

    def _reduce(self, per_item, aggregate: str | None = None) -> np.ndarray:
        fn = _AGGREGATES[aggregate or self.aggregate]
        if isinstance(per_item, np.ndarray):
            return -fn(per_item, axis=1)
        return -np.array([fn(e) for e in per_item])

    def _scores(self, X) -> np.ndarray:
        return self._reduce(self._per_item(X))

    def score_samples(self, X) -> np.ndarray:
        """Minus the aggregated error of each input ``(n,)``: higher is more normal."""
        check_is_fitted(self)
        self._count(X, "X")
        return self._scores(X)

    def errors(self, X):
        """Every error term the scores aggregate: ``(n, n_features)`` per-feature
        reconstruction errors for rows; for sequences a list of ``(T_i,)`` arrays, each
        step's surprisal in nats (SequenceModel: entry ``t`` is the symbol or token at
        position ``t + 1``) or reconstruction error (SequenceAutoencoder)."""
        check_is_fitted(self)
        self._count(X, "X")
        return self._per_item(X)

    def _rate(self, n: int | None = None) -> float:
        """The false-alarm rate in effect with ``n`` calibration inputs (default: the
        fitted ones); ValueError if ``n`` is too few for ``contamination``."""
        n = self.calibration_scores_.size if n is None else int(n)
        if self.contamination == "auto":
            return max(AUTO_RATE, 1.0 / (n + 1))
        rate = float(self.contamination)
        if not 0 < rate <= 0.5:
            raise ValueError(f"contamination must be 'auto' or in (0, 0.5], got {rate}")
        need = needed_calibration(rate)
        if n < need:
            raise ValueError(
                f"contamination={rate:g} needs at least {need} calibration inputs (with n "
                f"of them the smallest p-value is 1/(n+1)), not {n}: give "
                f"more data, a larger calibration_fraction or calibration=, or a larger "
                f"contamination (at least {1 / (n + 1):.3g})")
        return rate

    @property
    def contamination_(self) -> float:
        check_is_fitted(self)
        return self._rate()

    @property
    def offset_(self) -> float:
        check_is_fitted(self)
        n = self.calibration_scores_.size
        # Flag p <= alpha  <=>  #{s_i <= s} <= k  <=>  s < s_(k), k = floor(alpha (n+1)) - 1.
        k = _flagged_ranks(self._rate(), n) - 1
        return float(self.calibration_scores_[max(k, 0)])

    def pvalues(self, X) -> np.ndarray:
        """Conformal p-values ``(n,)``: ``(1 + #{calibration scores <= score}) / (n_cal + 1)``.
        Small for inputs less normal than the calibration data; a normal input's p-value
        is at most ``alpha`` with probability at most ``alpha``."""
        scores = self.score_samples(X)
        cal = self.calibration_scores_
        return (1.0 + np.searchsorted(cal, scores, side="right")) / (cal.size + 1.0)

    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """+1 for inliers, -1 for outliers (p-value at most ``contamination_``)."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    # -- explanations --------------------------------------------------------------------------
    def explain(self, X, top: int = 3) -> Explanation:
        """The ``top`` features (rows) or steps (sequences) with the largest error terms.

        Rows: each feature's reconstruction error term. Sequences: each step's surprisal
        (SequenceModel; position ``t`` is the symbol or token predicted there, ``t >= 1``)
        or reconstruction error (SequenceAutoencoder). See :class:`Explanation`.
        """
        check_is_fitted(self)
        if isinstance(top, bool) or not isinstance(top, Integral) or top < 1:
            raise ValueError(f"top must be a positive integer, got {top!r}")
        self._count(X, "X")
        per = self._per_item(X)
        top = int(top)
        if isinstance(per, np.ndarray):
            names = (np.asarray(self.feature_names_in_, dtype=object)
                     if hasattr(self, "feature_names_in_")
                     else np.array([f"x{j}" for j in range(per.shape[1])], dtype=object))
            k = min(top, per.shape[1])
            index = np.argsort(-per, axis=1, kind="stable")[:, :k]
            value = np.take_along_axis(per, index, axis=1)
            total = per.sum(axis=1, keepdims=True)
            share = np.divide(value, total, out=np.zeros_like(value), where=total > 0)
            return Explanation("feature", index, names[index], value, share, per)
        n = len(per)
        index = np.full((n, top), -1, np.int64)
        value = np.full((n, top), np.nan)
        share = np.full((n, top), np.nan)
        label = np.full((n, top), "", dtype=object)
        # A sequence model's step t scores symbol t + 1, or symbol t when it adds its own
        # begin marker (and its last step the end, shown as '</s>').
        offset = int(self.kind_ == "sequence-model"
                     and not getattr(self.model_, "markers_", False))
        for i, e in enumerate(per):
            order = np.argsort(-e, kind="stable")[:top]
            total = e.sum()
            for j, t in enumerate(order):
                pos = int(t) + offset
                index[i, j], value[i, j] = pos, e[t]
                share[i, j] = e[t] / total if total > 0 else 0.0
                label[i, j] = self._symbol(X[i], pos)
        return Explanation("step", index, label, value, share, per)

    def _symbol(self, seq, pos: int) -> str:
        if isinstance(seq, str):
            if self.kind_ == "sequence-ae":  # split on whitespace into words
                words = seq.split()
                return words[pos] if pos < len(words) else "</s>"
            return seq[pos] if pos < len(seq) else "</s>"
        if isinstance(seq, list | tuple) and seq and isinstance(seq[0], str):
            return str(seq[pos]) if pos < len(seq) else "</s>"
        return f"t={pos}"

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted detector (its model, calibration scores and settings) to
        ``path`` (safetensors + JSON, atomically); :func:`hiddenstate.load` reads it."""
        config, tensors = self._to_file()
        _serialize.save(path, type(self).__name__, config, tensors)

    def _to_file(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(settings, tensors)`` of the fitted detector, as :meth:`save` writes them."""
        check_is_fitted(self)
        model_config, model_tensors = self.model_._to_file()
        rs = self.random_state
        params = {"contamination": self.contamination,
                  "calibration_fraction": float(self.calibration_fraction),
                  "aggregate": self.aggregate, "prefit": bool(self.prefit),
                  "random_state": int(rs) if isinstance(rs, Integral)
                  and not isinstance(rs, bool) else None}
        config = {"params": params, "kind": self.kind_,
                  "model": {"class": type(self.model_).__name__, "config": model_config}}
        tensors = {_MODEL_PREFIX + k: v for k, v in model_tensors.items()}
        for a, scores in self.calibration_scores_by_aggregate_.items():
            tensors[_SCORES + a] = np.asarray(scores, np.float64)
        return config, tensors

    @classmethod
    def _from_file(cls, config: dict, tensors: dict, *, path):
        params, inner = config.get("params"), config.get("model")
        if not isinstance(params, dict) or not isinstance(inner, dict):
            raise ModelFileError(f"{path}: the detector's settings are incomplete")
        by_name = {c.__name__: c for c in _KINDS}
        model_cls = by_name.get(inner.get("class"))
        if model_cls is None:
            raise ModelFileError(f"{path}: the detector's model class {inner.get('class')!r} "
                                 f"is not one of {sorted(by_name)}")
        if not isinstance(inner.get("config"), dict):
            raise ModelFileError(f"{path}: the detector's model settings are not an object")
        allowed = set(cls().get_params(deep=False)) - {"model"}  # the model is stored apart
        unknown = set(params) - allowed
        if unknown:
            raise ModelFileError(f"{path}: unknown detector settings {sorted(unknown)}")
        model_tensors = {k[len(_MODEL_PREFIX):]: v for k, v in tensors.items()
                         if k.startswith(_MODEL_PREFIX)}
        score_names = {_SCORES + a for a in _AGGREGATES}
        extra = sorted(set(tensors) - score_names - {_MODEL_PREFIX + k for k in model_tensors})
        if extra:
            raise ModelFileError(f"{path}: unexpected tensors {extra}")
        if not score_names <= set(tensors):
            raise ModelFileError(f"{path}: calibration scores missing "
                                 f"{sorted(score_names - set(tensors))}")
        model = model_cls._from_file(inner["config"], model_tensors, path=path)
        det = cls(clone(model), **params)
        try:
            det._validate_params()
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"{path}: invalid detector settings: {exc}") from None
        by_aggregate = {}
        for a in _AGGREGATES:
            scores = np.asarray(tensors[_SCORES + a], np.float64)
            if scores.ndim != 1 or scores.size == 0 or not np.all(np.isfinite(scores)):
                raise ModelFileError(f"{path}: invalid calibration scores {scores.shape}")
            if np.any(np.diff(scores) < 0):
                raise ModelFileError(f"{path}: the calibration scores are not sorted")
            by_aggregate[a] = scores
        if len({v.size for v in by_aggregate.values()}) != 1:
            raise ModelFileError(f"{path}: calibration scores of different lengths")
        det.model_, det.kind_ = model, _kind(model)
        if config.get("kind") not in (None, det.kind_):
            raise ModelFileError(f"{path}: kind {config.get('kind')!r} does not match the "
                                 f"model, a {type(model).__name__}")
        det.n_features_in_ = int(model.n_features_in_)
        if hasattr(model, "feature_names_in_"):
            det.feature_names_in_ = model.feature_names_in_
        det.calibration_scores_by_aggregate_ = by_aggregate
        try:
            det._rate()
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        return det
