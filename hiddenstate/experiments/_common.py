"""Helpers the experiments share."""

from __future__ import annotations

import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning

__all__ = ["Timer", "figure_path", "quiet"]


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False


def figure_path(out_dir: Path, name: str) -> Path:
    """``out_dir/figures/name`` (folder created)."""
    path = Path(out_dir) / "figures" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def quiet():
    """Experiments run a fixed number of epochs on purpose: no convergence warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
