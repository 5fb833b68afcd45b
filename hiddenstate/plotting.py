"""Figures as PNG: the seed's donut plot, feature tiles, reconstructions, curves, heatmaps.

Every function takes numpy arrays, returns a :class:`matplotlib.figure.Figure`
built without pyplot (so no global state and no display is needed), and, when
``path`` is given, writes a PNG atomically.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ._io import atomic_write

__all__ = [
    "donut_figure",
    "feature_tiles",
    "reconstruction_grid",
    "learning_curves",
    "heatmap",
    "bar_chart",
    "save",
]

_RING_COLOURS = ("tab:blue", "tab:orange")


def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def save(fig, path: str | os.PathLike | None, dpi: int = 110):
    """Write ``fig`` as PNG to ``path`` atomically (no-op without a path); returns ``fig``."""
    if path is not None:
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, format="png", dpi=dpi)
    return fig


def _by_ring(ax, points, y, title):
    y = np.asarray(y)
    for label, name in ((0, "inner"), (1, "outer")):
        sel = y == label
        ax.scatter(points[sel, 0], points[sel, 1], s=4, alpha=0.7, c=_RING_COLOURS[label],
                   label=name)
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small", markerscale=3)


def donut_figure(X, codes, reconstruction, loss_curve, y, *, path=None, title=None):
    """The seed 004 figure: data, 2-D code, reconstruction (coloured by ring) and the cost curve.

    Parameters
    ----------
    X : (n, 4) array
    codes : (n, 2) array
        Hidden activations.
    reconstruction : (n, 4) array
    loss_curve : (epochs,) array
    y : (n,) int array
        0 for the inner ring, 1 for the outer.
    """
    X, codes, rec = (np.asarray(a) for a in (X, codes, reconstruction))
    fig = _figure((9, 8))
    axes = fig.subplots(2, 2)
    _by_ring(axes[0, 0], X, y, "data (x1, x2)")
    _by_ring(axes[0, 1], codes, y, "code (h1, h2)")
    _by_ring(axes[1, 0], rec, y, "reconstruction (x1, x2)")
    curve = np.asarray(loss_curve, float)
    axes[1, 1].plot(np.arange(1, len(curve) + 1), curve, lw=1)
    axes[1, 1].set_yscale("log")
    axes[1, 1].set_xlabel("epoch")
    axes[1, 1].set_ylabel("cost (MSE)")
    axes[1, 1].set_title(f"cost, final {curve[-1]:.3g}" if len(curve) else "cost")
    if title:
        fig.suptitle(title)
    return save(fig, path)


def _tile_array(images: np.ndarray, image_shape, gap: int = 1, cols: int | None = None):
    n = images.shape[0]
    h, w = image_shape
    cols = cols or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    canvas = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[i]
    return canvas


def _square(n_features: int, image_shape):
    if image_shape is not None:
        return tuple(image_shape)
    side = int(math.isqrt(n_features))
    if side * side != n_features:
        raise ValueError(
            f"cannot show {n_features} features as a square image; pass image_shape"
        )
    return side, side


def feature_tiles(W, *, image_shape=None, n_max=None, path=None, title=None):
    """Each hidden unit's filter (column ``j`` of ``W``, i.e. row ``j`` of ``W^T``) as an image.

    Parameters
    ----------
    W : (n_features, n_hidden) array
        As stored (``x @ W``).
    image_shape : (h, w) or None
        Default: the square root of ``n_features``.
    n_max : int or None
        Show at most this many filters.
    """
    W = np.asarray(W, float)
    shape = _square(W.shape[0], image_shape)
    filters = W.T[: n_max or W.shape[1]]
    lo = filters.min(axis=1, keepdims=True)
    span = np.ptp(filters, axis=1, keepdims=True)
    filters = (filters - lo) / np.where(span > 0, span, 1.0)
    canvas = _tile_array(filters.reshape(-1, *shape), shape)
    aspect = canvas.shape[1] / canvas.shape[0]
    fig = _figure((min(12, 7 * aspect), 7))
    ax = fig.add_subplot()
    ax.imshow(canvas, cmap="gray", interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return save(fig, path)


def reconstruction_grid(originals, reconstructions, *, image_shape=None, n=10, path=None,
                        title=None):
    """Originals (top row) above their reconstructions (bottom row)."""
    a = np.asarray(originals, float)[:n]
    b = np.asarray(reconstructions, float)[:n]
    shape = _square(a.shape[1], image_shape)
    fig = _figure((1.2 * len(a), 2.8))
    axes = fig.subplots(2, len(a), squeeze=False)
    for i in range(len(a)):
        for row, img in ((0, a[i]), (1, b[i])):
            axes[row, i].imshow(img.reshape(shape), cmap="gray", vmin=0, vmax=max(1.0, a.max()))
            axes[row, i].set_axis_off()
    if title:
        fig.suptitle(title)
    return save(fig, path)


def learning_curves(curves: dict, *, path=None, title=None, logy=True, xlabel="epoch",
                    ylabel="loss"):
    """One line per named curve."""
    fig = _figure((7, 4.5))
    ax = fig.add_subplot()
    for name, curve in curves.items():
        curve = np.asarray(curve, float)
        ax.plot(np.arange(1, len(curve) + 1), curve, lw=1.2, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return save(fig, path)


def heatmap(matrix, *, row_labels, col_labels, path=None, title=None, xlabel=None, ylabel=None,
            cmap="viridis", annotate=False, vmin=None, vmax=None):
    """A labelled heatmap (e.g. next-symbol probabilities along a string)."""
    m = np.asarray(matrix, float)
    fig = _figure((max(4, 0.5 * m.shape[1] + 2), max(3, 0.45 * m.shape[0] + 1.5)))
    ax = fig.add_subplot()
    im = ax.imshow(m, cmap=cmap, aspect="auto", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(m.shape[1]), labels=list(col_labels))
    ax.set_yticks(range(m.shape[0]), labels=list(row_labels))
    if annotate:
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if v < (np.nanmax(m) + np.nanmin(m)) / 2 else "black")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    fig.colorbar(im, ax=ax)
    if title:
        ax.set_title(title)
    return save(fig, path)


def bar_chart(values: dict, *, path=None, title=None, ylabel=None, logy=False):
    """One bar per named value."""
    fig = _figure((max(5, 0.6 * len(values) + 2), 4))
    ax = fig.add_subplot()
    names = list(values)
    ax.bar(range(len(names)), [float(values[k]) for k in names])
    ax.set_xticks(range(len(names)), labels=names, rotation=30, ha="right")
    if logy:
        ax.set_yscale("log")
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return save(fig, path)
