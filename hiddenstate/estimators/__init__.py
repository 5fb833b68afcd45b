"""scikit-learn-style estimators."""

from ._autoencoder import Autoencoder, AutoencoderObjective
from ._recursive import RecursiveAutoencoder

__all__ = ["Autoencoder", "AutoencoderObjective", "RecursiveAutoencoder"]
