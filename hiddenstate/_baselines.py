"""The forecasting baselines, NumPy only: what :mod:`hiddenstate.forecasting` publishes and
what a :class:`~hiddenstate.SequenceModel` forecaster starts its linear path from (kept
below both, so neither imports the other).

- :func:`naive`: the last value, repeated;
- :func:`seasonal_naive`: the value one period before (:func:`detect_period`);
- :func:`fit_ar` / :func:`ar_forecast`: an autoregression with a constant, fitted by
  least squares, its order chosen by AIC (as statsmodels' ``ar_select_order(...,
  ic="aic")`` then ``AutoReg``), forecast recursively;
- :func:`significantly_better`: whether one forecaster's rolling-origin errors beat
  another's by more than chance (a Diebold-Mariano test).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._errors import InputError

__all__ = ["ARModel", "ar_forecast", "default_max_order", "detect_period", "fit_ar", "naive",
           "seasonal_naive", "significantly_better"]


def _as_2d(series, name: str = "series") -> np.ndarray:
    a = np.asarray(series, np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise InputError(f"{name} must be a (T,) or (T, n_features) array, got shape "
                         f"{np.shape(series)}")
    if not np.isfinite(a).all():
        row = int(np.flatnonzero(~np.isfinite(a).all(axis=1))[0])
        raise InputError(f"{name} holds a missing or non-finite value at step {row}; fill it "
                         "first (missing='interpolate')")
    return a


def _check_horizon(horizon) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    return int(horizon)


def naive(history, horizon: int) -> np.ndarray:
    """The last value of ``history`` repeated: ``(horizon, d)``."""
    a = _as_2d(history, "history")
    return np.repeat(a[-1:], _check_horizon(horizon), axis=0)


def seasonal_naive(history, horizon: int, period: int) -> np.ndarray:
    r""":math:`\hat y_{T+k} = y_{T+k-p\lceil k/p \rceil}`: the value one (or more) periods
    before, ``(horizon, d)``. ``period`` 1 is :func:`naive`."""
    a = _as_2d(history, "history")
    horizon = _check_horizon(horizon)
    if isinstance(period, bool) or not isinstance(period, int | np.integer) or period < 1:
        raise ValueError(f"period must be a positive integer, got {period!r}")
    if period > len(a):
        raise InputError(f"period {period} is longer than the history ({len(a)} steps)")
    k = np.arange(horizon)
    return a[len(a) - period + k % period]


def detect_period(series, *, max_period: int | None = None,
                  threshold: float = 0.2) -> int | None:
    """The seasonal period of ``series``: the lag of the highest local peak of the sample
    autocorrelation of its first channel, less its least-squares line, between 2 and
    ``max_period`` (default ``len // 3``), if that peak exceeds ``threshold``; None
    otherwise.

    Removing the line keeps a trend from hiding the season; first differences would
    also remove it but blur the peaks (weekly CO2: 52 detrended, 156 differenced; yearly
    sunspots 1700-1978: 10; the Nile flow: none, its highest peak is 0.13).
    """
    a = _as_2d(series)[:, 0]
    t = np.arange(len(a), dtype=np.float64)
    d = a - np.polyval(np.polyfit(t, a, 1), t) if len(a) > 2 else a
    n = len(d)
    top = n // 3 if max_period is None else min(int(max_period), n - 1)
    if top < 3:
        return None
    d = d - d.mean()
    var = float(d @ d)
    if var <= 0:
        return None
    acf = np.array([float(d[: n - k] @ d[k:]) / var for k in range(top + 2)])
    peaks = [k for k in range(2, top + 1) if acf[k] >= acf[k - 1] and acf[k] >= acf[k + 1]]
    if not peaks:
        return None
    best = max(peaks, key=lambda k: acf[k])
    return int(best) if acf[best] > threshold else None


@dataclass(frozen=True)
class ARModel:
    """A fitted autoregression :math:`y_t = c + \\sum_{i=1}^p A_i y_{t-i} + e_t`
    (each channel on its own lags: ``coef`` ``(p, d)``, ``const`` ``(d,)``), the
    residual variance ``sigma2`` ``(d,)`` and the AIC of each order tried."""

    order: int
    const: np.ndarray
    coef: np.ndarray
    sigma2: np.ndarray
    aic: dict


def _lagged(y: np.ndarray, p: int, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Design ``[1, y_{t-1}, ..., y_{t-p}]`` and targets ``y_t`` for ``t >= start``."""
    rows = np.arange(start, len(y))
    design = np.column_stack([np.ones(len(rows))] + [y[rows - i] for i in range(1, p + 1)])
    return design, y[rows]


def default_max_order(n: int, period: int | None = None) -> int:
    """The largest order :func:`fit_ar` tries: Schwert's rule :math:`12 (n/100)^{1/4}`,
    or one more than the seasonal period when that is larger, at most ``n // 4``."""
    schwert = int(math.ceil(12 * (n / 100) ** 0.25))
    return max(1, min(n // 4, max(schwert, (period or 0) + 1)))


def fit_ar(series, *, max_order: int | None = None, period: int | None = None,
           order: int | None = None) -> ARModel:
    """Least-squares autoregression with a constant, each channel on its own, the order
    (``0..max_order``, default :func:`default_max_order`) minimising the AIC
    :math:`n \\log \\hat\\sigma^2 + 2(p + 1)` over the common sample ``t >= max_order``
    (as statsmodels' ``ar_select_order``), then refitted on every ``t >= p`` (as
    ``AutoReg(y, p)``). The first channel's AIC chooses one order for all; ``order``
    fixes it instead."""
    a = _as_2d(series)
    top = default_max_order(len(a), period) if max_order is None else int(max_order)
    if top < 0 or len(a) - top < top + 3:
        raise InputError(f"{len(a)} steps are too few for an autoregression of order up to "
                         f"{top}")
    y = a[:, 0]
    aic = {}
    for p in range(top + 1) if order is None else ():
        design, target = _lagged(y, p, top)
        beta = np.linalg.lstsq(design, target, rcond=None)[0]
        resid = target - design @ beta
        aic[p] = len(target) * math.log(max(float(resid @ resid) / len(target), 1e-300)) \
            + 2 * (p + 1)
    order = min(aic, key=aic.get) if order is None else int(order)
    const, coef, sigma2 = [], [], []
    for j in range(a.shape[1]):
        design, target = _lagged(a[:, j], order, order)
        beta = np.linalg.lstsq(design, target, rcond=None)[0]
        resid = target - design @ beta
        const.append(beta[0])
        coef.append(beta[1:])
        sigma2.append(float(resid @ resid) / len(target))
    return ARModel(order, np.array(const), np.array(coef).T.reshape(order, a.shape[1]),
                   np.array(sigma2), aic)


def ar_forecast(model: ARModel, history, horizon: int) -> np.ndarray:
    """Recursive forecasts ``(horizon, d)`` of a fitted :class:`ARModel` from the end of
    ``history`` (at least ``model.order`` steps)."""
    a = _as_2d(history, "history")
    horizon = _check_horizon(horizon)
    p = model.order
    if len(a) < p:
        raise InputError(f"the history has {len(a)} steps, the autoregression needs {p}")
    buf = list(a[len(a) - p:]) if p else []
    out = []
    for _ in range(horizon):
        value = model.const + sum(model.coef[i] * buf[-1 - i] for i in range(p))
        out.append(np.asarray(value, np.float64))
        buf.append(out[-1])
    return np.array(out)


def significantly_better(errors, reference, horizon: int, level: float = 0.05) -> bool:
    r"""Whether forecasts with ``errors`` beat those with ``reference`` errors (both
    ``(n_origins, horizon, n_features)``, the same origins, NaN where unknown) by more
    than chance: a one-sided Diebold-Mariano test (Diebold and Mariano 1995, with the
    small-sample correction of Harvey, Leybourne and Newbold 1997) at ``level`` on the
    per-origin loss differences :math:`d_o = \mathrm{mean}_{k,j}\,(e_{okj}^2 -
    r_{okj}^2) / \mathrm{MSE}_{kj}(r)` (each horizon weighted as the mean RMSE over the
    horizons weighs it), their variance by Newey and West's estimator with ``horizon``
    lags (consecutive origins share ``horizon - 1`` targets)."""
    from scipy.stats import t as student

    e = np.square(np.asarray(errors, np.float64))
    r = np.square(np.asarray(reference, np.float64))
    scale = np.maximum(np.nanmean(r, axis=0), 1e-30)
    ratio = (e - r) / scale
    known = np.isfinite(ratio).sum(axis=(1, 2))  # none: every target past the end
    d = np.nansum(ratio, axis=(1, 2))[known > 0] / known[known > 0]
    n = len(d)
    if n < 3 or not d.mean() < 0:
        return False
    dc = d - d.mean()
    lags = min(int(horizon), n - 1)
    var = float(dc @ dc) / n + 2 * sum((1 - k / (lags + 1)) * float(dc[k:] @ dc[:-k]) / n
                                       for k in range(1, lags + 1))
    if var <= 0:
        return True  # every origin better by the same amount
    h = int(horizon)
    correction = math.sqrt(max(n + 1 - 2 * h + h * (h - 1) / n, 1) / n)
    stat = correction * d.mean() / math.sqrt(var / n)
    return bool(stat < student.ppf(level, n - 1))
