"""``hiddenstate seqae``: fit, transform and score on text and series files."""

from __future__ import annotations

import numpy as np
import pytest

import hiddenstate as hs
from hiddenstate.cli import main
from hiddenstate.datasets import read_table

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fit_lines(folder, lines, *options):
    """``(data file, model file, model)``: `seqae fit` on ``lines`` with ``options``."""
    data, model = folder / "s.txt", folder / "sa.hsm"
    data.write_text("\n".join(lines) + "\n")
    assert main(["seqae", "fit", str(data), *options, "--random-state", "0",
                 "--out", str(model)]) == 0
    return data, model, hs.load(model)


def test_text_file_codes_and_errors_match_the_api(tmp_path, capsys):
    lines = ["the cat sat", "the dog sat", "a cat ran", "a dog ran"] * 5
    data, model, est = _fit_lines(tmp_path, lines, "--n-components", "8", "--embedding-dim",
                                  "8", "--max-iter", "3")
    tokens = [s.split() for s in lines]
    codes = tmp_path / "codes.npy"
    assert main(["seqae", "transform", str(model), str(data), "--out", str(codes)]) == 0
    np.testing.assert_allclose(np.load(codes), est.transform(tokens), rtol=1e-5, atol=1e-6)
    errors = tmp_path / "e.csv"
    assert main(["seqae", "score", str(model), str(data), "--out", str(errors)]) == 0
    values, names = read_table(errors)
    assert names == ["sequence", "reconstruction_error"]
    np.testing.assert_allclose(values[:, 1], est.reconstruction_error(tokens), rtol=1e-5)
    capsys.readouterr()
    series = tmp_path / "x.csv"
    series.write_text("a\n1\n2\n3\n")
    assert main(["seqae", "score", str(model), str(series)]) == 2
    assert "trained on text (token sequences)" in capsys.readouterr().err


def test_series_windows(tmp_path, capsys):
    series = tmp_path / "series.csv"
    t = np.arange(200)
    series.write_text("x,y\n" + "\n".join(f"{np.sin(v / 5):.5f},{np.cos(v / 5):.5f}"
                                           for v in t) + "\n")
    model = tmp_path / "sa.hsm"
    assert main(["seqae", "fit", str(series), "--window", "20", "--stride", "10",
                 "--n-components", "4", "--max-iter", "2", "--out", str(model)]) == 0
    assert "on 18 sequences" in capsys.readouterr().err  # (200 - 20) / 10 windows
    assert hs.load(model).n_features_in_ == 2
    assert main(["seqae", "transform", str(model), str(series)]) == 0
    out = capsys.readouterr().out.split()
    assert out[0] == "code0,code1,code2,code3" and len(out) == 2  # one series, one code
    assert main(["seqae", "fit", str(series), "--analyzer", "char", "--out",
                 str(tmp_path / "m.hsm")]) == 2
    assert "--analyzer is for text" in capsys.readouterr().err


def test_char_analyzer_and_missing_values_reach_the_model(tmp_path, capsys):
    """--analyzer char makes every character a token, at fit and at score; --missing
    interpolate fills a series' empty cell (the other options: test_cli_options.py)."""
    lines = ["abc", "bca", "cab", "aab"] * 3
    data, model, est = _fit_lines(tmp_path, lines, "--analyzer", "char", "--n-components",
                                  "4", "--max-iter", "1")
    assert sorted(est.vocabulary_.tokens) == ["a", "b", "c"]
    capsys.readouterr()
    assert main(["seqae", "score", str(model), str(data), "--analyzer", "char"]) == 0
    scores = [float(r.split(",")[1]) for r in capsys.readouterr().out.split()[1:]]
    np.testing.assert_allclose(scores, est.reconstruction_error([list(s) for s in lines]),
                               rtol=1e-5)
    gap = tmp_path / "hole.csv"
    gap.write_text("x,y\n1,2\n2,\n3,4\n4,5\n")
    assert main(["seqae", "fit", str(gap), "--n-components", "2", "--max-iter", "1",
                 "--out", str(tmp_path / "g.hsm")]) == 2
    assert "line 3" in capsys.readouterr().err  # the empty cell, named
    assert main(["seqae", "fit", str(gap), "--missing", "interpolate", "--n-components", "2",
                 "--max-iter", "1", "--out", str(tmp_path / "g.hsm")]) == 0
    assert hs.load(tmp_path / "g.hsm").missing == "interpolate"
