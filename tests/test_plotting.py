"""Figures: every function returns a Figure and writes a real PNG, atomically."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from hiddenstate import plotting

PNG = b"\x89PNG\r\n\x1a\n"


def _check(fig, path):
    assert isinstance(fig, Figure)
    assert path.read_bytes()[:8] == PNG
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def test_donut_figure(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((50, 4))
    p = tmp_path / "donut.png"
    fig = plotting.donut_figure(X, X[:, :2], X, np.geomspace(1, 1e-3, 30), np.arange(50) % 2,
                                path=p, title="t")
    _check(fig, p)


def test_feature_tiles_many_filters(tmp_path):
    W = np.random.default_rng(0).normal(size=(784, 500))
    p = tmp_path / "tiles.png"
    _check(plotting.feature_tiles(W, path=p), p)
    with pytest.raises(ValueError, match="image_shape"):
        plotting.feature_tiles(np.ones((10, 3)))


def test_reconstruction_grid_curves_heatmap_bars(tmp_path):
    a = np.random.default_rng(0).random((12, 64))
    for name, fig_fn in {
        "grid": lambda p: plotting.reconstruction_grid(a, a * 0.5, path=p),
        "curves": lambda p: plotting.learning_curves({"a": [3, 2, 1], "b": [2, 2, 1]}, path=p),
        "heat": lambda p: plotting.heatmap(a[:3, :4], row_labels="abc", col_labels="wxyz",
                                           annotate=True, path=p),
        "bars": lambda p: plotting.bar_chart({"x": 1.0, "y": 2.5}, path=p),
    }.items():
        d = tmp_path / name
        d.mkdir()
        p = d / f"{name}.png"
        _check(fig_fn(p), p)
