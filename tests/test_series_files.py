"""Series files (CSV/TSV/NPY, the format `rnn fit` reads): a first column of times kept out
of the values, missing values read as NaN (the estimators' `missing` decides)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hiddenstate import InputError
from hiddenstate.datasets import load_series
from hiddenstate.datasets._series import read_series
from hiddenstate.estimators._inputs import read_arrays

FORECASTING = Path("/work/shared/data/timeseries/forecasting")


def _write(tmp_path, text: str, name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "expected"), [
    ("month,passengers\n1949-01,112\n1949-02,118\n1949-03,132\n",
     np.array(["1949-01", "1949-02", "1949-03"], "datetime64[M]")),
    ("2001-03-17,1.5\n2001-03-18,2.5\n2001-03-20,3.5\n",  # no header: dates
     np.array(["2001-03-17", "2001-03-18", "2001-03-20"], "datetime64[D]")),
    ('"DATE","x"\n1958-03-29 00:00:00,1.5\n1958-04-05 00:00:00,2.5\n1958-04-12 00:00:00,3.5\n',
     np.array(["1958-03-29T00:00:00", "1958-04-05T00:00:00", "1958-04-12T00:00:00"],
              "datetime64[s]")),
    ("year,volume\n1871,1120\n1872,1160\n1873,963\n", np.array([1871, 1872, 1873])),
    ("t,v\n0.5,1.5\n1.0,2.5\n2.5,3.5\n", np.array([0.5, 1.0, 2.5])),
])
def test_a_time_column_is_kept_out_of_the_values(tmp_path, text, expected):
    seqs, names, times = load_series(_write(tmp_path, text), return_times=True)
    assert len(seqs) == 1 and seqs[0].shape == (3, 1)
    np.testing.assert_array_equal(seqs[0][:, 0], [112, 118, 132] if "passengers" in text
                                  else [1120, 1160, 963] if "volume" in text
                                  else [1.5, 2.5, 3.5])
    assert times[0].dtype == expected.dtype
    np.testing.assert_array_equal(times[0], expected)
    # the old return is unchanged: (sequences, names of the value columns)
    seqs2, names2 = load_series(_write(tmp_path, text))
    assert names2 == names and np.array_equal(seqs2[0], seqs[0])


def test_no_time_column_unless_named_or_dated(tmp_path):
    seqs, names, times = load_series(_write(tmp_path, "a,b\n1,2\n3,4\n"), return_times=True)
    assert times is None and names == ["a", "b"] and seqs[0].shape == (2, 2)
    seqs, _, times = load_series(_write(tmp_path, "1871,1\n1872,2\n"), return_times=True)
    assert times is None and seqs[0].shape == (2, 2)  # a number without a name: a value
    seqs, _, times = load_series(_write(tmp_path, "1871,1\n1872,2\n"), return_times=True,
                                 time_column=True)
    assert times[0].tolist() == [1871, 1872] and seqs[0].shape == (2, 1)
    seqs, _, times = load_series(_write(tmp_path, "year,x\n1,2\n"), return_times=True,
                                 time_column=False)
    assert times is None and seqs[0].shape == (1, 2)


def test_blocks_have_their_own_times(tmp_path):
    read = read_series(_write(tmp_path, "date,x,y\n2001-01,1,2\n2001-02,3,4\n\n"
                                        "1999-05,5,6\n1999-06,7,8\n1999-07,9,10\n"))
    assert [len(s) for s in read.sequences] == [2, 3] and read.names == ["x", "y"]
    assert read.time_name == "date" and str(read.times[1][0]) == "1999-05"
    assert [r.tolist() for r in read.lines] == [[2, 3], [5, 6, 7]]


@pytest.mark.parametrize(("text", "match"), [
    ("year,x\n1871,1\n1871,2\n", "line 3, column 1: the times must increase: 1871 after 1871"),
    ("date,x\n2001-03,1\nsoon,2\n", "line 3, column 1: 'soon' in the time column is not a date"),
    ("date,x\n2001-13-01,1\n", "line 2, column 1: '2001-13-01' in the time column"),
    ("year,x\n1871,1\n,2\n", "line 3, column 1: '' in the time column is not a number"),
    ("a,b\n1,2\n3,x\n", "line 3, column 2: 'x' is not a number (an empty cell, NaN, NA or ?"),
    ("a,b\n1,2\n3,1e99\n", "line 3, column 2: '1e99' is not a finite float32"),
])
def test_bad_times_and_values_are_named(tmp_path, text, match):
    with pytest.raises(InputError, match=match.replace("(", "\\(").replace("?", "\\?")):
        load_series(_write(tmp_path, text))


def test_missing_values_are_nan_and_the_estimator_setting_decides(tmp_path):
    text = "date,x,y\n2001-01,1,2\n2001-02,,NA\n2001-03,?,nan\n2001-04,NaN,8\n2001-05,5,N/A\n"
    read = read_series(_write(tmp_path, text))
    x = read.sequences[0]
    assert np.isnan(x).sum() == 6 and x[0].tolist() == [1, 2] and x[4, 0] == 5
    with pytest.raises(InputError, match="missing='interpolate'") as info:
        read_arrays(read.sequences)
    assert (info.value.index, info.value.step, info.value.channel) == (0, 1, 0)
    where = read.where(info.value)  # the file, line and column of that value
    assert (where.line, where.column) == (3, 2) and str(where).startswith(str(read.path))
    filled = read_arrays(read.sequences, missing="interpolate")[0]
    np.testing.assert_allclose(filled[:, 0], [1, 2, 3, 4, 5])
    np.testing.assert_allclose(filled[:, 1], [2, 4, 6, 8, 8])


def test_a_first_row_of_dates_or_missing_values_is_data(tmp_path):
    seqs, names = load_series(_write(tmp_path, "1949-01,?\n1949-02,3\n"))
    assert names is None and np.isnan(seqs[0][0, 0]) and seqs[0][1, 0] == 3
    seqs, names = load_series(_write(tmp_path, "?,?\n1,2\n"))
    assert names is None and seqs[0].shape == (2, 2)


def test_npy_nan_is_missing_inf_is_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.array([[1.0], [np.nan], [3.0]]))
    seqs, _ = load_series(tmp_path / "a.npy")
    assert np.isnan(seqs[0][1, 0])
    np.save(tmp_path / "b.npy", np.array([1.0, np.inf]))
    with pytest.raises(InputError, match="not finite float32"):
        load_series(tmp_path / "b.npy")


@pytest.mark.skipif(not FORECASTING.is_dir(), reason="the development panel is not here")
@pytest.mark.parametrize(("name", "n", "first", "missing"), [
    ("sunspots", 309, 1700, 0), ("nile", 100, 1871, 0),
    ("co2", 2284, np.datetime64("1958-03-29"), 59)])  # YYYYMMDD in a 'date' column: dates
def test_the_forecasting_files_load(name, n, first, missing):
    seqs, names, times = load_series(FORECASTING / f"{name}.csv", return_times=True)
    assert len(seqs) == 1 and seqs[0].shape == (n, 1) and len(names) == 1
    assert times[0][0] == first and int(np.isnan(seqs[0]).sum()) == missing


@pytest.mark.parametrize(("text", "expected"), [
    ("date,x\n19580329,1\n19580405,2\n",
     np.array(["1958-03-29", "1958-04-05"], "datetime64[D]")),
    ("DS,x\n20000228,1\n20000229,2\n",  # a leap day
     np.array(["2000-02-28", "2000-02-29"], "datetime64[D]")),
    ("date,x\n19581231,1\n19581232,2\n", np.array([19581231, 19581232])),  # no day 32
    ("time,x\n19000228,1\n19000229,2\n", np.array([19000228, 19000229])),  # no leap day
    ("year,x\n19580329,1\n19580405,2\n", np.array([19580329, 19580405])),  # not a date's name
    ("date,x\n1958032,1\n1958033,2\n", np.array([1958032, 1958033])),  # 7 digits
])
def test_yyyymmdd_numbers_in_a_date_column_are_dates(tmp_path, text, expected):
    _, _, times = load_series(_write(tmp_path, text), return_times=True)
    assert times[0].dtype == expected.dtype
    np.testing.assert_array_equal(times[0], expected)


def test_future_times_continue_regular_times():
    from hiddenstate.datasets._series import future_times

    def days(*d):
        return np.array(d, "datetime64[D]")

    np.testing.assert_array_equal(future_times(np.array([1871, 1872]), 2), [1873, 1874])
    np.testing.assert_allclose(future_times(np.array([0.5, 1.0, 1.5]), 2), [2.0, 2.5])
    np.testing.assert_array_equal(
        future_times(np.array(["1949-11", "1949-12"], "datetime64[M]"), 2),
        np.array(["1950-01", "1950-02"], "datetime64[M]"))
    weekly = future_times(days("2001-12-22", "2001-12-29"), 2)  # co2's weeks
    np.testing.assert_array_equal(weekly, days("2002-01-05", "2002-01-12"))
    # month starts (quarters) and month ends step by months, not by days
    np.testing.assert_array_equal(future_times(days("2001-01-01", "2001-04-01"), 2),
                                  days("2001-07-01", "2001-10-01"))
    np.testing.assert_array_equal(future_times(days("2001-01-31", "2001-02-28"), 2),
                                  days("2001-03-31", "2001-04-30"))
    seconds = np.array(["2001-01-01T10:00", "2001-01-01T10:30"], "datetime64[m]")
    assert str(future_times(seconds, 1)[0]) == "2001-01-01T11:00"
    for irregular in (np.array([1, 2, 4]), np.array([3]), days("2001-01-05", "2001-02-03",
                                                               "2001-03-01"), None):
        assert future_times(irregular, 2) is None


def test_the_cli_constants_match_the_library():
    """The CLI spells them out (its parsers import no NumPy); they must agree."""
    from hiddenstate.cli import _common
    from hiddenstate.datasets import _series
    from hiddenstate.estimators._inputs import MISSING

    assert _common.SERIES_EXTENSIONS == _series.SERIES_EXTENSIONS
    assert _common.MISSING_CHOICES == MISSING


def test_load_series_reads_a_ts_file_without_its_labels(tmp_path):
    path = _write(tmp_path, "@classLabel true a b\n@data\n1,2,?:3,4,5:a\n", "x.ts")
    seqs, names, times = load_series(path, return_times=True)
    assert names is None and times is None and seqs[0].shape == (3, 2)
    assert np.isnan(seqs[0][2, 0]) and seqs[0][:, 1].tolist() == [3, 4, 5]
