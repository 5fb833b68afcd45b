"""Forecasting a noisy multi-sine: a SequenceModel against a ridge autoregression.

Not a seed experiment: the seeds never forecast past their data. It measures what
:meth:`SequenceModel.forecast` and the stateful one-step predictions give on a
series whose best possible one-step error is known (the noise's standard deviation),
against the baseline any practitioner would try first, a ridge autoregression on the
last ``ar_order`` values (scikit-learn's RidgeCV, its penalty chosen by leave-one-out),
iterated for several steps ahead.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .. import plotting
from ..estimators import SequenceModel
from ..report import ExperimentResult, ResultRow
from ._common import Timer, figure_path, quiet, timed

NAME = "forecast"
TITLE = "Forecasting a noisy multi-sine: LSTM against a ridge autoregression"


@dataclasses.dataclass(frozen=True)
class Config:
    """The series (periods and amplitudes of its sines, Gaussian noise), the split, the
    model and the baseline; ``horizon``: steps ahead of the multi-step forecasts, made
    from every ``origin_every``-th point of the test part."""

    periods: tuple[float, ...] = (20.0, 7.0, 53.0)
    amplitudes: tuple[float, ...] = (1.0, 0.5, 0.3)
    noise: float = 0.1
    n_train: int = 2000
    n_test: int = 1000
    window: int = 50
    stride: int = 2
    cell: str = "lstm"
    hidden_size: int = 32
    batch_size: int = 32
    epochs: int = 60
    ar_order: int = 30
    horizon: int = 20
    origin_every: int = 1
    check_targets: bool = True
    random_state: int = 0

    @classmethod
    def quick(cls) -> Config:
        """``reproduce --quick``: the full run (about 10 s)."""
        return cls()


def make_series(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, clean)`` series of ``n_train + n_test`` steps."""
    rng = np.random.default_rng(config.random_state)
    t = np.arange(config.n_train + config.n_test)
    clean = sum(a * np.sin(2 * np.pi * t / p)
                for p, a in zip(config.periods, config.amplitudes, strict=True))
    return (clean + config.noise * rng.standard_normal(t.size)).astype(np.float32), clean


