"""scikit-learn-style estimators, all on one training template (``_base.TrainingMixin``).

Each estimator loads on first use of its name (PEP 562), so that importing one
estimator's module, or loading one model file, does not import the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .._serialize import register as register_model
    from ..objectives import AutoencoderObjective, SequenceObjective
    from ._anomaly import AnomalyDetector, Explanation
    from ._autoencoder import Autoencoder
    from ._base import IncrementalMixin, TrainingData, TrainingMixin, check_finite
    from ._classifier import SequenceClassifier, SequenceRegressor
    from ._params import TRAINING_CONSTRAINTS, store_params
    from ._recursive import RecursiveAutoencoder
    from ._scoring import Scorable, ScorableMixin
    from ._sequence import SequenceModel
    from ._sequence_ae import SequenceAutoencoder

__all__ = ["TRAINING_CONSTRAINTS", "IncrementalMixin", "TrainingData", "TrainingMixin",
           "check_finite", "register_model", "store_params",
           "AnomalyDetector", "Autoencoder", "AutoencoderObjective", "Explanation",
           "RecursiveAutoencoder", "Scorable", "ScorableMixin", "SequenceAutoencoder",
           "SequenceClassifier", "SequenceModel", "SequenceObjective", "SequenceRegressor"]

#: Each public name and the module that defines it (``module:name`` where it is
#: defined under another name).
_LAZY = {
    # The template a new estimator is built on (README: "Adding a model").
    "IncrementalMixin": "._base",
    "TRAINING_CONSTRAINTS": "._params",
    "TrainingData": "._base",
    "TrainingMixin": "._base",
    "check_finite": "._base",
    "register_model": ".._serialize:register",
    "store_params": "._params",
    "AnomalyDetector": "._anomaly",
    "Autoencoder": "._autoencoder",
    "AutoencoderObjective": "..objectives",
    "Explanation": "._anomaly",
    "RecursiveAutoencoder": "._recursive",
    "Scorable": "._scoring",
    "ScorableMixin": "._scoring",
    "SequenceAutoencoder": "._sequence_ae",
    "SequenceClassifier": "._classifier",
    "SequenceModel": "._sequence",
    "SequenceObjective": "..objectives",
    "SequenceRegressor": "._classifier",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, _, attribute = _LAZY[name].partition(":")
    value = getattr(importlib.import_module(module, __name__), attribute or name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
