"""scikit-learn-style estimators."""

from ._autoencoder import Autoencoder, AutoencoderObjective
from ._recursive import RecursiveAutoencoder
from ._sequence import SequenceModel, SequenceObjective
from ._sequence_ae import SequenceAutoencoder

__all__ = ["Autoencoder", "AutoencoderObjective", "RecursiveAutoencoder", "SequenceAutoencoder",
           "SequenceModel", "SequenceObjective"]
