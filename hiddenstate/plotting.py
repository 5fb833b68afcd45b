"""Figures as PNG: the seed's donut plot, feature tiles, reconstructions, curves, heatmaps,
ROC curves and per-pixel error explanations.

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
    "roc_curves",
    "error_explanation",
    "forecast_figure",
    "save",
]

_RING_COLOURS = ("tab:blue", "tab:orange")


def _figure(figsize):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def save(fig, path: str | os.PathLike | None, dpi: int = 110):
    """Write ``fig`` as a PNG to ``path`` atomically; a no-op when ``path`` is None.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str, os.PathLike or None
        Parent folders are created; a reader never sees a half-written file.
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig``, so that ``return save(fig, path)`` ends a plotting function.
    """
    if path is not None:
        with atomic_write(path, "wb") as handle:
            fig.savefig(handle, format="png", dpi=dpi)
    return fig


def _by_ring(ax, points, y, title):
    # Sorted labels: the smaller is the inner ring (0 in make_donut), whatever the encoding.
    labels = np.unique(y)
    names = ("inner", "outer") if len(labels) == 2 else tuple(str(v) for v in labels)
    for i, (label, name) in enumerate(zip(labels, names, strict=True)):
        sel = y == label
        ax.scatter(points[sel, 0], points[sel, 1], s=4, alpha=0.7, label=name,
                   c=_RING_COLOURS[i] if i < len(_RING_COLOURS) else f"C{i}")
    ax.set_title(title)
    if len(labels):
        ax.legend(loc="best", fontsize="small", markerscale=3)


def donut_figure(X, codes, reconstruction, loss_curve, y, *, path=None, title=None):
    """The seed 004 figure: data, 2-D code, reconstruction (coloured by ring) and the cost curve.

    A 2 x 2 grid, as the seed's ``plot_debug``: (a) the first two columns of the
    data, (b) the two hidden activations, (c) the first two columns of the
    reconstruction, each coloured by ring, and (d) the cost per epoch on a
    log scale.

    Parameters
    ----------
    X : (n, 4) array
        The (scaled) data.
    codes : (n, 2) array
        Hidden activations, ``sigmoid(X @ W + b_h)``.
    reconstruction : (n, 4) array
        The decoded data.
    loss_curve : (epochs,) array
        The cost after each epoch.
    y : (n,) int array
        The ring of each row: the smaller label (0) is the inner ring, the larger the outer.
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    X, codes, rec = (np.asarray(a) for a in (X, codes, reconstruction))
    y = np.asarray(y).reshape(-1)
    for name, a in (("X", X), ("codes", codes), ("reconstruction", rec)):
        if a.ndim != 2 or a.shape[0] != y.shape[0] or a.shape[1] < 2:
            raise ValueError(
                f"{name} must be (n, >=2) with n = len(y) = {y.shape[0]}; got shape {a.shape}"
            )
    fig = _figure((9, 8))
    axes = fig.subplots(2, 2)
    _by_ring(axes[0, 0], X, y, "data (x1, x2)")
    _by_ring(axes[0, 1], codes, y, "code (h1, h2)")
    _by_ring(axes[1, 0], rec, y, "reconstruction (x1, x2)")
    curve = np.asarray(loss_curve, float).reshape(-1)
    axes[1, 1].plot(np.arange(1, len(curve) + 1), curve, lw=1)
    axes[1, 1].set_yscale("log")
    axes[1, 1].set_xlabel("epoch")
    axes[1, 1].set_ylabel("cost (MSE)")
    axes[1, 1].set_title(f"cost, final {curve[-1]:.3g}" if len(curve) else "cost")
    if title:
        fig.suptitle(title)
    return save(fig, path)


def _tile_array(images: np.ndarray, gap: int = 1) -> np.ndarray:
    """``(n, h, w)`` images on one near-square canvas, ``gap`` NaN pixels between tiles."""
    n, h, w = images.shape
    cols = max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    grid = np.full((rows * cols, h + gap, w + gap), np.nan)
    grid[:n, :h, :w] = images
    canvas = grid.reshape(rows, cols, h + gap, w + gap).transpose(0, 2, 1, 3)
    canvas = canvas.reshape(rows * (h + gap), cols * (w + gap))
    return canvas[: canvas.shape[0] - gap, : canvas.shape[1] - gap]


def _image_shape(n_features: int, image_shape) -> tuple[int, int]:
    if image_shape is not None:
        h, w = (int(v) for v in image_shape)
        if h * w != n_features:
            raise ValueError(
                f"image_shape {tuple(image_shape)} has {h * w} pixels, but there are "
                f"{n_features} features"
            )
        return h, w
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(
            f"cannot show {n_features} features as a square image; pass image_shape"
        )
    return side, side


