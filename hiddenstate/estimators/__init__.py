"""scikit-learn-style estimators."""

from ._autoencoder import Autoencoder, AutoencoderObjective

__all__ = ["Autoencoder", "AutoencoderObjective"]
