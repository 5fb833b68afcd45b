"""What the CLI writes: per-row scores to any table format."""

from __future__ import annotations

import numpy as np
import pytest

import hiddenstate
from hiddenstate.cli import main
from hiddenstate.datasets import make_donut, read_table, write_table


@pytest.fixture(scope="module")
def donut_model(tmp_path_factory):
    """``(data file, model file)``: an autoencoder the CLI fitted on 100 donut rows."""
    folder = tmp_path_factory.mktemp("outputs")
    data, model = folder / "donut.csv", folder / "m.safetensors"
    write_table(data, make_donut()[0][:100])
    assert main(["autoencoder", "fit", str(data), "--max-iter", "2", "--random-state", "0",
                 "--out", str(model)]) == 0
    return data, model


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".npy"])
def test_autoencoder_scores_go_to_a_file_as_one_column(tmp_path, ext, donut_model):
    data, model = donut_model
    out = tmp_path / f"scores{ext}"
    assert main(["autoencoder", "score", str(model), str(data), "--out", str(out)]) == 0
    scores, names = read_table(out) if ext != ".npy" else (np.load(out), None)
    assert scores.shape == (100, 1)
    # Each row's score is the saved model's own reconstruction error of that row, in order
    # (written to the text tables' shortest round-tripping precision).
    want = hiddenstate.load(model).reconstruction_error(read_table(data)[0])
    np.testing.assert_allclose(scores[:, 0], want, rtol=1e-5)
    assert len(set(np.round(want, 6))) == 100  # the rows' errors differ: the order counts
    if ext != ".npy":
        assert names == ["reconstruction_error"]


# -- text a spreadsheet would run as a formula (issue 25) ---------------------------------

#: Ids and column names that a spreadsheet would run, and numbers that must stay numbers.
FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "@SUM(A1)", '=HYPERLINK("http://x")', "-x",
            "\tTAB", "\rCR", "-1+2"]
#: The ones an id keeps (a table's cells are read stripped of blanks).
ID_FORMULAS = [t for t in FORMULAS if t == t.strip()]
NUMBERS = ["-1.5", "+3e-4", "-2", "1e10", "-inf", "nan", "7", "plain", "a=b", "'quoted"]


def test_spreadsheet_safe_prefixes_formulas_and_keeps_numbers():
    from hiddenstate.datasets import spreadsheet_safe

    assert [spreadsheet_safe(t) for t in FORMULAS] == ["'" + t for t in FORMULAS]
    assert [spreadsheet_safe(t) for t in NUMBERS] == NUMBERS
    assert spreadsheet_safe("") == ""


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".txt"])
def test_write_table_neutralises_column_names_unless_raw(tmp_path, ext):
    import csv

    names = ["=cmd|' /C calc'!A0", "@SUM(A1)", "-1.5", "ok"]
    values = np.array([[1.0, -2.5, 3.0, 4.0]], np.float32)
    delimiter = "," if ext == ".csv" else "\t"
    safe, raw = tmp_path / f"safe{ext}", tmp_path / f"raw{ext}"
    write_table(safe, values, column_names=names)
    write_table(raw, values, column_names=names, raw_text=True)
    with open(safe, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter=delimiter))
    assert rows[0] == ["'=cmd|' /C calc'!A0", "'@SUM(A1)", "-1.5", "ok"]
    assert rows[1] == ["1", "-2.5", "3", "4"]  # numbers are never touched
    with open(raw, newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle, delimiter=delimiter)) == names
    np.testing.assert_array_equal(read_table(safe, header=True)[0], values)


def _hostile_table(path, ids):
    """A table whose id column and a feature name are formulas (written by the csv module,
    so quotes, commas and line breaks are quoted)."""
    import csv

    X = make_donut()[0][:len(ids), :2]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", '=HYPERLINK("http://x")', "y"])
        writer.writerows([i, f"{a:.6g}", f"{b:.6g}"] for i, (a, b) in zip(ids, X, strict=True))