def feature_tiles(W, *, image_shape=None, n_max=None, path=None, title=None):
    """Each hidden unit's filter (column ``j`` of ``W``, i.e. row ``j`` of ``W^T``) as an image.

    Every tile is min-max scaled on its own (a constant filter is shown black),
    the tiles sit on a near-square grid with 1-pixel gaps, and the whole canvas
    is drawn by one ``imshow`` at an integer zoom, so each weight is a whole
    number of screen pixels and the gaps stay exactly one canvas pixel wide.

    Parameters
    ----------
    W : (n_features, n_hidden) array
        As stored (``x @ W``).
    image_shape : (h, w), optional
        With ``h * w == n_features``. Default: square, ``sqrt(n_features)`` on a side.
    n_max : int, optional
        Show only the first ``n_max`` filters.
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    W = np.asarray(W, float)
    if W.ndim != 2:
        raise ValueError(f"W must be (n_features, n_hidden); got shape {W.shape}")
    shape = _image_shape(W.shape[0], image_shape)
    if n_max is not None and n_max < 1:
        raise ValueError(f"n_max must be >= 1, got {n_max}")
    filters = W.T[:n_max]
    lo = filters.min(axis=1, keepdims=True, initial=np.inf)
    span = filters.max(axis=1, keepdims=True, initial=-np.inf) - lo
    filters = (filters - lo) / np.where(span > 0, span, 1.0)
    canvas = _tile_array(filters.reshape(-1, *shape))

    dpi = 100
    h_px, w_px = canvas.shape
    zoom = max(1, min(12, 1000 // max(h_px, w_px)))
    h_px, w_px = h_px * zoom, w_px * zoom
    # Whole-pixel margins, so the image lands on the pixel grid.
    fig_w = max(w_px, 420 if title else 0)
    top = 28 if title else 0
    fig_h = h_px + top
    from matplotlib.figure import Figure

    fig = Figure(figsize=(fig_w / dpi, fig_h / dpi), dpi=dpi)
    left = (fig_w - w_px) // 2
    ax = fig.add_axes((left / fig_w, 0, w_px / fig_w, h_px / fig_h))
    ax.imshow(canvas, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest", aspect="auto")
    ax.set_axis_off()
    if title:
        fig.suptitle(title, y=1 - 5 / fig_h, va="top", fontsize=10)
    return save(fig, path, dpi=dpi)


def reconstruction_grid(originals, reconstructions, *, image_shape=None, n=10, path=None,
                        title=None):
    """Originals (top row) above their reconstructions (bottom row).

    Both rows share one grey scale: ``[min(0, lo), max(1, hi)]`` over the shown
    originals, so a reconstruction that overshoots is clipped, not rescaled.

    Parameters
    ----------
    originals, reconstructions : (m, n_features) arrays
    image_shape : (h, w), optional
        Default: square.
    n : int
        Show the first ``n`` pairs.
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    a = np.asarray(originals, float)[:n]
    b = np.asarray(reconstructions, float)[:n]
    if a.ndim != 2 or a.shape != b.shape or len(a) == 0:
        raise ValueError(
            f"originals and reconstructions must be equal, non-empty (m, n_features) arrays; "
            f"got {a.shape} and {b.shape}"
        )
    shape = _image_shape(a.shape[1], image_shape)
    vmin, vmax = min(0.0, float(np.nanmin(a))), max(1.0, float(np.nanmax(a)))
    fig = _figure((max(1.2 * len(a), 3.0), 2.8))
    axes = fig.subplots(2, len(a), squeeze=False)
    for i in range(len(a)):
        for row, img in ((0, a[i]), (1, b[i])):
            axes[row, i].imshow(img.reshape(shape), cmap="gray", vmin=vmin, vmax=vmax,
                                interpolation="nearest")
            axes[row, i].set_axis_off()
    if title:
        fig.suptitle(title)
    return save(fig, path)


