"""hiddenstate.forecasting (baselines, backtest), SequenceModel's scaling, horizon and
intervals, and ``rnn backtest``."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hiddenstate as hs
from hiddenstate import forecasting as fc
from hiddenstate.cli import main

#: A forecaster small enough for quick tests (its fits compile once per shape).
TINY = {"hidden_size": 4, "max_iter": 3, "batch_size": 32, "learning_rate": 0.001,
        "learning_rate_schedule": "constant", "output": "linear", "random_state": 0}


def ar2(n: int, seed: int = 0, level: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros(n + 100)
    for t in range(2, len(y)):
        y[t] = 0.6 * y[t - 1] - 0.3 * y[t - 2] + rng.standard_normal()
    return y[100:] + level


# -- baselines against hand computations ---------------------------------------------------------
def test_naive_and_seasonal_naive_by_hand():
    y = np.array([1.0, 2, 3, 4, 5, 6, 7])
    np.testing.assert_array_equal(fc.naive(y, 3)[:, 0], [7, 7, 7])
    # period 3: the last season (5, 6, 7) repeated
    np.testing.assert_array_equal(fc.seasonal_naive(y, 5, 3)[:, 0], [5, 6, 7, 5, 6])
    np.testing.assert_array_equal(fc.seasonal_naive(y, 2, 1), fc.naive(y, 2))
    with pytest.raises(hs.InputError, match="longer than the history"):
        fc.seasonal_naive(y, 2, 8)


def test_detect_period():
    t = np.arange(300)
    rng = np.random.default_rng(0)
    assert fc.detect_period(np.sin(2 * np.pi * t / 12) + 0.02 * t) == 12  # despite the trend
    assert fc.detect_period(rng.standard_normal(300)) is None


def test_ar_least_squares_and_forecast_by_hand():
    rng = np.random.default_rng(0)
    y = np.zeros(400)
    for t in range(1, 400):  # y_t = 1 + 0.5 y_{t-1} + e_t
        y[t] = 1 + 0.5 * y[t - 1] + 0.1 * rng.standard_normal()
    one = fc.fit_ar(y, max_order=4, order=1)
    beta = np.linalg.lstsq(np.column_stack([np.ones(399), y[:-1]]), y[1:], rcond=None)[0]
    np.testing.assert_allclose([one.const[0], one.coef[0, 0]], beta, rtol=1e-9)
    assert abs(beta[1] - 0.5) < 0.1
    f = fc.ar_forecast(one, y, 2)[:, 0]
    assert np.isclose(f[0], one.const[0] + one.coef[0, 0] * y[-1])
    assert np.isclose(f[1], one.const[0] + one.coef[0, 0] * f[0])
    # the order by AIC on the common sample t >= max_order
    aic = fc.fit_ar(y, max_order=4)
    design = np.column_stack([np.ones(396), *(y[4 - i : 400 - i] for i in (1, 2))])
    resid = y[4:] - design @ np.linalg.lstsq(design, y[4:], rcond=None)[0]
    assert np.isclose(aic.aic[2], 396 * np.log(resid @ resid / 396) + 2 * 3)
    assert aic.order == min(aic.aic, key=aic.aic.get) and aic.order in (1, 2)
    assert fc.fit_ar(ar2(500), max_order=6).order >= 2


def test_backtest_shape_and_baselines(tmp_path):
    y = np.sin(np.arange(80) / 3) + 0.05 * ar2(80)
    settings = {**TINY, "hidden_size": 2, "max_iter": 2}
    del settings["random_state"]
    result, got = fc.backtest(y, 3, 6, period=4, random_state=0, return_forecasts=True,
                              **settings)
    assert set(result) == {"methods", "horizon", "test_size"}
    assert result["horizon"] == 3 and result["test_size"] == 6
    assert set(result["methods"]) == {"hiddenstate", "naive", "seasonal_naive", "ar"}
    for name, m in result["methods"].items():
        # what each fit chose; the split conformal intervals' coverage, the adaptive step
        extra = {"forecaster", "static_coverage", "adapt"} if name == "hiddenstate" else set()
        assert set(m) == {"rmse", "mae", "coverage"} | extra
        assert len(m["rmse"]) == len(m["mae"]) == 3
        assert (m["coverage"] is None) == (name != "hiddenstate")
    assert 0 <= result["methods"]["hiddenstate"]["coverage"] <= 1
    json.dumps(result)  # plain JSON
    # naive's errors by hand: origin o forecasts y[o - 1] for y[o + k - 1]
    origins = np.arange(74, 80)
    err = [y[o - 1] - y[o + k] for k in range(3) for o in origins if o + k < 80]
    assert np.isclose(result["methods"]["naive"]["rmse"][0],
                      np.sqrt(np.mean([(y[o - 1] - y[o]) ** 2 for o in origins])), rtol=1e-5)
    assert len(err) == 6 + 5 + 4
    snaive = got["seasonal_naive"][:, :, 0]
    assert np.allclose(snaive[0], y[70:73], atol=1e-6)  # origin 74: y[70], y[71], y[72]


# -- scaling and forecasting -------------------------------------------------------------------
def test_nile_like_forecast_is_in_data_units_through_a_saved_model(tmp_path):
    # values near 900 (the Nile's flow): unscaled, a default fit forecast about 46
    y = (900 + 120 * ar2(300, seed=1))[:, None].astype(np.float32)
    est = hs.SequenceModel(horizon=3, **TINY).fit([y])
    assert est.scaling_.kind == "standard" and abs(est.scaling_.loc[0] - y.mean()) < 1e-3
    f, lo, hi = est.forecast(y, 3, interval=0.9)
    assert f.shape == (3, 1) and np.all(np.abs(f - 900) < 300)
    assert np.all(lo < f) and np.all(f < hi)
    path = tmp_path / "nile.hsm"
    est.save(path)
    back = hs.load(path)
    assert back.scaling_ == est.scaling_ or back.scaling_.to_config() == est.scaling_.to_config()
    for a, b in zip(back.forecast(y, 3, interval=0.9), (f, lo, hi), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_array_equal(back.calibration_residuals_, est.calibration_residuals_)


def test_next_step_model_scaled_round_trip(tmp_path):
    y = (900 + 120 * ar2(120, seed=2))[:, None].astype(np.float32)
    est = hs.SequenceModel(output="linear", hidden_size=4, max_iter=2, random_state=0)
    est.fit([y[:-1]], [y[1:]])
    assert est.scaling_.kind == "standard" and est.target_scaling_ is None
    pred = est.predict([y[:-1]])[0]
    assert abs(float(np.mean(pred)) - 900) < 300  # in data units
    est.save(tmp_path / "m.hsm")
    back = hs.load(tmp_path / "m.hsm")
    np.testing.assert_allclose(back.forecast(y, 4), est.forecast(y, 4), rtol=1e-6)
    with pytest.warns(UserWarning, match="times the targets' variance"):
        none = hs.SequenceModel(output="linear", hidden_size=4, max_iter=1, scale="none",
                                random_state=0).fit([y[:-1]], [y[1:]])
    assert none.scaling_.kind == "none"


def test_interval_coverage_on_ar2_is_nominal():
    """Split conformal intervals cover about 90% of new values over many origins."""
    y = ar2(3000, seed=3)[:, None].astype(np.float32)
    est = hs.SequenceModel(horizon=2, **TINY).fit([y[:1500]])
    origins = np.arange(1600, 3000 - 2, 2)
    f, lo, hi = est.forecast([y[o - 40 : o] for o in origins], 2, interval=0.9)
    truth = np.stack([y[o : o + 2] for o in origins])
    covered = (np.stack(lo) <= truth) & (truth <= np.stack(hi))
    assert abs(covered.mean() - 0.9) < 0.03, covered.mean()
    # the point forecast is close to the AR(2)'s own: RMSE near the noise's 1
    assert np.sqrt(np.mean((np.stack(f)[:, 0] - truth[:, 0]) ** 2)) < 1.15


def test_linear_path_chosen_on_rolling_origins_calibrates_the_intervals(tmp_path, capsys):
    """The linear path (iterated, direct, their mean) with the lowest rolling-origin RMSE
    is kept, and its rolling-origin errors (refitted every few origins over the last half)
    calibrate the intervals when the recurrence does not help: many more than the held-out
    part's windows."""
    y = ar2(300, seed=5)[:, None].astype(np.float32)
    # a learning rate far too high: the recurrence only hurts, the linear path is kept
    est = hs.SequenceModel(horizon=2, lags=2, **{**TINY, "learning_rate": 0.5}).fit([y])
    assert set(est.linear_scores_) == {f"{k} AR(2)" for k in ("iterated", "direct", "mean")}
    best = f"{est.linear_} AR({est.linear_order_})"
    # the lowest score, or the iterated AR when the lowest does not beat it significantly
    assert best in (min(est.linear_scores_, key=est.linear_scores_.get), "iterated AR(2)")
    assert est.refit_epochs_ == 0 and est.forecaster_ == best
    resid = est.calibration_residuals_
    assert resid.shape == (150, 2, 1)  # origins 150..299 (the held-out part: 30)
    # the first origin by hand: least squares on the 150 scaled steps before it
    x = ((y - est.scaling_.loc) / est.scaling_.scale).astype(np.float64)[:, 0]
    h = x[:150]
    direct = []
    for k in (1, 2):
        t = np.arange(1, 150 - k)
        design = np.column_stack([np.ones(len(t)), h[t], h[t - 1]])
        beta = np.linalg.lstsq(design, h[t + k], rcond=None)[0]
        direct.append(beta @ [1, h[149], h[148]])
    ar = fc.fit_ar(h, order=2)
    iterated = fc.ar_forecast(ar, h[:, None], 2)[:, 0]
    expect = {"direct": np.array(direct), "iterated": iterated,
              "mean": (np.array(direct) + iterated) / 2}[est.linear_]
    np.testing.assert_allclose(resid[0, :, 0], x[150:152] - expect, atol=2e-4)
    path = tmp_path / "m.hsm"
    est.save(path)
    assert hs.load(path).forecaster_ == est.forecaster_
    series = tmp_path / "s.csv"
    series.write_text("value\n" + "\n".join(f"{v:.5f}" for v in y[:, 0]) + "\n")
    assert main(["rnn", "fit", str(series), "--out", str(path), "--horizon", "2",
                 "--hidden-size", "2", "--max-iter", "2", "--random-state", "0"]) == 0
    err = capsys.readouterr().err
    assert f"forecaster {hs.load(path).forecaster_}" in err and " on 1 sequence in " in err


