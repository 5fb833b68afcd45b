"""Figures: every function returns a Figure and writes a real PNG, atomically."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from matplotlib.figure import Figure

from hiddenstate import plotting

PNG = b"\x89PNG\r\n\x1a\n"


def _check(fig, path):
    assert isinstance(fig, Figure)
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 100
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left


def _png_size(path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def test_donut_figure(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.random((50, 4))
    p = tmp_path / "donut.png"
    fig = plotting.donut_figure(X, X[:, :2], X, np.geomspace(1, 1e-3, 30), np.arange(50) % 2,
                                path=p, title="t")
    _check(fig, p)
    axes = fig.axes
    assert len(axes) == 4 and axes[3].get_yscale() == "log"
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["inner", "outer"]
    # Labels 1/2 instead of 0/1 still give two rings; no path -> nothing written.
    fig = plotting.donut_figure(X, X[:, :2], X, [1.0, 0.5], np.arange(50) % 2 + 1)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["inner", "outer"]
    with pytest.raises(ValueError, match="codes"):
        plotting.donut_figure(X, X[:10, :2], X, [1.0], np.arange(50) % 2)


def test_tile_array_layout():
    images = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    canvas = plotting._tile_array(images)
    assert canvas.shape == (2 * 3 - 1, 3 * 4 - 1)  # 3 columns, 2 rows, 1-pixel gaps
    np.testing.assert_array_equal(canvas[0:2, 4:7], images[1])
    np.testing.assert_array_equal(canvas[3:5, 4:7], images[4])
    assert np.isnan(canvas[2]).all() and np.isnan(canvas[:, 3]).all()
    assert np.isnan(canvas[3:5, 8:11]).all()  # the empty sixth cell


def test_feature_tiles_many_filters(tmp_path):
    W = np.random.default_rng(0).normal(size=(784, 500))
    p = tmp_path / "tiles.png"
    fig = plotting.feature_tiles(W, path=p, title="500 filters")
    _check(fig, p)
    (image,) = fig.axes[0].get_images()
    canvas = image.get_array()
    assert canvas.shape == (22 * 29 - 1, 23 * 29 - 1)
    tile = canvas[:28, 29:57]  # filter 1 = column 1 of W, min-max scaled on its own
    np.testing.assert_allclose(tile, (W[:, 1] - W[:, 1].min()).reshape(28, 28) / np.ptp(W[:, 1]))
    assert _png_size(p)[0] == canvas.shape[1]  # whole pixels per weight: crisp 1px gaps


def test_feature_tiles_shapes_and_errors(tmp_path):
    W = np.random.default_rng(1).normal(size=(6, 20))
    W[:, 3] = 2.0  # a constant filter does not divide by zero
    p = tmp_path / "t.png"
    fig = plotting.feature_tiles(W, image_shape=(2, 3), n_max=4, path=p)
    _check(fig, p)
    canvas = fig.axes[0].get_images()[0].get_array()
    assert canvas.shape == (2 * 3 - 1, 2 * 4 - 1) and np.isfinite(canvas[3:5, 4:7]).all()
    with pytest.raises(ValueError, match="image_shape"):
        plotting.feature_tiles(np.ones((10, 3)))
    with pytest.raises(ValueError, match="pixels"):
        plotting.feature_tiles(np.ones((10, 3)), image_shape=(3, 3))


def test_reconstruction_grid_curves_heatmap_bars(tmp_path):
    a = np.random.default_rng(0).random((12, 64))
    for name, fig_fn in {
        "grid": lambda p: plotting.reconstruction_grid(a, a * 0.5, path=p),
        "curves": lambda p: plotting.learning_curves({"a": [3, 2, 1], "b": [2, 2, 1]}, path=p),
        "heat": lambda p: plotting.heatmap(a[:3, :4], row_labels="abc", col_labels="wxyz",
                                           annotate=True, path=p, xlabel="x", ylabel="y"),
        "bars": lambda p: plotting.bar_chart({"x": 1.0, "y": 2.5}, path=p, ylabel="v"),
    }.items():
        d = tmp_path / name
        d.mkdir()
        p = d / f"{name}.png"
        _check(fig_fn(p), p)


def test_plot_contents():
    a = np.random.default_rng(0).random((12, 64))
    grid = plotting.reconstruction_grid(a, a * 0.5, n=4)
    assert len(grid.axes) == 8
    curves = plotting.learning_curves({"a": [3, 2, 1], "b": [2, 1]}, logy=False)
    ax = curves.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["a", "b"]
    assert ax.get_yscale() == "linear" and ax.get_xlabel() == "epoch"
    heat = plotting.heatmap(a[:3, :4], row_labels="abc", col_labels="wxyz")
    assert [t.get_text() for t in heat.axes[0].get_xticklabels()] == list("wxyz")
    with pytest.raises(ValueError, match="labels"):
        plotting.heatmap(a[:3, :4], row_labels="ab", col_labels="wxyz")
    bars = plotting.bar_chart({"x": 1.0, "y": 2.5})
    assert [b.get_height() for b in bars.axes[0].patches] == [1.0, 2.5]
