"""The scoring protocol: what a model provides so that :class:`~hiddenstate.AnomalyDetector`
can score inputs with it.

A model is *scorable* when it has an ``item_unit`` and an ``item_errors`` method (duck
typing, as scikit-learn finds ``score_samples``): the detector reduces each input's error
terms to one score, calibrates a threshold on them and explains a score by its largest
terms, without knowing which model computed them. Two hooks are optional
(``item_labels``, ``detector_fit_args``); :class:`ScorableMixin` gives their defaults,
and the functions of this module fall back to the same defaults for a model without them,
so a model joins by defining two names and inheriting nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

__all__ = ["ITEM_UNITS", "Scorable", "ScorableMixin", "check_scorable", "detector_fit_args",
           "feature_names", "item_labels", "label_at", "missing_hooks"]

#: What one error term is: a feature of a row, or a step of a sequence.
ITEM_UNITS = ("feature", "step")


@runtime_checkable
class Scorable(Protocol):
    """A model :class:`~hiddenstate.AnomalyDetector` can score inputs with.

    Attributes
    ----------
    item_unit : {'feature', 'step'}
        What one error term is. ``'feature'``: the inputs are rows and
        :meth:`item_errors` gives one term per feature, an array ``(n, d)``.
        ``'step'``: the inputs are sequences and it gives one term per step, a list of
        ``(T_i,)`` arrays (``T_i`` may differ from the sequence's length, e.g. a
        next-step model scores one step fewer).

    Notes
    -----
    Two hooks are optional:

    ``item_labels(X, i, entries) -> (positions, labels)``
        Where the error terms ``entries`` (indices into ``item_errors(X)[i]``) of input
        ``i`` are, and what to call them, for :meth:`AnomalyDetector.explain`. Default
        (:func:`item_labels`): positions are the entries; labels are the feature names
        (``feature_names_in_``, else ``x<j>``) for rows, and for sequences the symbol or
        token at that position (``'</s>'`` past the end) or ``t=<position>`` for
        real-valued steps.
    ``detector_fit_args(X, calibration, fit_params) -> (args, fit_params)``
        How the detector's training data ``X`` become the arguments of the model's
        ``fit`` (``model.fit(*args, **fit_params)``); ``calibration`` is the data held
        out to calibrate on (the model does not train on it, but may need to know it,
        e.g. for an alphabet that covers its symbols). Default
        (:func:`detector_fit_args`): ``((X,), fit_params)``. A model that transforms
        its inputs for training (next-step targets) applies the same transform in
        :meth:`item_errors`, which always receives the inputs as the user gives them.

    A scorable model the detector saves in its file is also registered
    (:func:`hiddenstate._serialize.register`) and has ``_to_file`` and ``_from_file``,
    as every hiddenstate estimator: the file names it by its registered class name.
    """

    item_unit: ClassVar[str]

    def item_errors(self, X) -> np.ndarray | list[np.ndarray]:
        """float64 error terms of each input of ``X``, larger for less normal inputs.

        Parameters
        ----------
        X : array (n, d) or list of n sequences
            Inputs as the user gives them to the detector.

        Returns
        -------
        ndarray of shape (n, d), or list of n ndarray of shape (T_i,)
            ``item_unit='feature'``: one term per feature of each row (e.g. a
            reconstruction error term); ``'step'``: one term per step of each
            sequence (e.g. a surprisal in nats). :meth:`AnomalyDetector.score_samples`
            is minus their mean, sum or max.
        """
        ...


class ScorableMixin:
    """The optional hooks of :class:`Scorable` with their defaults, for a model class
    to inherit (or to call from its own hooks); ``item_unit`` and ``item_errors`` are
    the model's own."""

    def item_labels(self, X, i: int, entries) -> tuple[list[int], list[str]]:
        """Positions and labels of the error terms ``entries`` of input ``i`` of ``X``
        (see :class:`Scorable`)."""
        return _default_labels(self, X, i, entries)

    def detector_fit_args(self, X, calibration, fit_params: dict) -> tuple[tuple, dict]:
        """``((X,), fit_params)``: the model trains on the detector's data as given."""
        del calibration
        return (X,), fit_params


def missing_hooks(model) -> list[str]:
    """What ``model`` lacks to be scorable: ``[]``, or the missing or invalid names."""
    missing = []
    if getattr(model, "item_unit", None) not in ITEM_UNITS:
        missing.append(f"item_unit (one of {', '.join(map(repr, ITEM_UNITS))})")
    if not callable(getattr(model, "item_errors", None)):
        missing.append("item_errors(X)")
    return missing


def check_scorable(model) -> None:
    """TypeError naming what ``model`` (an instance or a class) lacks to be scorable."""
    missing = missing_hooks(model)
    if missing:
        name = model.__name__ if isinstance(model, type) else type(model).__name__
        raise TypeError(
            f"AnomalyDetector needs a model that scores its inputs (the protocol "
            f"hiddenstate.estimators.Scorable, as Autoencoder, SequenceAutoencoder and "
            f"SequenceModel follow it); {name} has no {' and no '.join(missing)}")


def item_labels(model, X, i: int, entries) -> tuple[list[int], list[str]]:
    """``model.item_labels(X, i, entries)``, or the default of :class:`ScorableMixin`."""
    hook = getattr(model, "item_labels", None)
    if hook is None:
        return _default_labels(model, X, i, entries)
    return hook(X, i, entries)


def detector_fit_args(model, X, calibration, fit_params: dict) -> tuple[tuple, dict]:
    """``model.detector_fit_args(X, calibration, fit_params)``, or ``((X,), fit_params)``."""
    hook = getattr(model, "detector_fit_args", None)
    if hook is None:
        return (X,), fit_params
    return hook(X, calibration, fit_params)


def label_at(seq: Any, pos: int, *, words: bool = False) -> str:
    """What is at position ``pos`` of the sequence ``seq``: its symbol (a string; with
    ``words``, its ``pos``-th whitespace-separated word) or token (a list of str),
    ``'</s>'`` past the end; ``t=<pos>`` for real-valued steps."""
    if isinstance(seq, str):
        items = seq.split() if words else seq
        return items[pos] if pos < len(items) else "</s>"
    if isinstance(seq, list | tuple) and seq and isinstance(seq[0], str):
        return str(seq[pos]) if pos < len(seq) else "</s>"
    return f"t={pos}"


def feature_names(model, n_features: int) -> np.ndarray:
    """The names of a row model's ``n_features`` features: its ``feature_names_in_``,
    else ``x<j>`` (an object array)."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return np.asarray(names, dtype=object)
    return np.array([f"x{j}" for j in range(n_features)], dtype=object)


def _default_labels(model, X, i: int, entries) -> tuple[list[int], list[str]]:
    positions = [int(t) for t in entries]
    if model.item_unit == "feature":
        names = getattr(model, "feature_names_in_", None)
        return positions, [f"x{j}" if names is None else str(names[j]) for j in positions]
    return positions, [label_at(X[i], pos) for pos in positions]
