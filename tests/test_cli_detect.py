"""``hiddenstate detect fit|score``, run in-process: tables and symbol strings, the
threshold moved at score time, the output columns, and bad input as one line."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pytest

import hiddenstate
from hiddenstate import AnomalyDetector
from hiddenstate.cli import main
from hiddenstate.cli._options import cli_parameters
from hiddenstate.cli.detect import _model_class
from hiddenstate.datasets import make_embedded_reber, write_table

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NAMES = ["a", "b", "sum", "diff", "double"]


def _rows(n, rng):
    """Five features on a 2-D plane (three are sums of the first two), a little noise."""
    t = rng.uniform(-1, 1, (n, 2))
    X = np.c_[t[:, 0], t[:, 1], t[:, 0] + t[:, 1], t[:, 0] - t[:, 1], 2 * t[:, 0]]
    return (X + 0.02 * rng.normal(size=X.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """``(dir, detector path, fit's stderr)``: normal.csv (300 rows), new.csv (8 normal rows,
    then 2 with one feature broken: ``sum``, then ``double``), and a detector fitted on
    normal.csv."""
    d = tmp_path_factory.mktemp("detect")
    rng = np.random.default_rng(0)
    write_table(d / "normal.csv", _rows(300, rng), column_names=NAMES)
    new = _rows(10, rng)
    new[8, 2] += 2.0
    new[9, 4] -= 3.0
    write_table(d / "new.csv", new, column_names=NAMES)
    det = d / "det.safetensors"
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stderr", err)
        assert main(["detect", "fit", str(d / "normal.csv"), "--n-components", "2",
                     "--activation", "linear", "--max-iter", "60", "--random-state", "0",
                     "--contamination", "0.05", "--out", str(det)]) == 0
    return d, det, err.getvalue()


def _csv(text, delimiter=","):
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def test_fit_writes_a_detector_and_says_what_it_did(tables):
    d, det_path, err = tables
    det = hiddenstate.load(det_path)
    assert isinstance(det, AnomalyDetector) and det.kind_ == "autoencoder"
    assert det.model_.n_components == 2 and det.model_.activation == "linear"
    assert det.model_.random_state == 0 and det.random_state == 0  # one seed for both
    assert det.contamination == 0.05 and det.calibration_scores_.size == 60
    assert list(det.feature_names_in_) == NAMES
    assert "240 inputs to train, 60 to calibrate (held out)" in err
    assert "contamination_ 0.05 (as asked)" in err and f"offset_ {det.offset_:.6g}" in err
    # 60 calibration inputs at 0.05: a normal input's rank is flagged in 3 cases of 61
    assert "false alarms expected on normal inputs 4.92%" in err
    # and its spread over draws of 60 calibration inputs: Beta(3, 58)'s central 95%
    assert "(95% of draws of 60 calibration inputs give 1.0% to 11.5%)" in err
    assert "calibration inputs flagged" not in err and f"wrote {det_path}" in err


def test_the_false_alarm_interval_is_the_spread_over_calibration_draws():
    """Issue 25: 7 of 19 held-out normal rows were flagged where 11.1% was expected; the
    summary now gives the spread. The interval is checked against calibration sets drawn
    at random: the false-alarm rate of one set is its threshold's rank share."""
    from hiddenstate.estimators._anomaly import expected_false_alarms, false_alarm_interval

    rng = np.random.default_rng(0)
    for rate, n in ((1 / 9, 8), (0.05, 60), (0.01, 499)):
        k = int(np.floor(rate * (n + 1) + 1e-9))
        # normal scores uniform: a set flags a new input below its k-th smallest score,
        # with probability equal to that score
        rates = np.sort(rng.uniform(size=(20000, n)), axis=1)[:, k - 1]
        low, high = false_alarm_interval(rate, n)
        assert rates.mean() == pytest.approx(expected_false_alarms(rate, n), abs=3e-3)
        assert np.mean(rates < low) == pytest.approx(0.025, abs=0.006)
        assert np.mean(rates > high) == pytest.approx(0.025, abs=0.006)
    assert false_alarm_interval(1 / 9, 8) == pytest.approx((0.0032, 0.369), abs=1e-3)


