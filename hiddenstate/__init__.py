"""hiddenstate: the classic neural models that learn hidden representations.

Tied-weight autoencoders, recurrent and recursive autoencoders, and Elman,
LSTM and GRU sequence models, on JAX + Equinox + Optax, with a scikit-learn
interface, a command-line tool and one command that reproduces the classic
experiments (``hiddenstate reproduce``).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("hiddenstate")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.1.0"

from ._errors import DivergenceError, HiddenstateError, InputError, ModelFileError
from ._serialize import load
from .estimators import Autoencoder, RecursiveAutoencoder, SequenceAutoencoder, SequenceModel

__all__ = [
    "Autoencoder",
    "RecursiveAutoencoder",
    "SequenceAutoencoder",
    "SequenceModel",
    "DivergenceError",
    "HiddenstateError",
    "InputError",
    "ModelFileError",
    "load",
    "__version__",
]
