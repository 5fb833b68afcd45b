"""scikit-learn-style estimators."""

from ._autoencoder import Autoencoder, AutoencoderObjective
from ._recursive import RecursiveAutoencoder
from ._sequence_ae import SequenceAutoencoder

__all__ = ["Autoencoder", "AutoencoderObjective", "RecursiveAutoencoder", "SequenceAutoencoder"]