def test_significantly_better_is_a_diebold_mariano_test():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((200, 3, 1))
    assert fc.significantly_better(0.8 * ref, ref, 3)  # 20% smaller errors everywhere
    noise = rng.standard_normal((200, 3, 1))
    assert not fc.significantly_better(noise, ref, 3)  # as good, by chance lower or not
    assert not fc.significantly_better(ref, 0.8 * ref, 3)  # worse
    assert not fc.significantly_better(0.8 * ref[:2], ref[:2], 3)  # too few origins
    # by hand: the statistic of d (one channel, one horizon: lag-1 Newey-West, HLN factor)
    e, r = 0.95 * ref[:40, :1] + 0.3 * noise[:40, :1], ref[:40, :1]
    d = ((e**2 - r**2) / np.mean(r**2))[:, 0, 0]
    dc = d - d.mean()
    var = (dc @ dc + 2 * 0.5 * dc[1:] @ dc[:-1]) / 40
    stat = np.sqrt((40 + 1 - 2) / 40) * d.mean() / np.sqrt(var / 40)
    from scipy.stats import t

    assert fc.significantly_better(e, r, 1) == (stat < t.ppf(0.05, 39))
    with_nan = ref.copy()
    with_nan[-1, 1:] = np.nan  # the last origins know fewer horizons
    assert fc.significantly_better(0.8 * with_nan, with_nan, 3)


