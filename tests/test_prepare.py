"""The data preparation the CLI maps its options onto, called from Python
(``hiddenstate.datasets``): tables read with columns chosen by name and an id column,
scalers, the preparation stored with the model, and labelled text. The errors are
those the command line prints, naming the file, line and column (issue 23, item 3)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import hiddenstate as hs
from hiddenstate import InputError, ModelFileError
from hiddenstate.cli import main
from hiddenstate.cli._common import SCALE_CHOICES as CLI_SCALE_CHOICES
from hiddenstate.datasets import (
    SCALE_CHOICES,
    constant_columns,
    fit_scaler,
    load_labelled_text,
    load_prepared,
    make_scaler,
    read_prepared,
    read_table,
    save_prepared,
)


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def table(tmp_path):
    """Columns x, id, y, note: two features, an id with a duplicate, a text column."""
    return _write(tmp_path / "t.csv", ["x", "id", "y", "note"],
                  [["1.5", "a", "10", "t"], ["2.5", "b", "20", "u"], ["-1", "a", "30", "v"]])


# -- read_prepared -------------------------------------------------------------------------


def test_columns_are_chosen_by_name_with_the_ids_kept(table):
    got = read_prepared(table, columns=["y", "x"], id_column="id")
    assert got.columns == ["y", "x"] and got.ids == ["a", "b", "a"]
    assert got.X.dtype == np.float32
    np.testing.assert_array_equal(got.X, [[10, 1.5], [20, 2.5], [30, -1]])
    dropped = read_prepared(table, drop=["note"], id_column="id")
    assert dropped.columns == ["x", "y"] and dropped.ids == ["a", "b", "a"]
    np.testing.assert_array_equal(dropped.X, [[1.5, 10], [2.5, 20], [-1, 30]])


def test_nothing_selected_reads_the_table_as_it_is(tmp_path):
    path = _write(tmp_path / "n.csv", ["a", "b"], [["1", "2"], ["3", "4"]])
    X, names = read_table(path)
    got = read_prepared(path)
    np.testing.assert_array_equal(got.X, X)
    assert got.columns == names == ["a", "b"] and got.ids is None


def test_a_later_file_is_read_by_the_models_columns_in_any_order(table, tmp_path):
    later = _write(tmp_path / "later.csv", ["y", "id", "x"], [["7", "r", "8"]])
    got = read_prepared(later, columns=["x", "y"], id_column="id", model="m.hsm")
    np.testing.assert_array_equal(got.X, [[8, 7]])
    assert got.ids == ["r"]
    with pytest.raises(InputError) as caught:
        read_prepared(table, columns=["x", "z"], model="m.hsm")
    assert str(caught.value) == f"{table}: no column 'z', which the model m.hsm reads as its " \
                                "feature"


@pytest.mark.parametrize(("header", "rows", "kwargs", "message"), [
    (["x", "y"], [["1", "2"], ["3", "oops"]], {"columns": ["x", "y"]},
     ", line 3, column 2: 'oops' in column 'y' is not a number"),
    (["x", "y"], [["1", "2"], ["3"]], {"columns": ["x"]}, ", line 3: 1 cells, the header has 2"),
    (["x", "y"], [["1", "1e39"]], {"columns": ["x", "y"]},
     ", line 2, column 2: 1e+39 is beyond float32's range"),
    (["x", "x"], [["1", "2"]], {"drop": ["x"]}, ", line 1: the header names column 'x' twice"),
    (["x", "y"], [["1", "2"]], {"columns": ["x", "nope"]},
     ": --columns: no column 'nope' (its columns: x, y)"),
    (["x", "y"], [], {"columns": ["x"]}, ": the table has a header but no rows"),
    (["x", "y"], [["1", "2"]], {"drop": ["x", "y"]},
     ": no feature column is left after --columns, --drop and --id-column"),
    (["1", "2"], [["3", "4"]], {"id_column": "1"},
     ", line 1: --id-column names columns, but the first line is not a header (it holds a "
     "number): add a line of column names"),
], ids=["cell", "short-row", "float32", "twice", "missing", "no-rows", "nothing-left",
        "no-header"])
def test_errors_name_the_place_and_match_the_command_line(tmp_path, capsys, header, rows,
                                                          kwargs, message):
    path = _write(tmp_path / "bad.csv", header, rows)
    with pytest.raises(InputError) as caught:
        read_prepared(path, **kwargs)
    assert str(caught.value) == f"{path}{message}"
    flags = [f"--{k.replace('_', '-')}={v if isinstance(v, str) else ','.join(v)}"
             for k, v in kwargs.items()]
    assert main(["autoencoder", "fit", str(path), *flags, "--out",
                 str(tmp_path / "m.hsm")]) == 2
    assert capsys.readouterr().err == f"hiddenstate: error: {caught.value}\n"


def test_an_id_among_the_features_and_a_forced_missing_header_are_refused(table):
    with pytest.raises(InputError, match="^--id-column id is also in --columns: an id is not "
                                         "a feature$"):
        read_prepared(table, columns=["x", "id"], id_column="id")
    with pytest.raises(InputError, match=r"t\.csv: --columns names columns: the first line "
                                         r"must be a header \(drop --no-header\)"):
        read_prepared(table, False, columns=["x"])


# -- scaling -------------------------------------------------------------------------------


def test_scalers_fit_on_the_rows_given_and_constant_columns_become_zero():
    X = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0], [5.0, 5.0, 9.0]], np.float32)
    assert constant_columns(X, ["a", "b", "c"]) == ["b"] and constant_columns(X) == ["x1"]
    scaler, Z = fit_scaler("standard", X)
    Z = np.asarray(Z)
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(Z.std(0), [1, 0, 1], atol=1e-6)
    np.testing.assert_allclose(np.asarray(fit_scaler("minmax", X)[1])[:, 2], [0, 2 / 7, 1],
                               rtol=1e-6)
    none, same = fit_scaler("none", X)
    assert none is None and same is X
    assert make_scaler("none") is None and type(make_scaler("minmax")).__name__ == \
        "MinMaxScaler"
    with pytest.raises(ValueError, match="scale must be one of none, minmax, standard"):
        make_scaler("robust")
    assert SCALE_CHOICES == CLI_SCALE_CHOICES  # the CLI's copy, kept off the --help path


def test_the_preparation_is_stored_with_the_model_and_applied_again(table, tmp_path):
    data = read_prepared(table, columns=["x", "y"], id_column="id")
    scaler, Z = fit_scaler("minmax", data.X, data.columns)
    est = hs.Autoencoder(n_components=1, max_iter=2, random_state=0).fit(Z)
    path = tmp_path / "m.hsm"
    save_prepared(path, est, scaler=scaler, columns=data.columns, id_column="id")
    loaded = load_prepared(path, hs.Autoencoder)
    assert loaded.columns == ["x", "y"] and loaded.id_column == "id"
    assert [type(s).__name__ for s in loaded.scalers] == ["MinMaxScaler"]
    later = _write(tmp_path / "later.csv", ["y", "id", "x"],
                   [["10", "a", "1.5"], ["20", "b", "2.5"], ["30", "a", "-1"]])
    again = loaded.read(later)
    assert again.ids == ["a", "b", "a"]
    np.testing.assert_allclose(loaded.estimator.reconstruction_error(loaded.prepare(again)),
                               est.reconstruction_error(Z), rtol=1e-6)
    short = _write(tmp_path / "short.csv", ["id", "x"], [["a", "1"]])
    with pytest.raises(InputError, match=f"no column 'y', which the model {path} reads"):
        loaded.read(short)
    with pytest.raises(ModelFileError, match=r"holds a Pipeline ending in a Autoencoder, "
                                             r"not a SequenceModel"):
        load_prepared(path, hs.SequenceModel)
    est.save(tmp_path / "plain.hsm")
    plain = load_prepared(tmp_path / "plain.hsm", hs.Autoencoder)
    assert plain.scalers == [] and plain.columns is None and plain.id_column is None
    with pytest.raises(ModelFileError, match="plain.hsm: holds an Autoencoder, not a "
                                             "SequenceModel"):
        load_prepared(tmp_path / "plain.hsm", hs.SequenceModel)


# -- labelled text, for classify and rae alike ---------------------------------------------


def test_labelled_text_reads_a_folder_or_a_file_with_its_labels(tmp_path):
    folder = tmp_path / "rt"
    folder.mkdir()
    (folder / "rt-polarity.pos").write_bytes(b"a fine film .\n")
    (folder / "rt-polarity.neg").write_bytes(b"dull .\nno plot\n")
    texts, labels = load_labelled_text(folder)
    assert texts == [["a", "fine", "film", "."], ["dull", "."], ["no", "plot"]]
    assert labels == ["positive", "negative", "negative"]
    (tmp_path / "s.txt").write_text("\ufeffgood\n bad \n")
    (tmp_path / "l.txt").write_text("1.0\n+0\n")
    assert load_labelled_text(tmp_path / "s.txt", tmp_path / "l.txt") == (["good", "bad"],
                                                                           ["1", "0"])


def _labelled_cases(tmp_path):
    """``(DATA, LABELS or None, the error load_labelled_text gives)`` for each mistake."""
    folder = tmp_path / "rt"
    folder.mkdir()
    for name in ("pos", "neg"):
        (folder / f"rt-polarity.{name}").write_text("a b\n")
    s = tmp_path / "s.txt"
    s.write_text("a good film\na bad plot\nmeh\n")
    (tmp_path / "two.txt").write_text("pos\nneg\n")
    (tmp_path / "four.txt").write_text("pos\nneg\npos\nneg\n")
    (tmp_path / "gap.txt").write_text("pos\n\nneg\n")
    cases = [(s, tmp_path / "two.txt"), (s, tmp_path / "four.txt"), (s, None),
             (folder, tmp_path / "two.txt"), (tmp_path / "nothing", tmp_path / "two.txt"),
             (s, tmp_path / "gap.txt")]
    out = []
    for data, labels in cases:
        with pytest.raises(InputError) as caught:
            load_labelled_text(data, labels)
        out.append((data, labels, str(caught.value)))
    return out


def test_labelled_text_errors_name_the_file_and_line(tmp_path):
    (short, _, fewer), (_, more_path, more), (_, _, none), (_, _, folder), \
        (_, _, missing), (_, gap_path, gap) = _labelled_cases(tmp_path)
    assert fewer == (f"{short}, line 3: no label for this sentence: {short} has 3 sentences "
                     f"but {tmp_path / 'two.txt'} has 2 labels; give one label per sentence")
    assert more == (f"{more_path}, line 4: no sentence for this label: {short} has 3 "
                    f"sentences but {more_path} has 4 labels; give one label per sentence")
    assert none.startswith(f"{short}: a text file of one sentence per line needs a labels "
                           "file, one label per line (--labels FILE)")
    assert folder.endswith("rt: a labels file is for a text file; an rt-polarity folder "
                           "holds its own labels")
    assert missing.startswith(f"{tmp_path / 'nothing'}: no such file or folder")
    assert gap == f"{gap_path}, line 2: blank line: every line is one label"


def test_classify_and_rae_read_labelled_text_alike(tmp_path, capsys):
    """The one reader behind both commands: the same mistakes, the same one-line errors
    (classify calls a line a sequence, rae a sentence)."""
    for data, labels, message in _labelled_cases(tmp_path):
        for command in ("rae", "classify"):
            argv = [command, "fit", str(data), "--out", str(tmp_path / "m.hsm")]
            assert main(argv + (["--labels", str(labels)] if labels else [])) == 2
            err = capsys.readouterr().err
            expected = message if command == "rae" else message.replace("sentence", "sequence")
            assert err == f"hiddenstate: error: {expected}\n", (command, data, labels)
