"""hiddenstate: the classic neural models that learn hidden representations.

Tied-weight autoencoders, recurrent and recursive autoencoders, and Elman,
LSTM and GRU sequence models, on JAX + Equinox + Optax, with a scikit-learn
interface, a command-line tool and one command that reproduces the classic
experiments (``hiddenstate reproduce``).

Importing the package is cheap: the estimators (and with them JAX and
scikit-learn) load on first use of a name below, and each public subpackage on
first use of its name (``hiddenstate.datasets``, PEP 562), so ``hiddenstate
--help`` answers at once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._errors import (
    DivergenceError,
    HiddenstateError,
    InputError,
    ModelFileError,
    ModelSizeWarning,
)

if TYPE_CHECKING:
    from . import (  # noqa: F401  (the lazy submodules, for type checkers)
        bench,
        checkpoint,
        cli,
        datasets,
        distributed,
        estimators,
        experiments,
        forecasting,
        losses,
        metrics,
        nn,
        objectives,
        optim,
        plotting,
        report,
        train,
    )
    from ._onnx import export_onnx
    from ._pipeline import save
    from ._serialize import load
    from .estimators import (
        AnomalyDetector,
        Autoencoder,
        RecursiveAutoencoder,
        SequenceAutoencoder,
        SequenceClassifier,
        SequenceModel,
        SequenceRegressor,
    )

    __version__: str

__all__ = [
    "AnomalyDetector",
    "Autoencoder",
    "RecursiveAutoencoder",
    "SequenceAutoencoder",
    "SequenceModel",
    "SequenceClassifier",
    "SequenceRegressor",
    "DivergenceError",
    "HiddenstateError",
    "InputError",
    "ModelFileError",
    "ModelSizeWarning",
    "load",
    "save",
    "export_onnx",
    "__version__",
]

#: Public names loaded on first use, and the module that defines each.
_LAZY = {
    "AnomalyDetector": ".estimators",
    "Autoencoder": ".estimators",
    "RecursiveAutoencoder": ".estimators",
    "SequenceAutoencoder": ".estimators",
    "SequenceModel": ".estimators",
    "SequenceClassifier": ".estimators",
    "SequenceRegressor": ".estimators",
    "load": "._serialize",
    "save": "._pipeline",
    "export_onnx": "._onnx",
}

#: Public subpackages and modules, imported on first use of ``hiddenstate.NAME``.
_SUBMODULES = frozenset({
    "bench", "checkpoint", "cli", "datasets", "distributed", "estimators", "experiments",
    "forecasting", "losses", "metrics", "nn", "objectives", "optim", "plotting", "report",
    "train",
})


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name == "__version__":
        from ._version import version

        value = version()
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _SUBMODULES)