def test_kept_recurrence_is_calibrated_by_scaled_rolling_errors(monkeypatch):
    """With the recurrence kept, the intervals rest on the linear path's rolling-origin
    errors (many origins) times one ratio per channel, not on the ~20 held-out ones."""
    calls = iter([1.0, 0.0])  # the linear start's held-out loss, then the model's
    monkeypatch.setattr(hs.SequenceModel, "_held_out_loss", lambda self, m, c: next(calls))
    y = ar2(300, seed=5)[:, None].astype(np.float32)
    est = hs.SequenceModel(horizon=2, lags=2, **TINY).fit([y])
    assert est.refit_epochs_ > 0 and est.forecaster_.startswith("LSTM + ")
    resid = est.calibration_residuals_
    assert resid.shape == (150, 2, 1)  # the rolling origins 150..299, not the 30 held out
    x = ((y - est.scaling_.loc) / est.scaling_.scale).astype(np.float64)
    rolling = est._choose_linear([x], [est._calibration_start(300, 0)])
    ok = np.isfinite(rolling)
    assert ok.sum() == 299 and np.array_equal(ok, np.isfinite(resid))
    k = float(resid[ok] @ rolling[ok] / (rolling[ok] @ rolling[ok]))  # one ratio
    assert 0.5 < k < 2
    np.testing.assert_allclose(resid[ok], k * rolling[ok],
                               atol=1e-4 * np.nanmax(np.abs(rolling)))