def learning_curves(curves: dict, *, path=None, title=None, logy=True, xlabel="epoch",
                    ylabel="loss"):
    """One line per named curve, against its 1-based index.

    Parameters
    ----------
    curves : dict of str to (steps,) array
        Legend label -> values; curves may have different lengths.
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional
        Axes title.
    logy : bool
        Log-scale y axis (non-positive values are not drawn).
    xlabel, ylabel : str
        Axis labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
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
    """A labelled heatmap, e.g. next-symbol probabilities along a string.

    Parameters
    ----------
    matrix : (rows, cols) array
    row_labels : sequence of str, length rows
    col_labels : sequence of str, length cols
        A string counts as a sequence of one-character labels.
    path : str or os.PathLike, optional
        Where to write the PNG.
    title, xlabel, ylabel : str, optional
    cmap : str
        A matplotlib colormap name.
    annotate : bool
        Write each value (2 decimals) in its cell.
    vmin, vmax : float, optional
        Colour scale limits (default: the data's).

    Returns
    -------
    matplotlib.figure.Figure
    """
    m = np.asarray(matrix, float)
    if m.ndim != 2:
        raise ValueError(f"matrix must be 2-D; got shape {m.shape}")
    row_labels, col_labels = list(row_labels), list(col_labels)
    if (len(row_labels), len(col_labels)) != m.shape:
        raise ValueError(
            f"{len(row_labels)} row and {len(col_labels)} column labels for a {m.shape} matrix"
        )
    fig = _figure((max(4, 0.5 * m.shape[1] + 2), max(3, 0.45 * m.shape[0] + 1.5)))
    ax = fig.add_subplot()
    im = ax.imshow(m, cmap=cmap, aspect="auto", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(m.shape[1]), labels=col_labels)
    ax.set_yticks(range(m.shape[0]), labels=row_labels)
    if annotate and np.isfinite(m).any():
        # White text on the dark half of the colour scale.
        lo, hi = im.get_clim()
        for (i, j), v in np.ndenumerate(m):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if v < (lo + hi) / 2 else "black")
    if xlabel:
        ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    fig.colorbar(im, ax=ax)
    if title:
        ax.set_title(title)
    return save(fig, path)


def bar_chart(values: dict, *, path=None, title=None, ylabel=None, logy=False):
    """One bar per named value, in the dict's order.

    Parameters
    ----------
    values : dict of str to float
    path : str or os.PathLike, optional
        Where to write the PNG.
    title, ylabel : str, optional
    logy : bool
        Log-scale y axis.

    Returns
    -------
    matplotlib.figure.Figure
    """
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


def roc_curves(panels: dict, *, path=None, title=None, ncols=None):
    """ROC curves, one axes per panel, one line per detector, and the chance diagonal.

    Parameters
    ----------
    panels : dict of str to dict of str to (fpr, tpr)
        Panel title -> {legend label -> (false-positive rates, true-positive rates)},
        each pair of equal-length 1-D arrays in [0, 1] (e.g. from
        ``sklearn.metrics.roc_curve``); put the AUC in the label if it should be shown.
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional
        Figure title.
    ncols : int, optional
        Panels per row (default: all in one row, at most 3).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not panels:
        raise ValueError("roc_curves needs at least one panel")
    for name, curves in panels.items():
        for label, (fpr, tpr) in curves.items():
            fpr, tpr = np.asarray(fpr, float), np.asarray(tpr, float)
            if fpr.ndim != 1 or fpr.shape != tpr.shape or fpr.size == 0:
                raise ValueError(f"panel {name!r}, curve {label!r}: fpr and tpr must be equal, "
                                 f"non-empty 1-D arrays; got {fpr.shape} and {tpr.shape}")
    n = len(panels)
    ncols = max(1, min(int(ncols or min(n, 3)), n))
    nrows = math.ceil(n / ncols)
    fig = _figure((4.2 * ncols, 4.0 * nrows))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax, (name, curves) in zip(axes, panels.items(), strict=False):
        ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls=":")
        for label, (fpr, tpr) in curves.items():
            ax.plot(np.asarray(fpr, float), np.asarray(tpr, float), lw=1.3, label=label)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
        ax.set_xlabel("false-positive rate")
        ax.set_ylabel("true-positive rate")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
        if curves:
            ax.legend(fontsize=7, loc="lower right")
    for ax in axes[n:]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return save(fig, path)


