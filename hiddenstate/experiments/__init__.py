"""The classic experiments: one module each, a frozen ``Config`` plus ``run``.

``reproduce`` runs them in order, prints the table and writes the report;
``resolved_configs`` shows what it would run. ``EXPERIMENT_NAMES`` is cheap to
import; the rest loads NumPy, JAX and scikit-learn when first used (PEP 562).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._names import EXPERIMENT_NAMES

if TYPE_CHECKING:
    from ._registry import EXPERIMENTS, Experiment, reproduce, resolved_configs

__all__ = ["EXPERIMENTS", "EXPERIMENT_NAMES", "Experiment", "reproduce", "resolved_configs"]

_REGISTRY = {"EXPERIMENTS", "Experiment", "reproduce", "resolved_configs"}
_MODULES = {"anomaly", "digits", "donut", "embedded_reber", "forecast", "mnist", "reber",
            "recurrent_ae", "scan_exercise", "sentence_models", "sentiment", "time_series"}


def __getattr__(name: str):
    if name in _REGISTRY:
        return getattr(importlib.import_module("._registry", __name__), name)
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _REGISTRY | _MODULES)
