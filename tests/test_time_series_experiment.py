"""The ``time-series`` experiment: its NumPy 1-NN baselines against hand computations, and
the experiment itself on a tiny slice of the panel (skipped without the data folder)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from hiddenstate.experiments import EXPERIMENTS, time_series

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/timeseries")


def _dtw_by_hand(a: np.ndarray, b: np.ndarray) -> float:
    """The DTW recurrence cell by cell, in plain Python."""
    D = {(-1, -1): 0.0}
    for i, j in itertools.product(range(len(a)), range(len(b))):
        cost = float(np.sum((a[i] - b[j]) ** 2))
        D[i, j] = cost + min(D.get((i - 1, j - 1), np.inf), D.get((i - 1, j), np.inf),
                             D.get((i, j - 1), np.inf))
    return D[len(a) - 1, len(b) - 1]


def _col(*values):
    return np.array(values, float)[:, None]


def test_dtw_on_tiny_series_by_hand():
    # a warped copy costs nothing; [1,2,3] against [2,2]: 1 + 0 + 1
    assert time_series.dtw_distances([_col(0, 1, 2)], [_col(0, 0, 1, 2)])[0, 0] == 0.0
    assert time_series.dtw_distances([_col(1, 2, 3)], [_col(2, 2)])[0, 0] == 2.0
    rng = np.random.default_rng(0)
    test = [rng.normal(size=(n, 2)) for n in (3, 7, 5)]
    train = [rng.normal(size=(n, 2)) for n in (6, 2, 4, 7)]
    got = time_series.dtw_distances(test, train, chunk_cells=20)  # several blocks
    want = [[_dtw_by_hand(a, b) for b in train] for a in test]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_euclidean_zero_pads_and_1nn_predicts_the_nearest_label():
    train = [_col(1, 2), _col(1, 2, 3), _col(5, 5, 5)]
    got = time_series.euclidean_distances([_col(1, 2, 3)], train)
    np.testing.assert_allclose(got, [[3.0, 0.0, np.sqrt(16 + 9 + 4)]])
    assert list(time_series.nn1_euclidean(train, ["a", "b", "c"],
                                          [_col(1, 2, 3), _col(5, 5, 4)])) == ["b", "c"]
    # DTW: [1,1,2,3] warps onto [1,2,3] ("b") though its Euclidean neighbour differs
    assert list(time_series.nn1_dtw([_col(1, 2, 3), _col(1, 1, 3, 3)], ["b", "x"],
                                    [_col(1, 1, 2, 3)])) == ["b"]
    assert list(time_series.nn1_euclidean([_col(1, 2, 3), _col(1, 1, 3, 3)], ["b", "x"],
                                          [_col(1, 1, 2, 3)])) == ["x"]


def _slice(src: Path, dst: Path, n: int) -> None:
    """The header and the first ``n`` cases of a .ts file."""
    lines = src.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    dst.write_text("\n".join(lines[:start] + lines[start:start + n]) + "\n")


@pytest.mark.skipif(not (DATA / "classification").is_dir(), reason="no timeseries data")
def test_experiment_on_a_tiny_slice(tmp_path):
    folder = tmp_path / "timeseries" / "classification"
    folder.mkdir(parents=True)
    for part, n in (("TRAIN", 12), ("TEST", 16)):
        _slice(DATA / "classification" / f"ItalyPowerDemand_{part}.ts",
               folder / f"ItalyPowerDemand_{part}.ts", n)
    exp = EXPERIMENTS["time-series"]
    assert exp.needs_data and not exp.available(None) and exp.available(tmp_path)
    config = time_series.Config.quick()
    config = type(config)(**{**config.__dict__, "classifier_max_iter": 1})
    result = exp.run(config, tmp_path / "out", data_dir=tmp_path)  # the folder above
    assert [r.variant.split(" ")[0] for r in result.rows] == ["SequenceClassifier()", "1-NN",
                                                              "1-NN"]
    train, y_train = time_series._load_ts(folder / "ItalyPowerDemand_TRAIN.ts")
    test, y_test = time_series._load_ts(folder / "ItalyPowerDemand_TEST.ts")
    assert len(train) == 12 and train[0].shape == (24, 1)
    want = np.mean(time_series.nn1_dtw(train, y_train, test) == y_test)
    assert result.rows[2].ours == pytest.approx(want)
    assert all(0 <= r.ours <= 1 and r.seconds >= 0 for r in result.rows)
    assert Path(next(iter(result.figures.values()))).stat().st_size > 1000
    # The forecasting part says why it has no table (no backtest, or no forecasting/
    # folder here) rather than giving figures.
    forecasts_only = type(config)(**{**config.__dict__, "problems": (), "forecasting": True})
    result = exp.run(forecasts_only, tmp_path / "out2", data_dir=tmp_path)
    assert "Forecasting table not run" in result.notes and not result.rows


def test_accuracy_figure_leaves_out_a_method_that_did_not_run(monkeypatch, tmp_path):
    from hiddenstate import plotting
    from hiddenstate.experiments import time_series

    seen = {}
    monkeypatch.setattr(plotting, "save", lambda fig, path: seen.setdefault("fig", fig))
    matrix = np.array([[0.9, 0.8, np.nan], [0.95, np.nan, np.nan]])
    time_series.accuracy_figure(matrix, ["A", "B"], ["hiddenstate", "1-NN DTW", "ROCKET"],
                                path=tmp_path / "f.png")
    ax = seen["fig"].axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["hiddenstate", "1-NN DTW"]
    assert len(ax.patches) == 4  # two methods x two problems (B's DTW a zero-height bar)