def test_score_round_trip_columns_and_explanations(tables, capsys):
    d, det_path, _ = tables
    capsys.readouterr()
    assert main(["detect", "score", str(det_path), str(d / "new.csv")]) == 0
    out, err = capsys.readouterr()
    rows = _csv(out)
    assert rows[0] == ["index", "score", "p_value", "outlier", "top_features"]
    assert [int(r[0]) for r in rows[1:]] == list(range(10))
    det = hiddenstate.load(det_path)
    X = hiddenstate.datasets.read_table(d / "new.csv")[0]
    import pandas as pd

    X = pd.DataFrame(X, columns=NAMES)
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], det.score_samples(X),
                               rtol=1e-5)
    np.testing.assert_allclose([float(r[2]) for r in rows[1:]], det.pvalues(X), rtol=1e-5)
    assert [int(r[3]) for r in rows[1:]] == list((det.predict(X) == -1).astype(int))
    assert [r[4] for r in rows[1:]] == det.explain(X, top=3).to_strings()
    # the broken features are flagged, and named first
    assert rows[9][3] == "1" and rows[9][4].startswith("sum=")
    assert rows[10][3] == "1" and rows[10][4].startswith("double=")
    assert all(len(r[4].split("; ")) == 3 for r in rows[1:])
    flagged = sum(int(r[3]) for r in rows[1:])
    assert f"{flagged} of 10 inputs flagged" in err and "contamination 0.05" in err

    # a .tsv file, one feature named, and the threshold moved without refitting
    tsv = d / "scores.tsv"
    assert main(["detect", "score", str(det_path), str(d / "new.csv"), "--top", "1",
                 "--contamination", "0.5", "--out", str(tsv)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and f"wrote {tsv}" in err and "contamination 0.5" in err
    moved = _csv(tsv.read_text(), "\t")
    assert [r[1:3] for r in moved] == [r[1:3] for r in rows]  # same scores and p-values
    assert all(";" not in r[4] for r in moved[1:])
    det.set_params(contamination=0.5)
    assert [int(r[3]) for r in moved[1:]] == list((det.predict(X) == -1).astype(int))
    assert sum(int(r[3]) for r in moved[1:]) > flagged
    assert hiddenstate.load(det_path).contamination == 0.05  # the file is unchanged

    assert main(["detect", "score", str(det_path), str(d / "new.csv"), "--top", "0"]) == 0
    assert _csv(capsys.readouterr().out)[0] == ["index", "score", "p_value", "outlier"]


def test_explanations_with_commas_and_quotes_stay_one_column(tmp_path, capsys):
    """Text cells are written by the csv module: a token holding a comma or a quote is
    quoted, so every row keeps five columns."""
    from hiddenstate.cli.detect import _write_rows

    buf = io.StringIO()
    _write_rows(buf, "csv", ["index", "top_steps"], [[0, 'a,b="c"; d=1']])
    assert _csv(buf.getvalue()) == [["index", "top_steps"], ["0", 'a,b="c"; d=1']]


def test_help_shows_the_chosen_models_options(capsys):
    assert main(["detect", "fit", "--model", "sequence-model", "--help"]) == 0
    text = capsys.readouterr().out
    assert "SequenceModel settings" in text and "--cell" in text and "--alphabet" in text
    assert "--contamination" in text and "--analyzer" in text and "--tied" not in text
    assert main(["detect", "fit", "--help"]) == 0
    text = capsys.readouterr().out
    assert "Autoencoder settings" in text and "--tied" in text and "--cell" not in text
    assert "embedded-reber" in text and "--model sequence-model --help" in text
    assert main(["detect", "score", "--help"]) == 0
    assert "p_value" in capsys.readouterr().out


# -- bad input: one line, exit status 2 ------------------------------------------------------


def _error(argv, capsys) -> str:
    capsys.readouterr()
    assert main(argv) == 2, argv
    err = capsys.readouterr().err
    assert err.startswith("hiddenstate: error: ") and err.count("\n") == 1, err
    return err


def test_bad_input_is_one_clear_line(tables, tmp_path, capsys):
    d, det_path, _ = tables
    normal, new = str(d / "normal.csv"), str(d / "new.csv")
    out = str(tmp_path / "never.safetensors")
    # a model file that is not a detector
    ae = tmp_path / "ae.safetensors"
    hiddenstate.load(det_path).model_.save(ae)
    err = _error(["detect", "score", str(ae), new], capsys)
    assert "ae.safetensors: holds a" in err and "not an AnomalyDetector" in err
    # data of another width, or other names
    write_table(tmp_path / "narrow.csv", np.zeros((3, 2)), column_names=["a", "b"])
    err = _error(["detect", "score", str(det_path), str(tmp_path / "narrow.csv")], capsys)
    assert "narrow.csv: 2 columns, the detector was trained on 5" in err
    write_table(tmp_path / "renamed.csv", np.zeros((3, 5)), column_names=list("vwxyz"))
    err = _error(["detect", "score", str(det_path), str(tmp_path / "renamed.csv")], capsys)
    assert "columns v, w, x, y, z differ from the detector's a, b, sum, diff, double" in err
    err = _error(["detect", "fit", normal, "--calibration", str(tmp_path / "narrow.csv"),
                  "--out", out], capsys)
    assert "narrow.csv: 2 columns, DATA" in err
    # contamination outside (0, 0.5]
    for bad in ("0", "0.7", "-0.1", "lots"):
        assert "argument --contamination" in _error(
            ["detect", "score", str(det_path), new, "--contamination", bad], capsys)
        assert "argument --contamination" in _error(
            ["detect", "fit", normal, "--contamination", bad, "--out", out], capsys)
    # too few calibration inputs for the rate: said before training, with the count needed
    err = _error(["detect", "fit", normal, "--contamination", "0.01", "--out", out], capsys)
    assert "--contamination 0.01 needs at least 99 calibration inputs" in err
    assert "holds out 60" in err and "--contamination 0.0164 or more" in err
    err = _error(["detect", "score", str(det_path), new, "--contamination", "0.001"], capsys)
    assert "needs at least 999 calibration inputs" in err
    assert "this detector has 60: use --contamination 0.0164 or more" in err
    write_table(tmp_path / "tiny.csv", np.zeros((2, 5)), column_names=NAMES)
    assert "2 inputs are too few" in _error(
        ["detect", "fit", str(tmp_path / "tiny.csv"), "--out", out], capsys)
    # missing files
    assert "missing.csv: no such file" in _error(
        ["detect", "score", str(det_path), str(tmp_path / "missing.csv")], capsys)
    assert "missing.safetensors" in _error(
        ["detect", "score", str(tmp_path / "missing.safetensors"), new], capsys)
    assert "missing.csv: no such file" in _error(
        ["detect", "fit", str(tmp_path / "missing.csv"), "--out", out], capsys)
    assert "missing.csv: no such file" in _error(
        ["detect", "fit", normal, "--calibration", str(tmp_path / "missing.csv"),
         "--out", out], capsys)
    # settings of another model, or for sequences, are refused by name
    assert "--cell is a setting of --model sequence-ae or sequence-model, not of --model " \
           "autoencoder" in _error(["detect", "fit", normal, "--cell", "gru", "--out", out],
                                   capsys)
    assert "--alphabet is a setting of --model sequence-model" in _error(
        ["detect", "fit", normal, "--model", "sequence-ae", "--alphabet", "ab", "--out", out],
        capsys)
    assert "--analyzer is for sequences" in _error(
        ["detect", "score", str(det_path), new, "--analyzer", "word"], capsys)
    assert "--out" in _error(["detect", "score", str(det_path), new, "--out",
                              str(tmp_path / "s.npy")], capsys)
    assert not (tmp_path / "never.safetensors").exists()


def test_sequence_files_are_checked_before_training(tmp_path, capsys):
    out = str(tmp_path / "never.safetensors")
    (tmp_path / "blank.txt").write_text("BTSXSE\n\nBTXSE\n")
    assert "blank.txt, line 2: blank line" in _error(
        ["detect", "fit", str(tmp_path / "blank.txt"), "--model", "sequence-model",
         "--out", out], capsys)
    (tmp_path / "seq.txt").write_text("BTSXSE\nBPVVE\n" * 20)
    (tmp_path / "cal.txt").write_text("BTSXSE\nBTZXSE\n")
    assert "cal.txt, line 2, column 3: symbol 'Z' is not in the alphabet" in _error(
        ["detect", "fit", str(tmp_path / "seq.txt"), "--model", "sequence-model",
         "--calibration", str(tmp_path / "cal.txt"), "--out", out], capsys)
    assert "line 1, column 2: symbol 'T' is not in the alphabet 'BPSVXE'" in _error(
        ["detect", "fit", str(tmp_path / "seq.txt"), "--model", "sequence-model",
         "--alphabet", "BPSVXE", "--out", out], capsys)
    assert "--n-strings is for the built-in embedded-reber data" in _error(
        ["detect", "fit", str(tmp_path / "seq.txt"), "--model", "sequence-model",
         "--n-strings", "5", "--out", out], capsys)
    assert "embedded-reber is sequence data" in _error(
        ["detect", "fit", "embedded-reber", "--out", out], capsys)


# -- symbol strings --------------------------------------------------------------------------


def test_sequence_model_on_symbol_strings(tmp_path, capsys):
    strings = make_embedded_reber(200, np.random.default_rng(0))
    (tmp_path / "reber.txt").write_text("\n".join(strings) + "\n")
    fresh = make_embedded_reber(3, np.random.default_rng(1))
    local = fresh[0][:5] + "E" + fresh[0][6:]  # an E inside the string: a local violation
    (tmp_path / "new.txt").write_text("\n".join([*fresh, local]) + "\n")
    det_path = tmp_path / "seq.safetensors"
    capsys.readouterr()
    assert main(["detect", "fit", str(tmp_path / "reber.txt"), "--model", "sequence-model",
                 "--max-iter", "1", "--hidden-size", "8", "--random-state", "0",
                 "--calibration-fraction", "0.25", "--out", str(det_path)]) == 0
    err = capsys.readouterr().err
    assert "150 inputs to train, 50 to calibrate" in err
    assert "contamination_ 0.01961 (auto: 1/(50+1)" in err
    det = hiddenstate.load(det_path)
    assert det.kind_ == "sequence-model" and det.model_.hidden_size == 8
    assert det.model_.alphabet_ == "BEPSTVX"

    assert main(["detect", "score", str(det_path), str(tmp_path / "new.txt"), "--top", "2",
                 "--contamination", "0.1"]) == 0
    out, err = capsys.readouterr()
    rows = _csv(out)
    assert rows[0] == ["index", "score", "p_value", "outlier", "top_steps"]
    assert len(rows) == 5 and "of 4 inputs flagged" in err and "contamination 0.1" in err
    lines = [*fresh, local]
    for r, s in zip(rows[1:], lines, strict=True):
        for step in r[4].split("; "):
            pos, _, rest = step.partition(":")
            symbol, _, value = rest.partition("=")
            assert s[int(pos)] == symbol and float(value) > 0  # the symbol at that step
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]], det.score_samples(lines),
                               rtol=1e-5)

    # a symbol the model never saw, named by file, line and column
    (tmp_path / "bad.txt").write_text("BTSXSE\nBTZXSE\n")
    assert "bad.txt, line 2, column 3: symbol 'Z' is not in the alphabet 'BEPSTVX'" in _error(
        ["detect", "score", str(det_path), str(tmp_path / "bad.txt")], capsys)
    # the built-in strings, fresh ones by default
    assert main(["detect", "score", str(det_path), "embedded-reber", "--n-strings", "30",
                 "--top", "0"]) == 0
    assert len(_csv(capsys.readouterr().out)) == 31