def error_explanation(image, reconstruction, errors, *, image_shape=None, path=None,
                      title=None, captions=None, marks=None):
    """One input beside its reconstruction and the per-feature error as a heat map.

    Parameters
    ----------
    image, reconstruction, errors : (n_features,) arrays
        The input, the model's reconstruction of it, and each feature's error term
        (e.g. ``AnomalyDetector.explain(x).per_item[0]``).
    image_shape : (h, w), optional
        Default: square.
    path : str or os.PathLike, optional
        Where to write the PNG.
    title : str, optional
        Figure title.
    captions : sequence of 3 str, optional
        Titles of the three panels.
    marks : sequence of int, optional
        Feature indices to circle on the error map (e.g. the top features of ``explain``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    a, b, e = (np.asarray(v, float).reshape(-1) for v in (image, reconstruction, errors))
    if not a.size or a.shape != b.shape or a.shape != e.shape:
        raise ValueError(f"image, reconstruction and errors must be equal, non-empty vectors; "
                         f"got {a.shape}, {b.shape} and {e.shape}")
    shape = _image_shape(a.size, image_shape)
    captions = list(captions or ("input", "reconstruction", "error per feature"))
    if len(captions) != 3:
        raise ValueError(f"captions must be 3 strings, got {len(captions)}")
    vmin, vmax = min(0.0, float(a.min())), max(1.0, float(a.max()))
    fig = _figure((9.6, 3.6))
    axes = fig.subplots(1, 3)
    for ax, img, cap in ((axes[0], a, captions[0]), (axes[1], b, captions[1])):
        ax.imshow(img.reshape(shape), cmap="gray", vmin=vmin, vmax=vmax,
                  interpolation="nearest")
        ax.set_title(cap, fontsize=10)
        ax.set_axis_off()
    im = axes[2].imshow(e.reshape(shape), cmap="inferno", interpolation="nearest")
    axes[2].set_title(captions[2], fontsize=10)
    axes[2].set_axis_off()
    if marks is not None:
        rows, cols = np.divmod(np.asarray(list(marks), int), shape[1])
        axes[2].scatter(cols, rows, s=60, facecolors="none", edgecolors="cyan", linewidths=1.2)
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    if title:
        fig.suptitle(title)
    return save(fig, path)


_FORECAST_COLOURS = {"hiddenstate": "tab:blue", "naive": "tab:orange",
                     "seasonal_naive": "tab:green", "ar": "tab:red"}


def _time_axis(times, n: int) -> tuple[np.ndarray, str]:
    """The x positions of ``n`` steps and the axis label: the series' own times where they
    are dates or evenly spaced numbers (years), else the step numbers."""
    if times is not None and len(times) == n and n > 1:
        x = np.asarray(times)
        if x.dtype.kind == "M":
            return x, "time"
        if x.dtype.kind in "iuf" and np.all(np.diff(x) == x[1] - x[0]) and x[1] > x[0]:
            return x, "time"
    return np.arange(n), "step"


def forecast_figure(series, forecasts: dict, *, horizons=None, path=None, title=None,
                    times=None):
    """Rolling-origin forecasts against the series, one panel per horizon.

    Parameters
    ----------
    series : (T,) or (T, d) array
        The series (its first channel is drawn).
    forecasts : dict
        As :func:`hiddenstate.forecasting.backtest` returns with
        ``return_forecasts=True``: ``origins`` ``(n,)``, one ``(n, H, d)`` array per
        method, and hiddenstate's ``lower`` and ``upper`` (drawn as a band).
    horizons : sequence of int, optional
        The horizons drawn (1-based; default: 1 and H).
    path, title : as the other figures.
    times : (T,) array, optional
        The series' times (a file's first column): the x axis when they are dates or
        evenly spaced numbers such as years; otherwise the steps are drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    y = np.asarray(series, float)
    y = y[:, 0] if y.ndim == 2 else y
    origins = np.asarray(forecasts["origins"])
    # hiddenstate drawn last, over the baselines
    methods = sorted((m for m in forecasts if m not in ("origins", "lower", "upper")),
                     key=lambda m: m == "hiddenstate")
    H = forecasts[methods[0]].shape[1]
    horizons = sorted({1, H}) if horizons is None else list(horizons)
    fig = _figure((8, 2.8 * len(horizons)))
    start = max(0, int(origins[0]) - 2 * len(origins))
    x, xlabel = _time_axis(times, len(y))
    first = int(origins[0])  # the line between the last step seen and the first forecast
    cut = x[first] if first == 0 else x[first - 1] + (x[first] - x[first - 1]) / 2
    for row, k in enumerate(horizons, 1):
        ax = fig.add_subplot(len(horizons), 1, row)
        ax.plot(x[start:], y[start:], color="black", lw=1.2, label="series")
        ok = origins + k - 1 < len(y)
        t = x[origins[ok] + k - 1]
        if "lower" in forecasts:
            ax.fill_between(t, forecasts["lower"][ok, k - 1, 0], forecasts["upper"][ok, k - 1, 0],
                            color="tab:blue", alpha=0.2, label="hiddenstate interval")
        for m in methods:
            ax.plot(t, forecasts[m][ok, k - 1, 0], lw=1.8 if m == "hiddenstate" else 0.9,
                    color=_FORECAST_COLOURS.get(m),
                    label=m.replace("_", " "))
        ax.axvline(cut, color="grey", lw=0.8, ls=":")
        ax.set_ylabel(f"{k} step{'s' if k > 1 else ''} ahead")
        ax.grid(alpha=0.3)
        if row == 1:
            ax.legend(fontsize="small", ncols=3)
            if title:
                ax.set_title(title)
    ax.set_xlabel(xlabel)
    return save(fig, path)
