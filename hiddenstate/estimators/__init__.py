"""scikit-learn-style estimators, all on one training template (``_base.TrainingMixin``).

Each estimator loads on first use of its name (PEP 562), so that importing one
estimator's module, or loading one model file, does not import the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..objectives import AutoencoderObjective, SequenceObjective
    from ._anomaly import AnomalyDetector, Explanation
    from ._autoencoder import Autoencoder
    from ._classifier import SequenceClassifier, SequenceRegressor
    from ._recursive import RecursiveAutoencoder
    from ._scoring import Scorable, ScorableMixin
    from ._sequence import SequenceModel
    from ._sequence_ae import SequenceAutoencoder

__all__ = ["AnomalyDetector", "Autoencoder", "AutoencoderObjective", "Explanation",
           "RecursiveAutoencoder", "Scorable", "ScorableMixin", "SequenceAutoencoder",
           "SequenceClassifier", "SequenceModel", "SequenceObjective", "SequenceRegressor"]

#: Each public name and the module that defines it.
_LAZY = {
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
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