def test_forecaster_refusals():
    y = ar2(200)[:, None]
    with pytest.raises(hs.InputError, match="intervals are calibrated up to"):
        hs.SequenceModel(horizon=2, **TINY).fit([y]).forecast(y, 3, interval=0.9)
    # 59 steps, as the next-step fits below: their compiled programs
    nxt = hs.SequenceModel(output="linear", hidden_size=2, max_iter=1).fit([y[:59]], [y[1:60]])
    with pytest.raises(hs.InputError, match="fitted with horizon="):
        nxt.forecast(y, 2, interval=0.9)
    with pytest.raises(ValueError, match="lags=3 applies to forecasting models"):
        hs.SequenceModel(output="linear", lags=3).fit([y[:-1]], [y[1:]])
    with pytest.raises(ValueError, match="scale='minmax' applies to real-valued"):
        hs.SequenceModel(scale="minmax", max_iter=1).fit(["abab", "baba"])
    with pytest.raises(hs.InputError, match="give no targets Y"):
        hs.SequenceModel(horizon=2, **TINY).fit([y[:-1]], [y[1:]])
    with pytest.raises(hs.InputError, match="too few to forecast"):
        hs.SequenceModel(horizon=5, **TINY).fit([y[:20]])
    y_nan = y.copy()
    y_nan[50] = np.nan
    with pytest.raises(hs.InputError, match="missing"):
        hs.SequenceModel(horizon=2, **TINY).fit([y_nan])
    est = hs.SequenceModel(horizon=2, missing="interpolate", **TINY).fit([y_nan])
    assert np.isfinite(est.forecast(y_nan, 2)).all()


# -- the command line ----------------------------------------------------------------------------
def test_cli_backtest_on_a_tiny_series(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(fc.FORECAST_DEFAULTS, "max_iter", 2)
    monkeypatch.setitem(fc.FORECAST_DEFAULTS, "hidden_size", 2)
    series = tmp_path / "s.csv"
    y = np.sin(np.arange(70) / 3) + 0.1 * ar2(70)
    series.write_text("value\n" + "\n".join(f"{v:.5f}" for v in y) + "\n")
    out, png = tmp_path / "r.json", tmp_path / "r.png"
    assert main(["rnn", "backtest", str(series), "--horizon", "2", "--test-size", "5",
                 "--random-state", "0", "--json", str(out), "--plot", str(png)]) == 0
    printed = capsys.readouterr().out
    assert "hiddenstate" in printed and "seasonal naive" in printed and "coverage" in printed
    assert "hiddenstate forecaster: " in printed  # what the fit chose
    result = json.loads(out.read_text())
    assert result["horizon"] == 2 and result["test_size"] == 5
    assert len(result["methods"]["ar"]["rmse"]) == 2
    assert len(result["methods"]["hiddenstate"]["forecaster"]) == 1  # one fit
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["rnn", "backtest", str(series), "--horizon", "2", "--test-size", "5",
                 "--refit", "never"]) == 2
    assert "--refit must be once, every" in capsys.readouterr().err