@pytest.mark.slow
def test_sequence_autoencoder_and_word_tokens(tmp_path, capsys):
    """A sequence-ae reads each character as a token (scored back the same way, inferred
    from its vocabulary); a word-level language model counts unknown words."""
    strings = make_embedded_reber(120, np.random.default_rng(0))
    (tmp_path / "reber.txt").write_text("\n".join(strings) + "\n")
    det_path = tmp_path / "sae.safetensors"
    assert main(["detect", "fit", str(tmp_path / "reber.txt"), "--model", "sequence-ae",
                 "--n-components", "4", "--max-iter", "1", "--random-state", "0",
                 "--out", str(det_path)]) == 0
    capsys.readouterr()
    assert main(["detect", "score", str(det_path), str(tmp_path / "reber.txt"),
                 "--top", "1"]) == 0
    rows = _csv(capsys.readouterr().out)
    assert len(rows) == 121 and rows[0][-1] == "top_steps"
    det = hiddenstate.load(det_path)
    np.testing.assert_allclose([float(r[1]) for r in rows[1:]],
                               det.score_samples([list(s) for s in strings]), rtol=1e-5)

    sentences = ["the cat sat on the mat", "a dog ran in the park"] * 40
    (tmp_path / "words.txt").write_text("\n".join(sentences) + "\n")
    (tmp_path / "new.txt").write_text("the cat sat on the mat\nthe zebra sat on the mat\n")
    lm = tmp_path / "lm.safetensors"
    assert main(["detect", "fit", str(tmp_path / "words.txt"), "--model", "sequence-model",
                 "--analyzer", "word", "--hidden-size", "8", "--max-iter", "2",
                 "--out", str(lm)]) == 0
    capsys.readouterr()
    assert main(["detect", "score", str(lm), str(tmp_path / "new.txt"), "--top", "1"]) == 0
    out, err = capsys.readouterr()
    rows = _csv(out)
    assert rows[2][4].startswith("1:zebra=") and "not in the model's vocabulary" in err


