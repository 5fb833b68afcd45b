"""``hiddenstate.AnomalyDetector``: outlier detection by reconstruction error or surprisal,
with a conformal, calibrated threshold and per-feature or per-step explanations."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, clone
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _num_samples, check_is_fitted

from .. import _serialize
from .._errors import InputError, ModelFileError
from ._scoring import check_scorable, detector_fit_args, feature_names, item_labels, missing_hooks

__all__ = ["AnomalyDetector", "CalibrationError", "Explanation", "check_contamination",
           "expected_false_alarms", "needed_calibration", "smallest_rate"]

#: ``contamination="auto"``: this false-alarm rate, when the calibration set allows it.
AUTO_RATE = 0.01
_MODEL_PREFIX = "model/"
_SCORES = "calibration_scores/"  # + each aggregate
_AGGREGATES = {"mean": np.mean, "sum": np.sum, "max": np.max}
#: Files written by 0.1.0 name their model twice, by class and by this ``kind``; it is
#: checked against the class when they load. Later files name the class only.
_KINDS_0_1 = {"autoencoder": "Autoencoder", "sequence-ae": "SequenceAutoencoder",
              "sequence-model": "SequenceModel"}


class CalibrationError(InputError):
    """Too few calibration inputs: to hold any out of ``n_samples`` and still train, or
    for the false-alarm rate asked for.

    Attributes
    ----------
    n_samples : int or None
        The inputs the calibration inputs were to be held out of (None: they were given).
    n_calibration : int
        The calibration inputs there are, or would be.
    contamination : float or None
        The rate asked for; None when the inputs are too few to split at all.
    needed : int
        The calibration inputs needed (``needed_calibration(contamination)``; 1 to split).
    smallest : float
        The smallest contamination ``n_calibration`` inputs allow (:func:`smallest_rate`).
    """

    def __init__(self, message: str, *, n_calibration: int, contamination: float | None = None,
                 n_samples: int | None = None) -> None:
        super().__init__(message)
        self.n_samples, self.n_calibration = n_samples, int(n_calibration)
        self.contamination = contamination
        self.needed = 1 if contamination is None else needed_calibration(contamination)
        self.smallest = smallest_rate(max(self.n_calibration, 1))


def needed_calibration(rate: float) -> int:
    """Calibration rows needed to flag a false-alarm rate of ``rate``: with ``n`` rows the
    smallest conformal p-value is ``1 / (n + 1)``, so ``n >= ceil(1 / rate) - 1``."""
    return max(math.ceil(1.0 / rate - 1e-9) - 1, 1)


def smallest_rate(n: int) -> float:
    """The smallest contamination ``n`` calibration inputs allow, ``1 / (n + 1)``, rounded
    up to 4 decimals (so that it is allowed, and short to write)."""
    return math.ceil(1e4 / (int(n) + 1)) / 1e4


def check_contamination(contamination, n: int) -> float:
    """The false-alarm rate in effect for ``contamination`` ('auto' or a float in
    (0, 0.5]) with ``n`` calibration inputs; :class:`CalibrationError` when ``n`` is
    fewer than the rate needs (:func:`needed_calibration`), ValueError when the rate is
    out of range."""
    n = int(n)
    if contamination == "auto":
        return max(AUTO_RATE, 1.0 / (n + 1))
    rate = float(contamination)
    if not 0 < rate <= 0.5:
        raise ValueError(f"contamination must be 'auto' or in (0, 0.5], got {rate}")
    need = needed_calibration(rate)
    if n < need:
        raise CalibrationError(
            f"contamination={rate:g} needs at least {need} calibration inputs (with n "
            f"of them the smallest p-value is 1/(n+1)), not {n}: give "
            f"more data, a larger calibration_fraction or calibration=, or a larger "
            f"contamination (at least {1 / (n + 1):.3g})", n_calibration=n, contamination=rate)
    return rate


def expected_false_alarms(rate: float, n: int) -> float:
    """The share of normal inputs flagged at ``rate`` with ``n`` calibration inputs:
    a new normal input's rank among the ``n + 1`` is uniform, so it is flagged with
    probability ``floor(rate (n + 1)) / (n + 1)``, at most ``rate``."""
    return _flagged_ranks(rate, n) / (n + 1)


def false_alarm_interval(rate: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Where the share of normal inputs flagged at ``rate`` lies, over the draws of ``n``
    calibration inputs: the central ``level`` interval.

    :func:`expected_false_alarms` is the mean over calibration sets; one set's rate (the
    chance that a new normal input falls below its threshold, the ``k``-th smallest of
    ``n`` scores, ``k = floor(rate (n + 1))``) is distributed as ``Beta(k, n + 1 - k)``
    (the order statistic of uniform ranks; the same beta quantiles give the
    Clopper-Pearson binomial interval). Few calibration inputs give a wide interval.
    """
    from scipy.special import betaincinv

    k = _flagged_ranks(rate, n)
    if k < 1:
        return 0.0, 0.0
    tail = (1.0 - level) / 2.0
    low, high = betaincinv(k, n + 1 - k, [tail, 1.0 - tail])
    return float(low), float(high)


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
    Any model that gives its per-item errors through the scoring protocol
    (:class:`~hiddenstate.estimators.Scorable`: ``item_unit`` and
    ``item_errors``) is scored the same way; the detector asks nothing else of it.
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
    model : Autoencoder, SequenceAutoencoder, SequenceModel or another scorable model, \
