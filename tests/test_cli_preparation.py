"""Preparation stored with the model on the command line: --scale, --columns, --drop and
--id-column saved in the model file and applied by every later command (issue 14,
item 1), and the breast-cancer anomaly workflow done entirely on the command line."""

from __future__ import annotations

import csv
import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

import hiddenstate as hs
from hiddenstate.cli import main

from .test_readme import README, same


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def _read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


@pytest.fixture(scope="module")
def cancer(tmp_path_factory):
    """The README's split of the benign rows (150 train, 100 calibration, the rest held
    out) as CSV files with an id and a label column; `repr` keeps every float exact."""
    d = tmp_path_factory.mktemp("cancer")
    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    ids = np.array([f"p{i:03d}" for i in range(len(data.target))])
    order = np.random.default_rng(0).permutation(np.flatnonzero(data.target == 1))
    malignant = np.flatnonzero(data.target == 0)
    parts = {"train": order[:150], "calibration": order[150:250],
             "test": np.concatenate([order[250:], malignant])}
    for part, rows in parts.items():
        _write(d / f"{part}.csv", ["id", *names, "label"],
               [[ids[i], *(repr(float(v)) for v in data.data[i]),
                 "benign" if data.target[i] else "malignant"] for i in rows])
    return d, data, parts


def test_breast_cancer_workflow_on_the_command_line_matches_the_python_api(cancer, capsys):
    d, data, parts = cancer
    assert main(["detect", "fit", str(d / "train.csv"), "--calibration",
                 str(d / "calibration.csv"), "--model", "autoencoder", "--scale", "standard",
                 "--id-column", "id", "--drop", "label", "--n-components", "8",
                 "--random-state", "0", "--contamination", "0.05",
                 "--out", str(d / "cancer.det")]) == 0
    capsys.readouterr()
    assert main(["detect", "score", str(d / "cancer.det"), str(d / "test.csv"),
                 "--out", str(d / "scores.csv")]) == 0
    said = capsys.readouterr().err
    header, rows = _read(d / "scores.csv")
    assert header[:3] == ["id", "index", "score"]
    test = parts["test"]
    assert [r[0] for r in rows] == [f"p{i:03d}" for i in test]
    is_malignant = data.target[test] == 0
    cli_auc = roc_auc_score(is_malignant, -np.array([float(r[2]) for r in rows]))

    # The same workflow through the Python API (the README's "Anomaly detection").
    train, cal = data.data[parts["train"]], data.data[parts["calibration"]]
    scale = StandardScaler().fit(train).transform
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det = hs.AnomalyDetector(hs.Autoencoder(n_components=8, random_state=0),
                                 contamination=0.05)
        det.fit(scale(train), calibration=scale(cal))
    api_auc = roc_auc_score(is_malignant, -det.score_samples(scale(data.data[test])))
    print(f"breast cancer ROC AUC: command line {cli_auc:.4f}, Python API {api_auc:.4f}")
    assert abs(cli_auc - api_auc) <= 0.005
    # The README's transcript and figures, within their last shown digit.
    readme = README.read_text(encoding="utf-8")
    shown = re.search(r"^\d+ of 319 inputs flagged .*; wrote ", readme, re.M).group(0)
    assert same(shown, said.split(str(d / "scores.csv"))[0]), said
    figures = re.search(r"benign from `scores.csv` is (\S+), the same as the Python API's\s+"
                        r"`det.score_samples` \((\S+)\); (\S+)% of the held-out benign rows "
                        r"and (\S+)% of", readme).groups()
    flagged = np.array([r[4] == "1" for r in rows])
    measured = (f"{cli_auc:.4f}", f"{api_auc:.4f}", f"{100 * flagged[~is_malignant].mean():.1f}",
                f"{100 * flagged[is_malignant].mean():.1f}")
    assert all(same(f, m) for f, m in zip(figures, measured, strict=True)), measured

    # The model file is a Pipeline (scaler, detector) with its input settings.
    pipe = hs.load(d / "cancer.det")
    assert pipe.id_column_ == "id" and "label" not in pipe.input_columns_
    assert len(pipe.input_columns_) == 30 and type(pipe[0]).__name__ == "StandardScaler"