def test_sequence_autoencoder_words_split_by_its_tokenizer(tmp_path, capsys):
    """--analyzer word with a sequence-ae: the words are split by the model's --tokenizer
    (lower-cased, punctuation split off by default; whitespace as typed), at fit and at
    score; --tokenizer with --analyzer char is refused."""
    lines = ["The cat sat!", "A dog ran."] * 30
    (tmp_path / "w.txt").write_text("\n".join(lines) + "\n")
    for tokenizer, expected in (("default", {"the", "cat", "sat", "!", "a", "."}),
                                ("whitespace", {"The", "sat!", "A", "ran."})):
        out = tmp_path / f"{tokenizer}.safetensors"
        assert main(["detect", "fit", str(tmp_path / "w.txt"), "--model", "sequence-ae",
                     "--analyzer", "word", "--tokenizer", tokenizer, "--n-components", "2",
                     "--max-iter", "1", "--random-state", "0", "--out", str(out)]) == 0
        det = hiddenstate.load(out)
        assert det.model_.tokenizer == tokenizer
        assert expected <= set(det.model_.vocabulary_.tokens)
        capsys.readouterr()
        assert main(["detect", "score", str(out), str(tmp_path / "w.txt")]) == 0
        rows = _csv(capsys.readouterr().out)
        np.testing.assert_allclose([float(r[1]) for r in rows[1:3]],
                                   det.score_samples(lines[:2]), rtol=1e-5)
    assert main(["detect", "fit", str(tmp_path / "w.txt"), "--model", "sequence-ae",
                 "--tokenizer", "default", "--out", str(tmp_path / "c.safetensors")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--tokenizer splits words" in err and len(err.splitlines()) == 1


def test_sequence_files_in_latin1_and_table_options_refused(tmp_path, capsys):
    """--encoding reads DATA and --calibration at fit, DATA at score; the table options
    (and --encoding for tables) are refused by name."""
    data, cal = tmp_path / "l1.txt", tmp_path / "cal.txt"
    data.write_bytes("ab\u00e9\n\u00e9ba\nabab\n".encode("latin-1") * 4)
    cal.write_bytes("ab\u00e9\nbab\u00e9\n".encode("latin-1"))
    det_path = str(tmp_path / "l1.safetensors")
    fit = ["detect", "fit", str(data), "--model", "sequence-model", "--analyzer", "char",
           "--hidden-size", "4", "--max-iter", "1", "--random-state", "0",
           "--calibration", str(cal), "--out", det_path]
    assert "l1.txt, line 1: not UTF-8 text (byte 0xe9)" in _error(fit, capsys)
    assert "unknown encoding 'klingon'" in _error([*fit, "--encoding", "klingon"], capsys)
    assert main([*fit, "--encoding", "latin-1"]) == 0
    det = hiddenstate.load(det_path)
    assert det.model_.alphabet_ == "ab\u00e9" and det.calibration_scores_.size == 2
    assert "cal.txt, line 1: not UTF-8 text" in _error(
        ["detect", "score", det_path, str(cal)], capsys)
    assert main(["detect", "score", det_path, str(cal), "--encoding", "latin-1",
                 "--top", "3"]) == 0
    rows = _csv(capsys.readouterr().out)
    assert len(rows) == 3 and "2:\u00e9=" in rows[1][4]  # every step of ab\u00e9, named
    assert "embedded-reber is built in" in _error(
        ["detect", "score", det_path, "embedded-reber", "--encoding", "latin-1"], capsys)
    assert "--header is for tables" in _error(
        ["detect", "score", det_path, str(cal), "--header"], capsys)
    out = str(tmp_path / "never.safetensors")
    for model in ("sequence-ae", "sequence-model"):
        for option in (["--scale", "standard"], ["--columns", "a"], ["--drop=a"],
                       ["--id-column", "a"], ["--header"]):
            err = _error(["detect", "fit", str(data), "--model", model, *option,
                          "--out", out], capsys)
            if option[0] == "--scale":  # a setting of the sequence models that scale
                scales = "scale" in cli_parameters(_model_class(model))
                assert ("--scale is" not in err) if scales else (
                    "--scale is a setting of --model autoencoder" in err
                    and f"not of --model {model}" in err), err
                continue
            assert f"{option[0].split('=')[0]} is for tables (--model autoencoder) only, " \
                   f"not for --model {model}" in err
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    assert "--encoding is a setting of --model sequence-ae or sequence-model" in _error(
        ["detect", "fit", str(tmp_path / "t.csv"), "--encoding", "latin-1", "--out", out],
        capsys)


def test_score_chooses_among_the_stored_calibrations(tables, capsys):
    """Issue 25: the file stores the calibration of every aggregate, but `detect score`
    could not choose one."""
    d, det_path, _ = tables
    import pandas as pd

    X = pd.DataFrame(hiddenstate.datasets.read_table(d / "new.csv")[0], columns=NAMES)
    for aggregate in ("max", "sum", "mean"):
        capsys.readouterr()
        assert main(["detect", "score", str(det_path), str(d / "new.csv"), "--top", "0",
                     "--aggregate", aggregate]) == 0
        out, err = capsys.readouterr()
        rows = _csv(out)[1:]
        det = hiddenstate.load(det_path).set_params(aggregate=aggregate)
        np.testing.assert_allclose([float(r[1]) for r in rows], det.score_samples(X),
                                   rtol=1e-5)
        np.testing.assert_allclose([float(r[2]) for r in rows], det.pvalues(X), rtol=1e-5)
        assert [int(r[3]) for r in rows] == list((det.predict(X) == -1).astype(int))
        assert f"(threshold offset_ {det.offset_:.6g})" in err
    assert hiddenstate.load(det_path).aggregate == "mean"  # the file is unchanged
    assert main(["detect", "score", str(det_path), str(d / "new.csv"), "--aggregate",
                 "median"]) == 2


def test_score_a_table_without_the_id_column(tmp_path, capsys):
    """Issue 25: `detect score` insisted on the id column the detector was fitted with;
    now the ids are the row numbers, with a note."""
    rng = np.random.default_rng(1)
    X = _rows(40, rng)
    lines = ["name," + ",".join(NAMES)] + [f"r{i}," + ",".join(f"{v:.5f}" for v in row)
                                           for i, row in enumerate(X)]
    (tmp_path / "normal.csv").write_text("\n".join(lines) + "\n")
    cells = [line.split(",")[1:][::-1] for line in lines[:6]]  # no ids, columns reordered
    (tmp_path / "new.csv").write_text("\n".join(",".join(c) for c in cells) + "\n")
    det = tmp_path / "det.safetensors"
    assert main(["detect", "fit", str(tmp_path / "normal.csv"), "--id-column", "name",
                 "--n-components", "2", "--max-iter", "2", "--random-state", "0",
                 "--contamination", "0.2", "--out", str(det)]) == 0
    capsys.readouterr()
    assert main(["detect", "score", str(det), str(tmp_path / "normal.csv"), "--top", "0"]) == 0
    with_ids = _csv(capsys.readouterr().out)
    assert with_ids[0][:2] == ["name", "index"] and with_ids[1][0] == "r0"
    assert main(["detect", "score", str(det), str(tmp_path / "new.csv"), "--top", "0"]) == 0
    out, err = capsys.readouterr()
    rows = _csv(out)
    assert rows[0] == ["name", "index", "score", "p_value", "outlier"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4"]
    assert [r[2:] for r in rows[1:]] == [r[2:] for r in with_ids[1:6]]  # same scores
    assert f"hiddenstate: note: {tmp_path / 'new.csv'} has no column 'name'" in err


def sensor_rows(n: int, rng) -> np.ndarray:
    """The README's sensors table: a, b uniform in [0, 1], sum = a+b, diff = a-b,
    double = 2a, each with normal noise of sd 0.02."""
    a, b = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    X = np.c_[a, b, a + b, a - b, 2 * a]
    return (X + 0.02 * rng.normal(size=X.shape)).astype(np.float32)


def sensor_files(folder) -> None:
    """normal.csv (600 rows) and new.csv (10 rows; row 7's sum moved by 1.5, row 8's
    double by 2, row 9's sum and diff by 1), as the README's transcript uses them."""
    rng = np.random.default_rng(0)
    write_table(folder / "normal.csv", sensor_rows(600, rng), column_names=NAMES)
    new = sensor_rows(10, rng)
    new[7, 2] += 1.5
    new[8, 4] += 2.0
    new[9, [2, 3]] += 1.0
    write_table(folder / "new.csv", new, column_names=NAMES)


@pytest.mark.slow  # a 200-epoch fit
def test_the_readme_sensors_transcript(tmp_path, capsys):
    """The README's `detect score sensors.det new.csv --top 2` transcript, every line it
    shows (its "..." left out), within the last shown digit."""
    from .test_readme import README, same

    sensor_files(tmp_path)
    det = str(tmp_path / "sensors.det")
    assert main(["detect", "fit", str(tmp_path / "normal.csv"), "--contamination", "0.05",
                 "--activation", "linear", "--random-state", "0", "--out", det]) == 0
    capsys.readouterr()
    assert main(["detect", "score", det, str(tmp_path / "new.csv"), "--top", "2"]) == 0
    out, err = capsys.readouterr()
    got = out.splitlines() + err.splitlines()
    print("\n".join(got))
    text = README.read_text(encoding="utf-8")
    block = text.split("$ hiddenstate detect score sensors.det new.csv --top 2\n")[1]
    shown = [line for line in block.split("```")[0].splitlines() if line != "..."]
    for line in shown:
        assert any(same(line, g) for g in got), (line, got)


@pytest.mark.slow  # an LSTM on 800 embedded Reber strings (about 90 s)
def test_the_readme_sequence_steps(tmp_path, capsys):
    """The README's top_steps figures for two strings that break the grammar."""
    from .test_readme import README, same

    det = str(tmp_path / "reber.det")
    assert main(["detect", "fit", "embedded-reber", "--model", "sequence-model",
                 "--random-state", "0", "--out", det]) == 0
    strings = ["BTBTSSXXVPXTTVPSEPE", "BTBTSSXXVPXTEVPSETE"]
    (tmp_path / "odd.txt").write_text("\n".join(strings) + "\n")
    capsys.readouterr()
    assert main(["detect", "score", det, str(tmp_path / "odd.txt"), "--top", "1"]) == 0
    rows = _csv(capsys.readouterr().out)[1:]
    text = " ".join(README.read_text(encoding="utf-8").split())
    for s, row in zip(strings, rows, strict=True):
        shown = re.search(f"`{s}`[^`]*`([^`]+)`", text).group(1)
        assert row[3] == "1" and same(shown, row[4]), (shown, row)