def _lagged(series: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``p`` consecutive values and the value after each."""
    return np.stack([series[i : len(series) - p + i] for i in range(p)], 1), series[p:]


def ar_baseline(train: np.ndarray, p: int):
    """A ridge autoregression of order ``p`` fitted on ``train``."""
    from sklearn.linear_model import RidgeCV

    A, b = _lagged(train, p)
    return RidgeCV(alphas=np.logspace(-4, 3, 15)).fit(A, b)


def ar_forecast(ar, histories: np.ndarray, steps: int) -> np.ndarray:
    """Iterated forecasts ``(n, steps)`` from each row of ``histories`` (the last ``p``
    values), each prediction appended as the newest value."""
    window = np.array(histories, np.float64)
    out = np.empty((len(window), steps))
    for k in range(steps):
        out[:, k] = ar.predict(window)
        window = np.concatenate([window[:, 1:], out[:, k : k + 1]], 1)
    return out


def estimator(config: Config) -> SequenceModel:
    """The model: ``cell`` with ``hidden_size`` units, linear output, minibatches of
    windows, Adam with the default cosine decay over ``epochs``."""
    return SequenceModel(config.cell, output="linear", hidden_size=config.hidden_size,
                         batch_size=config.batch_size, max_iter=config.epochs,
                         random_state=config.random_state)


def _rmse(err) -> float:
    return float(np.sqrt(np.mean(np.square(err))))


def run(config: Config, out_dir: Path) -> ExperimentResult:
    series, clean = make_series(config)
    train, test = series[: config.n_train], series[config.n_train :]
    W, H, p = config.window, config.horizon, config.ar_order
    rows, figures = [], {}
    with Timer() as total:
        windows = [train[i : i + W + 1, None] for i in range(0, len(train) - W, config.stride)]
        model = estimator(config)
        with quiet():
            _, seconds = timed(model.fit, [w[:-1] for w in windows], [w[1:] for w in windows])
        ar, ar_seconds = timed(ar_baseline, train, p)

        # One step ahead over the whole test part: the model reads the series on from
        # the last `window` training values, carrying its state; the AR sees its lags.
        context = np.concatenate([train[-W:], test])
        one_step = model.predict_proba([context[:, None]])[0][W - 1 : -1, 0]
        rnn_1 = _rmse(one_step - test)
        A, _ = _lagged(np.concatenate([train[-p:], test]), p)
        ar_1 = _rmse(ar.predict(A) - test)
        floor = _rmse(series - clean)  # the noise actually drawn: no forecast does better
        rows.append(ResultRow(
            NAME, "one-step RMSE", None, rnn_1, seconds,
            f"{config.cell} {config.hidden_size} units, {config.epochs} epochs on windows of "
            f"{W}", passed=rnn_1 <= 1.1 * ar_1 if config.check_targets else None,
            target=f"<= 1.1 x ridge AR ({1.1 * ar_1:.4f})" if config.check_targets else ""))
        rows.append(ResultRow(NAME, "one-step RMSE", None, ar_1, ar_seconds,
                              f"ridge AR({p}), alpha {ar.alpha_:.3g} (baseline)"))
        rows.append(ResultRow(NAME, "one-step RMSE", None, floor, 0.0,
                              f"noise floor (noise sd {config.noise})"))

        # Several steps ahead from many origins in the test part.
        origins = np.arange(max(W, p), len(context) - H + 1, config.origin_every)
        truth = np.stack([context[o : o + H] for o in origins])
        fc = np.stack(model.forecast([context[o - W : o, None] for o in origins], H))[..., 0]
        ar_fc = ar_forecast(ar, np.stack([context[o - p : o] for o in origins]), H)
        by_h = {f"{config.cell}": np.sqrt(np.mean((fc - truth) ** 2, 0)),
                f"ridge AR({p})": np.sqrt(np.mean((ar_fc - truth) ** 2, 0)),
                "noise floor": np.full(H, floor)}
        for label, curve in list(by_h.items())[:2]:
            rows.append(ResultRow(NAME, f"RMSE {H} steps ahead", None, float(curve[-1]), 0.0,
                                  f"{label}, {len(origins)} origins"))
        path = figure_path(out_dir, "forecast_rmse_by_horizon.png")
        plotting.learning_curves(by_h, path=path, logy=False, xlabel="steps ahead", ylabel="RMSE",
                                 title="Forecast error by horizon (test part)")
        figures[f"RMSE by steps ahead, {len(origins)} forecast origins"] = str(path)
        o = int(origins[len(origins) // 2])
        show = {"series (noisy)": context[o - W : o + H],
                "clean signal": clean[config.n_train - W + o - W : config.n_train - W + o + H],
                f"{config.cell} forecast": np.r_[np.full(W, np.nan), fc[len(origins) // 2]],
                f"ridge AR({p}) forecast": np.r_[np.full(W, np.nan),
                                                 ar_fc[len(origins) // 2]]}
        path = figure_path(out_dir, "forecast_example.png")
        plotting.learning_curves(show, path=path, logy=False, xlabel="time step",
                                 ylabel="value",
                                 title=f"{H} steps forecast after {W} steps of context")
        figures["One forecast from the middle of the test part"] = str(path)
    return ExperimentResult(
        NAME, rows, figures, dataclasses.asdict(config), total.seconds,
        notes=f"Series: {' + '.join(f'{a} sin(2 pi t / {q:g})' for q, a in zip(config.periods, config.amplitudes, strict=True))} "  # noqa: E501
              f"+ N(0, {config.noise}^2) noise; the first {config.n_train} steps train, the "
              f"next {config.n_test} test. One step ahead the model reads the test part on "
              f"from the end of training, carrying its state (SequenceModel.predict_proba); "
              f"several steps ahead it reads {W} steps and feeds each prediction back "
              f"(SequenceModel.forecast), the AR appends its own predictions to its lags.")
