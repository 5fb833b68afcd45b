"""Real-valued series on the command line: `classify`, `detect` and `seqae` read the
archive's .ts files and series files (CSV/TSV/NPY), `--missing`, and text made of
numbers only refused rather than read as words."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenstate import load
from hiddenstate.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TINY = ["--hidden-size", "4", "--max-iter", "2", "--random-state", "0"]


def _cases(n: int = 12, length: int = 6):
    rng = np.random.default_rng(0)
    y = np.array(["up", "down"] * (n // 2))
    X = [np.cumsum(rng.normal(0.5 if c == "up" else -0.5, 0.2, size=(length, 2)), axis=0)
         for c in y]
    return X, y


def _ts(path, X, y, *, missing_at=None) -> str:
    lines = []
    for k, (x, label) in enumerate(zip(X, y, strict=True)):
        channels = [[f"{v:.4f}" for v in x[:, c]] for c in range(x.shape[1])]
        if k == missing_at:
            channels[1][2] = "?"
        lines.append(":".join(",".join(c) for c in channels) + f":{label}")
    path.write_text("@problemName tiny\n@univariate false\n@dimensions 2\n@equalLength true\n"
                    f"@seriesLength {len(X[0])}\n@classLabel true up down\n@data\n"
                    + "\n".join(lines) + "\n")
    return str(path)


def _err(capsys) -> str:
    return capsys.readouterr().err.strip()


def test_classify_fit_evaluate_predict_on_a_ts_file(tmp_path, capsys):
    X, y = _cases()
    data, model_path = _ts(tmp_path / "train.ts", X, y), str(tmp_path / "m.hsm")
    assert main(["classify", "fit", data, "--out", model_path, *TINY]) == 0
    assert "on 12 sequences" in _err(capsys)
    model = load(model_path)
    assert model.input_kind_ == "sequences" and sorted(model.classes_) == ["down", "up"]
    assert main(["classify", "evaluate", model_path, data]) == 0
    out = capsys.readouterr().out.splitlines()
    expected = model.score([x.astype(np.float32) for x in X], y)
    assert out[0].startswith(f"accuracy {expected:.4f} (")
    assert main(["classify", "predict", model_path, data, "--proba"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 13 and lines[0].split("\t")[0] == "label"
    # the file holds its labels: --labels is refused; a text model refuses a series
    (tmp_path / "labels.txt").write_text("up\n" * 12)
    assert main(["classify", "fit", data, "--labels", str(tmp_path / "labels.txt"),
                 "--out", model_path]) == 2
    assert "holds its own class labels (@classLabel true): drop --labels" in _err(capsys)


def test_classify_a_series_csv_with_labels_and_missing_values(tmp_path, capsys):
    X, y = _cases(6, 5)
    rows = [[[f"{v:.3f}" for v in row] for row in x] for x in X]
    rows[1][2][0] = ""  # the second block's third row, first column
    blocks = ["\n".join(",".join(r) for r in block) for block in rows]
    data = tmp_path / "s.csv"
    data.write_text("a,b\n" + "\n\n".join(blocks) + "\n")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(y) + "\n")
    model_path = str(tmp_path / "m.hsm")
    fit = ["classify", "fit", str(data), "--labels", str(labels), "--out", model_path, *TINY]
    assert main(fit) == 2  # line 1 the header, 2-6 the first block, 7 blank
    err = _err(capsys)
    assert "s.csv, line 10, column 1: missing value" in err and "--missing interpolate" in err
    assert main([*fit, "--missing", "interpolate"]) == 0
    assert "on 6 sequences" in _err(capsys)
    labels.write_text("up\ndown\n")
    assert main([*fit, "--missing", "interpolate"]) == 2
    assert "labels.txt: 2 labels for the 6 sequences" in _err(capsys)


def test_a_missing_value_in_a_ts_file_is_named_by_line(tmp_path, capsys):
    X, y = _cases()
    data = _ts(tmp_path / "m.ts", X, y, missing_at=3)
    assert main(["classify", "fit", data, "--out", str(tmp_path / "m.hsm"), *TINY]) == 2
    assert "m.ts, line 11: channel 1, value 2: missing value" in _err(capsys)


@pytest.mark.parametrize("argv", [
    ["classify", "fit", "{nums}", "--labels", "{labels}", "--out", "{tmp}/m.hsm"],
    ["detect", "fit", "{nums}", "--model", "sequence-ae", "--out", "{tmp}/m.hsm"],
    ["seqae", "fit", "{nums}", "--out", "{tmp}/m.hsm"],
])
def test_numbers_are_not_read_as_words(tmp_path, capsys, argv):
    nums, labels = tmp_path / "nums.txt", tmp_path / "labels.txt"
    nums.write_text("0.5 1.5 2\n-1,3,4e-2\n7 8 9\n1 2 3\n")
    labels.write_text("a\nb\na\nb\n")
    args = [a.format(nums=nums, labels=labels, tmp=tmp_path) for a in argv]
    assert main(args) == 2
    err = _err(capsys)
    assert "nums.txt: every token is a number: this looks like a numeric series" in err
    assert "--format text reads the numbers as words" in err and "\n" not in err
    if argv[0] == "classify":  # the named option does read them as words
        assert main([*args, *TINY, "--format", "text"]) == 0


def test_detect_and_seqae_on_a_ts_file(tmp_path, capsys):
    X, y = _cases(20)
    data, det = _ts(tmp_path / "d.ts", X, y), str(tmp_path / "det.hsm")
    assert main(["detect", "fit", data, "--model", "sequence-ae", "--out", det,
                 "--n-components", "3", "--max-iter", "2", "--random-state", "0"]) == 0
    capsys.readouterr()
    assert main(["detect", "score", det, data, "--top", "1"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "index,score,p_value,outlier,top_steps" and len(rows) == 21
    assert main(["detect", "score", det, data, "--format", "text"]) == 2
    assert "this detector's model reads real-valued series" in _err(capsys)
    sae = str(tmp_path / "sae.hsm")
    assert main(["seqae", "fit", data, "--out", sae, "--n-components", "3", "--max-iter",
                 "1"]) == 0
    capsys.readouterr()
    assert main(["seqae", "transform", sae, data]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 21


def test_detect_sequence_model_on_series_predicts_values(tmp_path, capsys):
    X, y = _cases(20)
    data, det = _ts(tmp_path / "d.ts", X, y), str(tmp_path / "det.hsm")
    assert main(["detect", "fit", data, "--out", det]) == 2  # the table autoencoder
    assert "is sequence data: use --model sequence-ae or sequence-model" in _err(capsys)
    assert main(["detect", "fit", data, "--model", "sequence-model", "--out", det,
                 *TINY]) == 0
    detector = load(det)
    assert detector.model_.output == "linear" and np.ptp(detector.calibration_scores_) > 0
    assert main(["detect", "fit", data, "--model", "sequence-model", "--output", "softmax",
                 "--out", det, *TINY]) == 2
    assert "a series model predicts values: --output linear, not softmax" in _err(capsys)