@pytest.mark.parametrize("ext", [".csv", ".tsv"])
def test_detect_score_neutralises_ids_and_column_names(tmp_path, ext):
    import csv

    ids = [*ID_FORMULAS, "-3", "plain", *(f"r{i}" for i in range(32))]
    data = tmp_path / "data.csv"
    _hostile_table(data, ids)
    det = tmp_path / "m.det"
    assert main(["detect", "fit", str(data), "--id-column", "id", "--max-iter", "2",
                 "--random-state", "0", "--calibration-fraction", "0.5",
                 "--out", str(det)]) == 0
    delimiter = "," if ext == ".csv" else "\t"
    for raw in (False, True):
        out = tmp_path / f"scores{raw}{ext}"
        assert main(["detect", "score", str(det), str(data), "--top", "2", "--out", str(out),
                     *(["--raw-text"] if raw else [])]) == 0
        with open(out, newline="", encoding="utf-8") as handle:
            header, *rows = list(csv.reader(handle, delimiter=delimiter))
        assert header == ["id", "index", "score", "p_value", "outlier", "top_features"]
        expected = ids if raw else ["'" + t for t in ID_FORMULAS] + ids[len(ID_FORMULAS):]
        assert [r[0] for r in rows] == expected
        assert [r[1] for r in rows] == [str(i) for i in range(len(ids))]
        # scores and p-values stay numbers, and agree: a higher score (more normal) never
        # has a lower p-value, and an input is flagged when its p-value is at most the
        # detector's contamination
        scores, p = (np.array([float(r[k]) for r in rows]) for k in (2, 3))
        assert np.all((0 < p) & (p <= 1)) and np.all(np.diff(p[np.argsort(scores)]) >= 0)
        rate = hiddenstate.load(det)[-1].contamination_  # a Pipeline: preparation, detector
        assert [int(r[4]) for r in rows] == [int(v <= rate) for v in p]
        # the feature named by a formula, in the top_features text
        tops = [r[5] for r in rows if r[5].lstrip("'").startswith("=HYPERLINK")]
        assert tops and all(t.startswith("=" if raw else "'=") for t in tops)


