"""Helpers the experiments share."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from sklearn.exceptions import ConvergenceWarning

__all__ = ["Timer", "figure_path", "quiet", "image_figures", "in_parallel", "timed",
           "quick_note"]


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False


def timed(fn: Callable, *args, **kwargs):
    """``(fn(*args, **kwargs), wall seconds)``."""
    with Timer() as t:
        out = fn(*args, **kwargs)
    return out, t.seconds


def in_parallel(jobs: Sequence[Callable[[], object]], workers: int | None = None) -> list:
    """Run independent jobs (fits) on ``workers`` threads (default: the CPU count, at most
    4); returns their results in order.

    XLA compiles and runs a program with the GIL released, on one core for these small
    models, so two fits on two cores take about the time of one: the compilation of one
    overlaps the training of the other. Each job draws from its own Generator and key, so
    the results are those of the jobs run one after another; only their wall times
    overlap (and each is a little longer than alone).
    """
    workers = workers or max(1, min(4, os.cpu_count() or 1))
    if workers == 1 or len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(job) for job in jobs]
        return [f.result() for f in futures]


def quick_note(config, against_full: str) -> str:
    """The line a quick run adds to its notes: the fields ``Config.quick()`` changes that
    this config has too, with the full values, and ``against_full`` (how the quick rows
    compare with a full run's, as measured). Empty for any other config."""
    import dataclasses

    cls = type(config)
    full, quick = cls(), cls.quick()
    changed = [f.name for f in dataclasses.fields(cls)
               if getattr(quick, f.name) != getattr(full, f.name)
               and getattr(config, f.name) == getattr(quick, f.name)]
    if not changed:
        return ""
    what = ", ".join(f"{f}={getattr(config, f)!r} (full: {getattr(full, f)!r})"
                     for f in changed)
    return f" Quick run: {what}. {against_full}"


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


def image_figures(est, X, *, out_dir: Path, prefix: str, label: str, variant: str,
                  image_shape: tuple[int, int], close_up: int | None = None) -> dict[str, str]:
    """Feature tiles (all filters, and optionally the first ``close_up``) and a
    reconstruction grid of a fitted image autoencoder: ``{caption: png path}``."""
    import numpy as np

    from .. import plotting

    slug = "seed" if variant.startswith("seed") else "ours"
    W = np.asarray(est.model_.weights[0])
    figures = {}
    path = figure_path(out_dir, f"{prefix}_tiles_{slug}.png")
    plotting.feature_tiles(W, image_shape=image_shape, path=path,
                           title=f"{label} filters, {variant}")
    figures[f"{label}: the {W.shape[1]} filters (rows of W^T), {variant}"] = str(path)
    if close_up:
        path = figure_path(out_dir, f"{prefix}_tiles{close_up}_{slug}.png")
        plotting.feature_tiles(W, image_shape=image_shape, n_max=close_up, path=path,
                               title=f"{label}: first {close_up} filters, {variant}, "
                                     f"{est.n_iter_} epochs")
        figures[f"{label}: the first {close_up} filters, close up, {variant}"] = str(path)
    path = figure_path(out_dir, f"{prefix}_recon_{slug}.png")
    plotting.reconstruction_grid(X[:10], est.predict(X[:10]), image_shape=image_shape,
                                 path=path, title=f"originals / reconstructions, {variant}")
    figures[f"{label}: originals above, reconstructions below, {variant}"] = str(path)
    return figures
