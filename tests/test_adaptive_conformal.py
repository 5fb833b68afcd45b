"""Adaptive conformal inference (hiddenstate.forecasting.AdaptiveConformal) and the adaptive
intervals of ``backtest`` / ``rnn backtest --adapt``. The forecaster is a stand-in (zeros,
standard normal calibration errors), so these run in NumPy time."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hiddenstate import forecasting as fc
from hiddenstate.cli import main


class Zeros:
    """Forecasts 0 at every horizon; its calibration errors are standard normal, so its
    90% split conformal half-width is about 1.645 (a series of unit noise is covered 90%)."""

    forecaster_ = "zeros"

    def __init__(self, horizon: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.calibration_residuals_ = rng.standard_normal((2000, horizon, 1))

    def forecast(self, histories, horizon, interval=None):
        points = [np.zeros((horizon, 1)) for _ in histories]
        if interval is None:
            return points
        q = np.array([[fc.conformal_quantile(np.abs(self.calibration_residuals_[:, k, 0]),
                                              interval)] for k in range(horizon)])
        return points, [p - q for p in points], [p + q for p in points]


@pytest.fixture
def zeros(monkeypatch):
    monkeypatch.setattr(fc, "_fit_forecaster", lambda hist, settings: Zeros(settings["horizon"]))


def noise(sd_test: float, n_train: int = 200, n_test: int = 1200, seed: int = 1) -> np.ndarray:
    """Unit white noise whose scale becomes ``sd_test`` halfway through the last ``n_test``."""
    rng = np.random.default_rng(seed)
    sd = np.ones(n_train + n_test)
    sd[n_train + n_test // 2 :] = sd_test
    return sd * rng.standard_normal(n_train + n_test)


def test_conformal_quantile_by_hand():
    scores = [3.0, 1.0, 2.0, np.nan]  # n = 3 finite
    assert fc.conformal_quantile(scores, 0.5) == 2.0  # rank ceil(4 * 0.5) = 2
    assert fc.conformal_quantile(scores, 0.75) == 3.0  # rank 3
    assert fc.conformal_quantile(scores, 0.8) == math.inf  # rank 4 > n
    assert fc.conformal_quantile(scores, 0.0) == 0.0 and fc.conformal_quantile(scores, -0.2) == 0


def test_adaptive_conformal_update_by_hand():
    aci = fc.AdaptiveConformal(0.8, step=0.5)
    assert aci.level == 0.8 and aci.n_updates == 0
    aci.update([True])  # no miss: 0.8 + 0.5 * (0 - 0.2)
    assert np.isclose(aci.level, 0.7)
    aci.update([])  # nothing revealed: no move
    assert np.isclose(aci.level, 0.7) and aci.n_updates == 1
    aci.update([[False], [True]])  # half missed: 0.7 + 0.5 * (0.5 - 0.2)
    assert np.isclose(aci.level, 0.85) and aci.n_updates == 2
    scores = np.column_stack([np.arange(1.0, 10), 10 * np.arange(1.0, 10)])  # (9, 2)
    assert np.allclose(aci.half_widths(scores), [9, 90])  # rank ceil(10 * 0.85) = 9
    aci.level = 0.7
    assert np.allclose(aci.half_widths(scores[:, :, None]), [[7], [70]])
    for bad in ({"interval": 1.0}, {"interval": True}, {"step": -0.1}, {"step": math.inf}):
        with pytest.raises(ValueError, match="interval must be|step must be"):
            fc.AdaptiveConformal(**{"interval": 0.9, "step": 0.1, **bad})
    with pytest.raises(ValueError, match="step must be a finite number at least 0"):
        fc.backtest(noise(1.0, 50, 10), 2, 10, adapt=-0.1)  # refused before any fit


@pytest.mark.parametrize("sd_test", [3.0, 0.3])
def test_adaptive_intervals_hold_coverage_through_a_shift(zeros, sd_test):
    """The noise's scale triples (or falls to 0.3) halfway through the test window: the
    split conformal intervals under-cover (about 0.66) or over-cover (about 0.95), the
    adaptive ones stay within 2 points of 0.9."""
    result = fc.backtest(noise(sd_test), 3, 1200, period=1, random_state=0)
    hs = result["methods"]["hiddenstate"]
    assert hs["adapt"] == fc.ADAPT_STEP
    assert abs(hs["coverage"] - 0.9) < 0.02
    assert abs(hs["static_coverage"] - 0.9) > 0.04
    assert hs["static_coverage"] < 0.75 if sd_test > 1 else hs["static_coverage"] > 0.94
    static = fc.backtest(noise(sd_test), 3, 1200, period=1, random_state=0, adapt=None)
    assert static["methods"]["hiddenstate"]["coverage"] == hs["static_coverage"]
    assert "static_coverage" not in static["methods"]["hiddenstate"]
    assert static["methods"]["hiddenstate"]["rmse"] == hs["rmse"]  # intervals only


def test_adaptive_intervals_see_only_observed_values(zeros):
    """The interval at origin o depends on series[:o] alone: values from o on change later
    intervals only (a horizon-k forecast made at o' is scored once o' + k < o)."""
    y = noise(3.0, n_train=100, n_test=60)
    _, got = fc.backtest(y, 4, 60, period=1, random_state=0, return_forecasts=True)
    j = 30
    o = int(got["origins"][j])
    changed = y.copy()
    changed[o:] = 1e3  # every later value, missed by every finite interval
    _, again = fc.backtest(changed, 4, 60, period=1, random_state=0, return_forecasts=True)
    for bound in ("lower", "upper"):
        assert np.array_equal(again[bound][: j + 1], got[bound][: j + 1])
    # y[o] is revealed at origin o + 1 (it scores the forecasts made at o, o - 1, ..., o - 3)
    assert not np.array_equal(again["upper"][j + 1 :], got["upper"][j + 1 :])
    # refitted every 7 origins (the same stand-in each time): the level carries over the fits
    _, refitted = fc.backtest(y, 4, 60, period=1, refit=7, random_state=0,
                              return_forecasts=True)
    assert np.array_equal(refitted["upper"], got["upper"])


def test_cli_backtest_adapt_option(tmp_path, capsys, zeros):
    series = tmp_path / "s.csv"
    series.write_text("value\n" + "\n".join(f"{v:.5f}" for v in noise(0.3, 100, 80)) + "\n")
    out = tmp_path / "r.json"
    args = ["rnn", "backtest", str(series), "--horizon", "2", "--test-size", "80",
            "--period", "1", "--json", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"(adaptive, step {fc.ADAPT_STEP:g}; split conformal alone" in printed
    adaptive = json.loads(out.read_text())["methods"]["hiddenstate"]
    assert main([*args, "--adapt", "0"]) == 0
    assert "adaptive" not in capsys.readouterr().out
    static = json.loads(out.read_text())["methods"]["hiddenstate"]
    assert static["coverage"] == adaptive["static_coverage"] != adaptive["coverage"]
    assert main([*args, "--adapt", "0.5"]) == 0
    assert json.loads(out.read_text())["methods"]["hiddenstate"]["adapt"] == 0.5
    assert main([*args, "--adapt", "-1"]) == 2
    assert "expected a number at least 0" in capsys.readouterr().err