def test_autoencoder_outputs_neutralise_ids_and_names(tmp_path, capsys):
    import csv
    import io

    ids = [*ID_FORMULAS, *(f"r{i}" for i in range(24))]
    data = tmp_path / "data.csv"
    _hostile_table(data, ids)
    model = tmp_path / "m.hsm"
    assert main(["autoencoder", "fit", str(data), "--id-column", "id", "--max-iter", "2",
                 "--random-state", "0", "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["autoencoder", "reconstruct", str(model), str(data)]) == 0
    header, *rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert header == ["id", "'=HYPERLINK(\"http://x\")", "y"]
    assert [r[0] for r in rows] == ["'" + t for t in ID_FORMULAS] + ids[len(ID_FORMULAS):]
    out = tmp_path / "rec.tsv"
    assert main(["autoencoder", "reconstruct", str(model), str(data), "--out", str(out),
                 "--raw-text"]) == 0
    with open(out, newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle, delimiter="\t"))
    assert header == ["id", '=HYPERLINK("http://x")', "y"] and [r[0] for r in rows] == ids


def test_classify_predict_neutralises_labels(tmp_path, capsys):
    reviews = ["a good film", "a bad plot", "great fun", "dull and slow"]
    data, labels = tmp_path / "reviews.txt", tmp_path / "labels.txt"
    data.write_text("\n".join(reviews) + "\n", encoding="utf-8")
    labels.write_text("@SUM(A1)\n-bad\n@SUM(A1)\n-bad\n", encoding="utf-8")
    model = tmp_path / "clf.hsm"
    assert main(["classify", "fit", str(data), "--labels", str(labels), "--hidden-size", "4",
                 "--embedding-dim", "4", "--max-iter", "2", "--random-state", "0",
                 "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["classify", "predict", str(model), "--proba", *reviews]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split("\t") == ["label", "'-bad", "'@SUM(A1)"]
    assert len(rows) == 4 and {r.split("\t")[0] for r in rows} <= {"'-bad", "'@SUM(A1)"}
    for row in rows:  # the label is the likelier class; the probabilities sum to 1
        label, p_bad, p_sum = row.split("\t")
        assert abs(float(p_bad) + float(p_sum) - 1) < 1e-5
        assert label == ("'-bad" if float(p_bad) > float(p_sum) else "'@SUM(A1)")
    assert main(["classify", "predict", str(model), "--raw-text", "--proba", *reviews]) == 0
    assert capsys.readouterr().out.splitlines()[0].split("\t") == ["label", "-bad", "@SUM(A1)"]


# -- ids with quotes, commas and line breaks round-trip (issue 25) ------------------------

AWKWARD_IDS = ["a,b", 'say "hi"', "two\nlines", "cr\rinside", "crlf\r\nin", "tab\tin",
               '"all quoted"', "x;y", "plain"]


def _awkward_table(path, ids, delimiter=","):
    import csv

    X = make_donut()[0][:len(ids), :3]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow(["x", "id", "y", "z"])
        writer.writerows([f"{a:.6g}", i, f"{b:.6g}", f"{c:.6g}"]
                         for i, (a, b, c) in zip(ids, X, strict=True))
    return X


@pytest.mark.parametrize("ext", [".csv", ".tsv"])
def test_read_prepared_keeps_ids_with_quotes_commas_and_line_breaks(tmp_path, ext):
    from hiddenstate.datasets import read_prepared

    ids = AWKWARD_IDS * 3
    data = tmp_path / f"data{ext}"
    X = _awkward_table(data, ids, "," if ext == ".csv" else "\t")
    got = read_prepared(data, id_column="id")
    assert got.ids == ids and got.columns == ["x", "y", "z"]
    np.testing.assert_allclose(got.X, X, rtol=1e-5)


@pytest.mark.parametrize("ext", [".csv", ".tsv"])
def test_ids_with_quotes_commas_and_line_breaks_round_trip_through_the_cli(tmp_path, ext):
    import csv

    ids = AWKWARD_IDS * 3
    data = tmp_path / "data.csv"
    _awkward_table(data, ids)
    model = tmp_path / "m.hsm"
    assert main(["autoencoder", "fit", str(data), "--id-column", "id", "--max-iter", "2",
                 "--random-state", "0", "--out", str(model)]) == 0
    out = tmp_path / f"scores{ext}"
    assert main(["autoencoder", "score", str(model), str(data), "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle, delimiter="," if ext == ".csv" else "\t"))
    assert header == ["id", "reconstruction_error"] and [r[0] for r in rows] == ids
    det = tmp_path / "m.det"
    assert main(["detect", "fit", str(data), "--id-column", "id", "--max-iter", "2",
                 "--random-state", "0", "--calibration-fraction", "0.5",
                 "--out", str(det)]) == 0
    assert main(["detect", "score", str(det), str(data), "--out", str(out)]) == 0
    from hiddenstate.datasets import read_prepared

    assert read_prepared(out, id_column="id", columns=["score"]).ids == ids


def test_tables_printed_on_stdout_neutralise_names_too(capsys):
    from hiddenstate.cli._outputs import write_or_print

    write_or_print(np.array([[1.5, -2.0]]), None, ["@SUM(A1)", "a,b"])
    assert capsys.readouterr().out.splitlines() == ["'@SUM(A1),\"a,b\"", "1.5,-2"]
    write_or_print(np.array([[1.5, -2.0]]), None, ["@SUM(A1)", "a,b"], raw_text=True)
    assert capsys.readouterr().out.splitlines()[0] == '@SUM(A1),"a,b"'


@pytest.mark.parametrize("command", [["autoencoder", "score"], ["autoencoder", "transform"],
                                     ["detect", "score"], ["rnn", "forecast"],
                                     ["classify", "predict"]])
def test_commands_that_write_text_cells_take_raw_text(command, capsys):
    assert main([*command, "--help"]) == 0
    assert "--raw-text" in capsys.readouterr().out