def test_a_missing_column_names_it_the_file_and_the_model(cancer, tmp_path, capsys):
    d, _, _ = cancer
    header, rows = _read(d / "test.csv")
    j = header.index("mean_radius")
    _write(tmp_path / "short.csv", header[:j] + header[j + 1:],
           [r[:j] + r[j + 1:] for r in rows])
    model = tmp_path / "m.hsm"
    assert main(["autoencoder", "fit", str(d / "train.csv"), "--id-column", "id", "--drop",
                 "label", "--scale", "minmax", "--max-iter", "3", "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["autoencoder", "score", str(model), str(tmp_path / "short.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "short.csv" in err and "'mean_radius'" in err and "m.hsm" in err
    assert main(["autoencoder", "fit", str(d / "train.csv"), "--columns", "mean_radius,nope",
                 "--out", str(tmp_path / "x.hsm")]) == 2
    err = capsys.readouterr().err.strip()
    assert "'nope'" in err and "train.csv" in err and err.count("\n") == 0
    assert not (tmp_path / "x.hsm").exists()


def test_ids_with_duplicates_and_reordered_columns_are_carried(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)) * [1, 100, 0.01] + [0, 50, 3]
    ids = [f"r{i % 7}" for i in range(40)]  # duplicates, kept as given
    cells = [[repr(float(v)) for v in row] for row in X]
    _write(tmp_path / "a.csv", ["x", "id", "y", "z", "note"],
           [[a, i, b, c, "text"] for i, (a, b, c) in zip(ids, cells, strict=True)])
    # Later files may hold the columns in another order (found by name).
    _write(tmp_path / "b.csv", ["z", "y", "id", "x"],
           [[c, b, i, a] for i, (a, b, c) in zip(ids, cells, strict=True)])
    model = tmp_path / "m.hsm"
    assert main(["autoencoder", "fit", str(tmp_path / "a.csv"), "--columns", "x,y,z",
                 "--id-column", "id", "--scale", "standard", "--max-iter", "3",
                 "--random-state", "0", "--out", str(model)]) == 0
    out = {}
    for name in ("a", "b"):
        for action in ("transform", "reconstruct", "score"):
            target = tmp_path / f"{name}_{action}.csv"
            assert main(["autoencoder", action, str(model), str(tmp_path / f"{name}.csv"),
                         "--out", str(target)]) == 0
            out[name, action] = _read(target)
    header, rows = out["a", "reconstruct"]
    assert header == ["id", "x", "y", "z"] and [r[0] for r in rows] == ids
    assert out["a", "score"] == out["b", "score"]
    assert out["a", "transform"][0] == ["id", "autoencoder0", "autoencoder1"]
    # Reconstructions come back in the file's units (the scaler inverted).
    recon = np.array([[float(v) for v in r[1:]] for r in rows])
    assert abs(recon[:, 1].mean() - 50) < 30 and recon[:, 1].std() > 1
    # The Python side sees the same model: load(), then the Pipeline on the columns.
    pipe = hs.load(model)
    assert pipe.input_columns_ == ["x", "y", "z"] and pipe.id_column_ == "id"
    scores = np.array([float(r[1]) for r in out["a", "score"][1]])
    pd = pytest.importorskip("pandas")
    rows_in = pd.DataFrame(X.astype(np.float32), columns=pipe.input_columns_)
    np.testing.assert_allclose(scores, pipe[-1].reconstruction_error(pipe[0].transform(rows_in)),
                               rtol=1e-4, atol=1e-6)
    # An id column goes to text tables only.
    assert main(["autoencoder", "score", str(model), str(tmp_path / "a.csv"), "--out",
                 str(tmp_path / "s.npy")]) == 2
    assert "'id'" in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["standard", "minmax"])
def test_constant_columns_scale_to_zero_not_inf(tmp_path, capsys, scale):
    rng = np.random.default_rng(1)
    _write(tmp_path / "c.csv", ["a", "b", "const"],
           [[repr(float(a)), repr(float(b)), "7"] for a, b in rng.normal(size=(30, 2))])
    model = tmp_path / "m.hsm"
    assert main(["autoencoder", "fit", str(tmp_path / "c.csv"), "--scale", scale,
                 "--max-iter", "3", "--out", str(model)]) == 0
    assert "const constant in the training rows: scaled to 0" in capsys.readouterr().err
    assert main(["autoencoder", "score", str(model), str(tmp_path / "c.csv")]) == 0
    scores = np.array([float(v) for v in capsys.readouterr().out.split()[1:]])
    assert scores.shape == (30,) and np.isfinite(scores).all()


def test_sigmoid_output_on_unscaled_data_warns_once_at_fit():
    X = np.random.default_rng(0).normal(size=(50, 3)) * 100
    with pytest.warns(UserWarning, match="--scale minmax") as record:
        hs.Autoencoder(output="sigmoid", max_iter=2, random_state=0).fit(X)
    assert sum("output='sigmoid'" in str(w.message) for w in record) == 1
    assert record[0].filename == __file__  # points at the user's own line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # (a two-epoch fit whose loss still falls warns that it did not converge)
        warnings.simplefilter("ignore", ConvergenceWarning)
        hs.Autoencoder(output="sigmoid", max_iter=2, random_state=0).fit(
            (X - X.min(0)) / np.ptp(X, 0))
        hs.Autoencoder(max_iter=2, random_state=0).fit(X)  # a linear output: any range


