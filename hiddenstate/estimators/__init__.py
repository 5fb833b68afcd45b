"""scikit-learn-style estimators, all on one training template (``_base.TrainingMixin``)."""

from .. import _pipeline  # noqa: F401  (registers saved Pipelines with the loader)
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
