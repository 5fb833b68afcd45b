"""The ``forecast`` experiment: the model's one-step error against the ridge AR baseline."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenstate.experiments import forecast


@pytest.mark.slow  # the full run (25 s); make run runs it too
def test_forecast_experiment_meets_its_target(tmp_path):
    config = forecast.Config()
    result = forecast.run(config, tmp_path)
    rows = {(r.figure, r.variant.split(",")[0]): r for r in result.rows}
    model = rows[("one-step RMSE", "lstm 32 units")]
    ar = rows[("one-step RMSE", "ridge AR(30)")]
    floor = rows[("one-step RMSE", "noise floor (noise sd 0.1)")]
    assert model.passed is True and model.ours <= 1.1 * ar.ours
    # Neither beats the noise actually drawn, and both come within 25% of it.
    assert floor.ours < ar.ours < 1.25 * floor.ours and floor.ours < model.ours < 1.25 * floor.ours
    assert abs(floor.ours - config.noise) < 0.01
    twenty = [r for r in result.rows if r.figure == "RMSE 20 steps ahead"]
    assert len(twenty) == 2 and all(r.ours < 2 * floor.ours for r in twenty)
    assert len(result.figures) == 2
    for path in result.figures.values():
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_ar_forecast_iterates_its_own_predictions():
    rng = np.random.default_rng(0)
    train = np.sin(np.arange(300) / 3) + 0.01 * rng.standard_normal(300)
    ar = forecast.ar_baseline(train, 5)
    hist = train[-5:]
    two = forecast.ar_forecast(ar, hist[None], 2)[0]
    assert np.isclose(two[0], ar.predict(hist[None])[0])
    assert np.isclose(two[1], ar.predict(np.r_[hist[1:], two[0]][None])[0])


def test_forecast_experiment_runs_small(tmp_path):
    """The whole experiment on a short series and 2 epochs: every row and figure."""
    import dataclasses

    config = dataclasses.replace(forecast.Config(), n_train=300, n_test=100, epochs=2,
                                 horizon=5, check_targets=False)
    result = forecast.run(config, tmp_path)
    assert [r.figure for r in result.rows] == ["one-step RMSE"] * 3 + ["RMSE 5 steps ahead"] * 2
    assert all(np.isfinite(r.ours) for r in result.rows) and result.rows[0].passed is None
    assert len(result.figures) == 2