def test_plain_fit_is_quiet_and_writes_a_plain_estimator_file(tmp_path, capsys):
    rng = np.random.default_rng(0)
    _write(tmp_path / "p.csv", ["a", "b"], rng.random((20, 2)).tolist())
    model = tmp_path / "m.hsm"
    assert main(["autoencoder", "fit", str(tmp_path / "p.csv"), "--max-iter", "2",
                 "--out", str(model)]) == 0
    assert '"n_components"' not in capsys.readouterr().err
    assert isinstance(hs.load(model), hs.Autoencoder)
    assert main(["autoencoder", "fit", str(tmp_path / "p.csv"), "--max-iter", "2",
                 "--verbose", "1", "--out", str(model)]) == 0
    assert '"n_components"' in capsys.readouterr().err


# -- quiet, helpful output (issue 14, item 7) -----------------------------------------------


def _help(args, capsys) -> str:
    try:
        code = main([*args, "--help"])
    except SystemExit as stop:
        code = stop.code
    assert code == 0
    return capsys.readouterr().out


def test_bench_and_reproduce_list_their_choices(capsys):
    from hiddenstate.experiments import EXPERIMENT_NAMES

    text = _help(["bench"], capsys)
    for name in ("W1", "W2", "W3", "W4", "W5", "W6", "cache"):
        assert f"  {name}: " in text
    assert "Reber grammar" in text
    text = " ".join(_help(["reproduce"], capsys).split())
    assert ", ".join(EXPERIMENT_NAMES) in text
    assert main(["reproduce", "--only", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and all(repr(n) in err for n in EXPERIMENT_NAMES)


@pytest.mark.parametrize("command", [["autoencoder", "fit"], ["detect", "fit"],
                                     ["detect", "fit", "--model", "sequence-model"]])
def test_every_estimator_option_says_what_it_is(command, capsys):
    text = _help(command, capsys)
    group = text.split("settings:\n", 1)[1]
    entries = re.findall(r"^  (--[\w-]+(?: [^\s]+)?)\s*\n?\s*(.*?)(?=^  --|\Z)", group,
                         re.M | re.S)
    assert len(entries) > 10
    for flag, body in entries:
        description = " ".join(body.split())
        assert not description.startswith("(default"), (flag, description)
    if "sequence-model" in command:  # a boolean among other forms shows them
        assert "--markers auto|true|false" in text
    assert "--verbose N|true|false" in text
    if command[0] == "autoencoder":
        for option in ("--scale {none,minmax,standard}", "--columns A,B,...", "--drop A,B,...",
                       "--id-column NAME"):
            assert option in text


def test_fit_options_that_need_a_header_or_the_whole_file_are_one_line_errors(tmp_path,
                                                                            capsys):
    np.save(tmp_path / "x.npy", np.ones((10, 3), np.float32))
    (tmp_path / "nh.csv").write_text("1,2,3\n4,5,6\n")
    for args, words in (
            (["autoencoder", "fit", str(tmp_path / "nh.csv"), "--drop", "a"], "not a header"),
            (["autoencoder", "fit", str(tmp_path / "x.npy"), "--columns", "a"], ".npy"),
            (["autoencoder", "fit", "donut", "--drop", "a"], "no header"),
            (["autoencoder", "fit", "donut", "--scale", "minmax", "--chunk-rows", "5"],
             "--chunk-rows"),
            (["detect", "fit", str(tmp_path / "x.npy"), "--id-column", "id"], ".npy")):
        assert main([*args, "--out", str(tmp_path / "m.hsm")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and words in err, err
    assert not (tmp_path / "m.hsm").exists()


def test_detect_scaler_sees_only_the_rows_the_model_trains_on(cancer, tmp_path, capsys):
    """Without --calibration the detector holds rows out by its seeded draw; the scaler
    is fitted on the other rows only (a scaler that saw the calibration rows would make
    them look more normal than new rows)."""
    d, data, parts = cancer
    header, train = _read(d / "train.csv")
    _, cal = _read(d / "calibration.csv")
    _write(tmp_path / "benign.csv", header, train + cal)
    assert main(["detect", "fit", str(tmp_path / "benign.csv"), "--scale", "minmax",
                 "--id-column", "id", "--drop", "label", "--max-iter", "3",
                 "--random-state", "3", "--calibration-fraction", "0.4",
                 "--out", str(tmp_path / "b.det")]) == 0
    pipe = hs.load(tmp_path / "b.det")
    X = data.data[np.concatenate([parts["train"], parts["calibration"]])]
    order = np.random.default_rng(3).permutation(len(X))
    trained = X[np.sort(order[100:])]
    np.testing.assert_allclose(pipe[0].data_min_, trained.min(0), rtol=1e-6)
    np.testing.assert_allclose(pipe[0].data_max_, trained.max(0), rtol=1e-6)
    assert pipe[-1].calibration_scores_.size == 100
    assert main(["detect", "score", str(tmp_path / "b.det"), str(d / "test.csv"),
                 "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "id,index,score,p_value,outlier,top_features"
    assert lines[1].startswith(f"p{parts['test'][0]:03d},0,")