def test_cli_fit_refusals_and_forecast_interval(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(fc.FORECAST_DEFAULTS, "max_iter", 2)
    series = tmp_path / "s.csv"
    series.write_text("value\n" + "\n".join(f"{v:.5f}" for v in 900 + 50 * ar2(120)) + "\n")
    model = tmp_path / "m.hsm"
    for extra, message in ((["--stride", "2"], "--stride spaces the windows of --window"),
                           (["--embedding-dim", "8"], "--embedding-dim is for token"),
                           (["--window", "10", "--horizon", "2"], "--horizon trains a")):
        assert main(["rnn", "fit", str(series), "--out", str(model), *extra]) == 2
        assert message in capsys.readouterr().err
    assert main(["rnn", "fit", str(series), "--out", str(model), "--horizon", "3",
                 "--hidden-size", "2", "--random-state", "0"]) == 0
    out = tmp_path / "f.csv"
    assert main(["rnn", "forecast", str(model), str(series), "--steps", "3",
                 "--interval", "0.9", "--out", str(out)]) == 0
    header = out.read_text().splitlines()[0]
    assert header == "sequence,step,value,value_lower,value_upper"
    rows = np.loadtxt(out, delimiter=",", skiprows=1)
    assert np.all(rows[:, 3] < rows[:, 2]) and np.all(rows[:, 2] < rows[:, 4])
    assert np.all(np.abs(rows[:, 2] - 900) < 200)
    # A regular time column is continued: years as numbers, dates (weekly YYYYMMDD) as dates
    y = 900 + 50 * ar2(120)
    yearly, weekly = tmp_path / "years.csv", tmp_path / "weeks.tsv"
    yearly.write_text("year,value\n" + "".join(f"{1851 + i},{v:.5f}\n" for i, v in
                                                 enumerate(y)))
    days = np.datetime64("1999-01-02") + 7 * np.arange(120)
    weekly.write_text("date\tvalue\n" + "".join(
        f"{str(d).replace('-', '')}\t{v:.5f}\n" for d, v in zip(days, y, strict=True)))
    assert main(["rnn", "forecast", str(model), str(yearly), "--steps", "3", "--out",
                 str(out)]) == 0
    assert out.read_text().splitlines()[0] == "sequence,step,year,value"
    np.testing.assert_array_equal(np.loadtxt(out, delimiter=",", skiprows=1)[:, 2],
                                  [1971, 1972, 1973])
    capsys.readouterr()
    assert main(["rnn", "forecast", str(model), str(weekly), "--steps", "2",
                 "--interval", "0.9"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "sequence,step,date,value,value_lower,value_upper"
    assert [r.split(",")[2] for r in printed[1:]] == ["2001-04-21", "2001-04-28"]
    # the forecasts are those of the file without times
    np.testing.assert_allclose([float(r.split(",")[3]) for r in printed[1:]],
                               hs.load(model).forecast(y[:, None].astype(np.float32), 2)[:, 0],
                               rtol=1e-5)


def test_unscaled_fit_far_from_its_values_warns():
    y = (900 + 120 * ar2(60, seed=4))[:, None].astype(np.float32)
    with pytest.warns(UserWarning, match="times the targets' variance.*scale='standard'"):
        hs.SequenceModel(output="linear", hidden_size=2, max_iter=1, scale="none",
                         random_state=0).fit([y[:-1]], [y[1:]])


def test_continued_training_refuses_another_scale():
    y = (900 + 120 * ar2(60, seed=6))[:, None].astype(np.float32)
    X, Y = [y[:-1]], [y[1:]]
    est = hs.SequenceModel(output="linear", hidden_size=2, max_iter=1, scale="minmax",
                           random_state=0).fit(X, Y)
    loc = est.scaling_.loc.copy()
    for scale in ("standard", "auto", "none"):
        with pytest.raises(ValueError, match=r"differs from the scaling this model was fitted"):
            est.set_params(scale=scale).partial_fit(X, Y)
    with pytest.raises(ValueError, match=r"scale='auto' \(standard\) differs"):
        est.set_params(scale="auto", warm_start=True).fit(X, Y)
    est.set_params(scale="minmax").partial_fit(X, Y)  # the same: accepted, scaling kept
    np.testing.assert_array_equal(est.scaling_.loc, loc)
    symbols = hs.SequenceModel(hidden_size=2, max_iter=1, random_state=0).fit(["abab", "ba"])
    symbols.set_params(scale="none").partial_fit(["abba"])  # 'auto' on symbols is 'none'


def test_forecast_figure_draws_the_files_times_when_they_are_regular():
    from hiddenstate.plotting import _time_axis, forecast_figure

    years = np.arange(1871, 1901)
    assert _time_axis(years, 30)[1] == "time"
    dates = np.arange("2001-01", "2001-07", dtype="datetime64[M]")
    assert _time_axis(dates, 6)[1] == "time"
    # Gaps (co2's YYYYMMDD integers), a wrong length or no times: the steps.
    for bad in (np.array([19581224, 19581231, 19590107]), years[:-1], None):
        x, label = _time_axis(bad, 3 if bad is not None and len(bad) == 3 else 30)
        assert label == "step" and x[0] == 0
    y = np.sin(np.arange(30.0))[:, None]
    origins = np.arange(20, 30)
    forecasts = {"origins": origins, "naive": np.zeros((10, 2, 1)),
                 "hiddenstate": np.zeros((10, 2, 1)), "lower": -np.ones((10, 2, 1)),
                 "upper": np.ones((10, 2, 1))}
    fig = forecast_figure(y, forecasts, times=years)
    ax = fig.axes[-1]
    assert ax.get_xlabel() == "time"
    assert years[0] <= ax.get_xlim()[0] + 2 and ax.get_xlim()[1] <= years[-1] + 2
    assert ax.lines[0].get_xdata()[-1] == years[-1]


def test_rnn_commands_name_the_line_of_a_missing_value(tmp_path, capsys):
    from hiddenstate.cli import main

    y = 900 + 120 * ar2(40, seed=5)
    cells = [f"{v:.3f}" for v in y]
    cells[17] = ""
    series = tmp_path / "s.csv"
    series.write_text("year,flow\n" + "\n".join(f"{1900 + t},{c}" for t, c in enumerate(cells))
                      + "\n")
    where = f"{series}, line 19, column 2: missing value"
    for argv in (["rnn", "fit", str(series), "--out", str(tmp_path / "m.hsm")],
                 ["rnn", "backtest", str(series), "--horizon", "2", "--test-size", "5"]):
        assert main(argv) != 0
        err = capsys.readouterr().err
        assert where in err and "(--missing interpolate)" in err


def test_a_near_perfect_start_is_not_called_a_blow_up(tmp_path):
    """Found trying `rnn fit sales.csv --horizon 6` on a smooth monthly series written by
    hand: the linear path started the loss at 5e-14, training moved it to 1e-7, and the
    blow-up rule (1000 times the start) refused the fit as diverged. A squared error still
    far below the targets' variance has not blown up."""
    import math

    from hiddenstate.cli import main

    sales = [100 + 10 * math.sin(2 * math.pi * i / 12) + 0.3 * i for i in range(120)]
    rows = ["month,sales"] + [f"{2015 + i // 12}-{i % 12 + 1:02d}-01,{v:.2f}"
                              for i, v in enumerate(sales)]
    data = tmp_path / "sales.csv"
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "s.safetensors"
    assert main(["rnn", "fit", str(data), "--horizon", "6", "--format", "series",
                 "--out", str(out)]) == 0
    assert out.exists()
