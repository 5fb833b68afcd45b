"""``hiddenstate rnn`` on a user's own files: symbol strings without hand-made markers,
real-valued series (fit, forecast, score), and the errors of each."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

import hiddenstate as hs
from hiddenstate.cli import main
from hiddenstate.datasets import read_table

from .test_sequence_api import balanced, is_balanced

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_symbol_file_without_markers_fit_sample_score(tmp_path, capsys):
    data = tmp_path / "brackets.txt"
    strings = balanced(1500, np.random.default_rng(3))
    data.write_text("\n".join(strings) + "\n")
    model = tmp_path / "b.hsm"
    assert main(["rnn", "fit", str(data), "--max-iter", "6", "--random-state", "0",
                 "--out", str(model)]) == 0
    capsys.readouterr()
    # The draws of test_sequence_api.py's brackets model (same shapes: one compiles them).
    assert main(["rnn", "sample", str(model), "-n", "1000", "--seed", "0"]) == 0
    samples = capsys.readouterr().out.split("\n")[:-1]
    assert len(samples) == 1000
    assert np.mean([is_balanced(s) for s in samples]) >= 0.99
    assert main(["rnn", "sample", str(model), "-n", "50", "--start", "((", "--max-length", "12",
                 "--seed", "1"]) == 0
    assert all(s.startswith("((") for s in capsys.readouterr().out.split())
    new = tmp_path / "new.txt"  # scored and evaluated: 50 of the strings
    new.write_text("\n".join(strings[:50]) + "\n")
    scores = tmp_path / "scores.csv"
    assert main(["rnn", "score", str(model), str(new), "--out", str(scores)]) == 0
    values, names = read_table(scores)
    assert names == ["sequence", "log_likelihood"] and values.shape == (50, 2)
    np.testing.assert_allclose(values[:, 1], hs.load(model).score_samples(strings[:50]),
                               rtol=1e-5)
    assert main(["rnn", "evaluate", str(model), str(new)]) == 0
    assert "next_symbol_accuracy" in capsys.readouterr().out


def sine_csv(path, start: int, stop: int, *, blank_at: int | None = None) -> np.ndarray:
    t = np.arange(start, stop)
    x = np.sin(2 * np.pi * t / 20) + 0.5 * np.sin(2 * np.pi * t / 7)
    rows = [f"{v:.6f}" for v in x]
    if blank_at is not None:
        rows.insert(blank_at, "")
    path.write_text("value\n" + "\n".join(rows) + "\n")
    return x


def test_series_fit_forecast_score(tmp_path, capsys):
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    sine_csv(train, 0, 600)
    x = sine_csv(test, 1000, 1060, blank_at=30)  # two series of 30 steps
    model = tmp_path / "s.hsm"
    assert main(["rnn", "fit", str(train), *SERIES_FIT, "--out", str(model)]) == 0
    assert "on 190 sequences" in capsys.readouterr().err  # (600 - 30) / 3 windows
    est = hs.load(model)
    assert est.output == "linear" and est.n_features_in_ == 1
    out = tmp_path / "f.csv"
    assert main(["rnn", "forecast", str(model), str(test), "--steps", "4",
                 "--out", str(out)]) == 0
    values, names = read_table(out)
    assert names == ["sequence", "step", "value"] and values.shape == (8, 3)
    np.testing.assert_array_equal(values[:, :2], [[0, 1], [0, 2], [0, 3], [0, 4],
                                                  [1, 1], [1, 2], [1, 3], [1, 4]])
    expected = est.forecast([x[:30, None].astype(np.float32), x[30:, None].astype(np.float32)], 4)
    np.testing.assert_allclose(values[:, 2], np.concatenate(expected)[:, 0], rtol=1e-4, atol=1e-5)
    # The first block's next value is the second block's first: the forecast is close.
    assert abs(values[0, 2] - x[30]) < 0.3
    assert main(["rnn", "score", str(model), str(test), "--per-step"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "sequence,step,log_likelihood" and len(lines) == 1 + 2 * 29


#: The fits of test_series_fit_forecast_score and test_symbol_file_in_latin1, whose
#: programs error_files' models reuse (same shapes and settings).
SERIES_FIT = ["--window", "30", "--stride", "3", "--cell", "elman", "--hidden-size", "16",
              "--batch-size", "16", "--max-iter", "25", "--learning-rate-schedule", "constant",
              "--random-state", "0"]
TINY_FIT = ["--hidden-size", "4", "--max-iter", "1", "--random-state", "0"]


@pytest.fixture(scope="module")
def error_files(tmp_path_factory):
    """A series, a strings file, a bad table and a model of each kind, made once (with the
    recipes of the two tests above: nothing new to compile)."""
    tmp = tmp_path_factory.mktemp("rnn_errors")
    series = tmp / "series.csv"
    sine_csv(series, 0, 60)
    strings = tmp / "s.txt"
    strings.write_text("abc\ncba\nabab\nbc\n")  # the shapes of the latin-1 test's strings
    bad = tmp / "bad.csv"
    bad.write_text("a,b\n1,2\n3,x\n")
    long = tmp / "long.txt"  # finding "1 MB line in rnn fit" (it padded every line to it)
    long.write_text("abab\n" + "ab" * 500_000 + "\nbaba\n")
    nums = tmp / "nums.txt"  # a series in a text file: not symbol strings
    nums.write_text("0.5,1.5\n2,-3\n")
    model, strings_model = tmp / "m1.hsm", tmp / "m2.hsm"
    sine_csv(tmp / "train.csv", 0, 600)
    with contextlib.redirect_stderr(io.StringIO()):
        assert main(["rnn", "fit", str(tmp / "train.csv"), *SERIES_FIT, "--out", str(model)]) == 0
        assert main(["rnn", "fit", str(strings), *TINY_FIT, "--out", str(strings_model)]) == 0
    return {"model": model, "series": series, "strings": strings, "bad": bad, "tmp": tmp,
            "strings_model": strings_model, "long": long, "nums": nums}


@pytest.mark.parametrize("argv, message", [
    (["forecast", "{model}", "{series}", "--steps", "0"], "--steps must be a positive"),
    (["fit", "{series}", "--window", "500", "--out", "{tmp}/m.hsm"],
     "--window 500 needs series of at least 501 steps; series 0 has 60"),
    (["fit", "{strings}", "--window", "5", "--out", "{tmp}/m.hsm"],
     "--window is for real-valued series"),
    (["fit", "{series}", "--output", "softmax", "--out", "{tmp}/m.hsm"],
     "a series model predicts values: --output linear"),
    (["fit", "{series}", "--alphabet", "ab", "--out", "{tmp}/m.hsm"],
     "--alphabet is for symbol strings"),
    (["fit", "{bad}", "--out", "{tmp}/m.hsm"], "line 3, column 2: 'x' is not a number"),
    (["fit", "{series}", "--out", "{series}"], "is also an input of this command"),
    (["sample", "{strings_model}", "-n", "-1"], "n must be a positive integer"),
    (["sample", "{strings_model}", "--max-length", "0"], "max_length must be a positive integer"),
    (["forecast", "{strings_model}", "{series}", "--steps", "2"], "for symbol strings use"),
    (["fit", "{long}", "--out", "{tmp}/m.hsm"],
     "line 2: a sequence of 1,000,000 symbols; a line may have at most 100,000"),
    (["fit", "{strings}", "--alphabet", "abca", "--out", "{tmp}/m.hsm"],
     "repeats the symbol 'a'"),
    (["sample", "{strings_model}", "-n", "100000000"], "draw in several calls"),
    (["fit", "{series}", "--encoding", "latin-1", "--out", "{tmp}/m.hsm"],
     "--encoding is for files of symbol strings; DATA is read as a series"),
    (["fit", "reber", "--encoding", "latin-1", "--out", "{tmp}/m.hsm"], "reber is built in"),
    (["score", "{model}", "{series}", "--encoding", "latin-1"],
     "this model reads real-valued series"),
    (["fit", "{strings}", "--encoding", "klingon", "--out", "{tmp}/m.hsm"],
     "unknown encoding 'klingon'"),
    (["fit", "{nums}", "--out", "{tmp}/m.hsm"],
     "nums.txt: every line holds numbers: this looks like a numeric series, not symbol "
     "strings. Give --format series"),
    (["forecast", "{model}", "{series}", "--steps", "2", "--format", "text"],
     "--format text: rnn forecast reads real-valued series, not symbol strings"),
    (["backtest", "{series}", "--horizon", "2", "--test-size", "5", "--format", "symbols"],
     "--format symbols: rnn backtest reads real-valued series"),
    (["score", "{model}", "{series}", "--format", "text"],
     "--format text: this model reads real-valued series"),
    (["score", "{strings_model}", "{strings}", "--format", "series"],
     "--format series: this model reads symbol strings, not series"),
    (["evaluate", "{strings_model}", "{strings}", "--format", "series"],
     "--format series: rnn evaluate reads symbol strings"),
])
def test_rnn_errors_are_one_line(error_files, capsys, argv, message):
    capsys.readouterr()
    assert main(["rnn", *(a.format(**error_files) for a in argv)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


def test_digit_strings_are_symbols_numbers_with_separators_a_series():
    from hiddenstate.cli.rnn import _check_not_numbers, _is_series

    _check_not_numbers(["0110", "1001"], "parity.txt")  # binary strings: symbols
    with pytest.raises(hs.InputError, match="looks like a numeric series"):
        _check_not_numbers(["0.5", "1.25"], "x.txt")
    assert _is_series("x.ts") and _is_series("x.txt", "series")
    assert not _is_series("x.csv", "symbols") and not _is_series("x.csv", "text")


def test_symbol_file_in_latin1(tmp_path, capsys):
    """--encoding on fit, score and evaluate; without it, the first undecodable line."""
    data = tmp_path / "l1.txt"
    strings = ["ab\u00e9", "\u00e9ba", "abab", "b\u00e9"]
    data.write_bytes(("\n".join(strings) + "\n").encode("latin-1"))
    model = str(tmp_path / "l1.hsm")
    fit = ["rnn", "fit", str(data), *TINY_FIT, "--out", model]
    capsys.readouterr()
    assert main(fit) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("l1.txt, line 1: not UTF-8 text (byte 0xe9)") and "\n" not in err
    assert main([*fit, "--encoding", "latin-1"]) == 0
    assert hs.load(model).alphabet_ == "ab\u00e9"
    capsys.readouterr()
    assert main(["rnn", "score", model, str(data)]) == 2
    assert "l1.txt, line 1: not UTF-8 text" in capsys.readouterr().err
    assert main(["rnn", "score", model, str(data), "--encoding", "latin-1"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "sequence,log_likelihood" and len(rows) == 5
    np.testing.assert_allclose([float(r.split(",")[1]) for r in rows[1:]],
                               hs.load(model).score_samples(strings), rtol=1e-5)
    assert main(["rnn", "evaluate", model, str(data), "--encoding", "latin-1"]) == 0
    assert "sequences: 4" in capsys.readouterr().out
