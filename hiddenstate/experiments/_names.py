"""The experiments' names, in report order.

Importing this module loads nothing heavy (no NumPy, JAX or scikit-learn), so
the command line can list the names in ``--help`` at once.
"""

from __future__ import annotations

__all__ = ["EXPERIMENT_NAMES"]

EXPERIMENT_NAMES: tuple[str, ...] = (
    "donut",
    "digits",
    "mnist",
    "reber",
    "embedded-reber",
    "scan-exercise",
    "recurrent-ae",
    "sentiment",
    "sentence-models",
    "anomaly",
    "forecast",
    "time-series",
)