default=None
        The model to train (``fit`` trains a clone) or, with ``prefit=True``, a fitted
        one to use as it is. None: ``Autoencoder()``. TypeError for a model that does
        not follow the scoring protocol.
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
        Features per row (Autoencoder) or per step (when the model has them).
    kind_ : str
        The model's class name in hyphenated lower case (``'autoencoder'``).
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
        if self.model is not None:
            return self.model
        from ._autoencoder import Autoencoder

        return Autoencoder()

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
        check_scorable(base)
        n = self._count(X, "X")
        if base.item_unit == "feature" and not hasattr(X, "iloc"):
            X = np.asarray(X)  # array-likes that cannot be indexed by rows
        # The calibration set's size is known before training: check it first.
        n_cal = self.check_calibration(
            n, None if calibration is None else self._count(calibration, "calibration"))[1]
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
                rng = np.random.default_rng(self._seed())
                order = rng.permutation(n)
                train, cal = _safe_indexing(X, np.sort(order[n_cal:])), \
                    _safe_indexing(X, np.sort(order[:n_cal]))
            else:
                train, cal = X, calibration
            args, fit_params = detector_fit_args(model, train, cal, fit_params)
            model.fit(*args, **fit_params)
        self.model_ = model
        self._copy_model_attributes()
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

    def check_calibration(self, n_samples: int, n_calibration: int | None = None
                          ) -> tuple[int, int]:
        """The inputs :meth:`fit` trains on and calibrates with, ``(n_train,
        n_calibration)``, checked as ``fit`` checks them before it trains.

        Parameters
        ----------
        n_samples : int
            Inputs of ``X``.
        n_calibration : int, optional
            Inputs of ``calibration=``; None: ``calibration_fraction`` of ``X`` is held
            out (all of it with ``prefit=True``, which trains on none).

        Raises
        ------
        CalibrationError
            Too few inputs to hold some out and still train on some, or fewer
            calibration inputs than ``contamination`` needs.
        """
        n = int(n_samples)
        if n_calibration is not None:
            n_cal, n_train = int(n_calibration), n
        elif self.prefit:
            n_cal, n_train = n, 0
        else:
            n_cal = int(round(float(self.calibration_fraction) * n))
            n_train = n - n_cal
        if n_calibration is None and not self.prefit and (n_cal < 1 or n_train < 1):
            raise CalibrationError(
                f"n_samples={n}: too few to hold out calibration_fraction="
                f"{self.calibration_fraction} of them for calibration and still "
                f"train on some; give more data or calibration=", n_calibration=n_cal,
                n_samples=n)
        if n_cal >= 1:
            try:
                check_contamination(self.contamination, n_cal)
            except CalibrationError as exc:
                exc.n_samples = n if n_calibration is None else None
                raise
        return n_train, n_cal

    def _copy_model_attributes(self) -> None:
        model = self.model_
        if hasattr(model, "n_features_in_"):
            self.n_features_in_ = int(model.n_features_in_)
        if hasattr(model, "feature_names_in_"):
            self.feature_names_in_ = model.feature_names_in_

    @property
    def kind_(self) -> str:
        """The wrapped model's class name in lower-case words joined by hyphens
        (``'autoencoder'``, ``'sequence-model'``, ``'sequence-autoencoder'``)."""
        check_is_fitted(self)
        return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", type(self.model_).__name__).lower()

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

    # -- scores --------------------------------------------------------------------------------
    def _per_item(self, X):
        """Per-feature errors ``(n, d)`` (rows) or per-step errors (a list, sequences):
        the model's ``item_errors`` (the Scorable protocol)."""
        errors = self.model_.item_errors(X)
        if self.model_.item_unit == "feature":
            return np.asarray(errors, np.float64)
        return [np.asarray(e, np.float64) for e in errors]

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

    def _rate(self) -> float:
        """The false-alarm rate in effect with the fitted calibration inputs;
        :class:`CalibrationError` if they are too few for ``contamination``."""
        return check_contamination(self.contamination, self.calibration_scores_.size)

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
        if self.model_.item_unit == "feature" and not hasattr(self.model_, "item_labels"):
            names = feature_names(self, per.shape[1])
            k = min(top, per.shape[1])
            index = np.argsort(-per, axis=1, kind="stable")[:, :k]
            value = np.take_along_axis(per, index, axis=1)
            total = per.sum(axis=1, keepdims=True)
            share = np.divide(value, total, out=np.zeros_like(value), where=total > 0)
            return Explanation("feature", index, names[index], value, share, per)
        n = len(per)
        width = top if self.model_.item_unit == "step" else min(top, per.shape[1])
        index = np.full((n, width), -1, np.int64)
        value = np.full((n, width), np.nan)
        share = np.full((n, width), np.nan)
        label = np.full((n, width), "", dtype=object)
        for i, e in enumerate(per):
            order = np.argsort(-e, kind="stable")[:width]
            total = e.sum()
            positions, labels = item_labels(self.model_, X, i, order)
            for j, t in enumerate(order):
                index[i, j], value[i, j] = positions[j], e[t]
                share[i, j] = e[t] / total if total > 0 else 0.0
                label[i, j] = labels[j]
        return Explanation(self.model_.item_unit, index, label, value, share, per)

    # -- files ---------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted detector (its model, calibration scores and settings) to
        ``path`` (safetensors + JSON, atomically); :func:`hiddenstate.load` reads it."""
        config, tensors = self._to_file()
        _serialize.save(path, type(self).__name__, config, tensors)

    def _model_class_name(self) -> str:
        """The name the model's class is registered under, which the file stores."""
        name = type(self.model_).__name__
        try:
            registered = _serialize.class_for(name)
        except ModelFileError:
            registered = None
        if registered is not type(self.model_) or not hasattr(self.model_, "_to_file"):
            raise TypeError(f"cannot save a detector around a {name}: its class is not "
                            f"registered with hiddenstate._serialize.register or has no "
                            f"_to_file, so no file could name it")
        return name

    def _to_file(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``(settings, tensors)`` of the fitted detector, as :meth:`save` writes them:
        the settings name the model by its registered class name (``model.class``)."""
        check_is_fitted(self)
        model_config, model_tensors = self.model_._to_file()
        rs = self.random_state
        params = {"contamination": self.contamination,
                  "calibration_fraction": float(self.calibration_fraction),
                  "aggregate": self.aggregate, "prefit": bool(self.prefit),
                  "random_state": int(rs) if isinstance(rs, Integral)
                  and not isinstance(rs, bool) else None}
        config = {"params": params,
                  "model": {"class": self._model_class_name(), "config": model_config}}
        tensors = {_MODEL_PREFIX + k: v for k, v in model_tensors.items()}
        for a, scores in self.calibration_scores_by_aggregate_.items():
            tensors[_SCORES + a] = np.asarray(scores, np.float64)
        return config, tensors

    @classmethod
    def _from_file(cls, config: dict, tensors: dict, *, path):
        params, inner = config.get("params"), config.get("model")
        if not isinstance(params, dict) or not isinstance(inner, dict):
            raise ModelFileError(f"{path}: the detector's settings are incomplete")
        model_cls = cls._model_class(config, inner, path)
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
        det.model_ = model
        det._copy_model_attributes()
        det.calibration_scores_by_aggregate_ = by_aggregate
        try:
            det._rate()
        except ValueError as exc:
            raise ModelFileError(f"{path}: {exc}") from None
        return det

    @staticmethod
    def _model_class(config: dict, inner: dict, path) -> type:
        """The scorable class the file's ``model.class`` names (a file of 0.1.0 also
        stores ``kind``, which must agree with it)."""
        name = inner.get("class")
        if not isinstance(name, str):
            raise ModelFileError(f"{path}: the detector's model class {name!r} is not a name")
        model_cls = _serialize.class_for(name, path=path)
        missing = missing_hooks(model_cls)
        if missing:
            raise ModelFileError(f"{path}: the detector's model class {name!r} is not one of "
                                 f"the scorable models (it has no {' and no '.join(missing)})")
        kind = config.get("kind")
        if kind is not None and _KINDS_0_1.get(kind) != name:
            raise ModelFileError(f"{path}: kind {kind!r} does not match the model, a {name}")
        return model_cls
