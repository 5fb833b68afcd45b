"""``hiddenstate classify``: fit, predict and evaluate, run in-process on tiny models."""

from __future__ import annotations

import functools
import io
import json

import numpy as np
import pytest

from hiddenstate import load
from hiddenstate.cli import main
from hiddenstate.estimators import SequenceAutoencoder, SequenceClassifier

from .test_cli_options import SKIPPED, _invalid_cases, _typed_values

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

REVIEWS = """a good film with a great cast
a bad plot and dull acting
great fun and a good story
dull , slow and bad
good acting and great music
a bad film , dull and slow
"""
LABELS = "pos\nneg\npos\nneg\npos\nneg\n"
TINY = ["--hidden-size", "4", "--embedding-dim", "4", "--max-iter", "2", "--random-state", "0"]


@pytest.fixture
def labelled(tmp_path):
    """``(sentences file, labels file)`` of six short reviews."""
    data, labels = tmp_path / "reviews.txt", tmp_path / "labels.txt"
    data.write_text(REVIEWS, encoding="utf-8")
    labels.write_text(LABELS)
    return str(data), str(labels)


def _out(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_fit_predict_evaluate_round_trip(labelled, tmp_path, capsys, monkeypatch):
    data, labels = labelled
    model_path = str(tmp_path / "clf.safetensors")
    assert main(["classify", "fit", data, "--labels", labels, *TINY, "--cell", "gru",
                 "--pooling", "mean", "--out", model_path]) == 0
    err = capsys.readouterr().err
    assert "trained 2 epochs on 6 sequences" in err and "training accuracy" in err
    assert model_path in err
    model = load(model_path)  # the options reached the estimator and its file
    assert isinstance(model, SequenceClassifier)
    assert (model.cell, model.hidden_size, model.pooling) == ("gru", 4, "mean")
    assert model.classes_.tolist() == ["neg", "pos"] and model.input_kind_ == "tokens"

    texts = ["a great film", "dull and bad , unseen-word"]
    assert main(["classify", "predict", model_path, *texts]) == 0
    lines = _out(capsys)
    expected = model.predict_proba(texts)
    assert len(lines) == 2
    for line, p in zip(lines, expected, strict=True):
        label, prob = line.split("\t")
        assert label == model.classes_[p.argmax()] and float(prob) == pytest.approx(p.max(),
                                                                                   abs=1e-4)

    # options may follow the sequences; every class's probability, named on line 1
    assert main(["classify", "predict", model_path, "--file", data, "--proba"]) == 0
    lines = _out(capsys)
    assert lines[0] == "label\tneg\tpos" and len(lines) == 7
    probs = np.array([[float(v) for v in ln.split("\t")[1:]] for ln in lines[1:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=2e-4)

    monkeypatch.setattr("sys.stdin", io.StringIO("a great film\ndull and bad\n"))
    assert main(["classify", "predict", model_path, "-"]) == 0
    assert len(_out(capsys)) == 2

    assert main(["classify", "evaluate", model_path, data, "--labels", labels]) == 0
    lines = _out(capsys)
    accuracy = model.score(REVIEWS.splitlines(), LABELS.split())
    assert lines[0].startswith(f"accuracy {accuracy:.4f} (")
    assert lines[1].split() == ["class", "sequences", "predicted", "correct", "recall"]
    assert [ln.split()[:2] for ln in lines[2:]] == [["neg", "3"], ["pos", "3"]]
    assert main(["classify", "evaluate", model_path, data, "--labels", labels, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == pytest.approx(accuracy) and result["sequences"] == 6
    assert sum(c["predicted"] for c in result["classes"].values()) == 6

    # labels the model does not know, and a model of another kind, are one-line errors
    (tmp_path / "other.txt").write_text("pos\nneg\npos\nneg\nugly\nneg\n")
    assert main(["classify", "evaluate", model_path, data, "--labels",
                 str(tmp_path / "other.txt")]) == 2
    err = capsys.readouterr().err
    assert "other.txt, line 5: label 'ugly' is not one of the model's classes" in err
    assert main(["classify", "predict", model_path]) == 2
    assert "nothing to classify" in capsys.readouterr().err


def test_label_count_mismatch_names_both_files_and_counts(labelled, tmp_path, capsys):
    data, _ = labelled
    short = tmp_path / "short.txt"
    short.write_text("pos\nneg\n")
    out = tmp_path / "m.safetensors"
    assert main(["classify", "fit", data, "--labels", str(short), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hiddenstate: error: ") and len(err.splitlines()) == 1
    assert f"{data} has 6 sequences but {short} has 2 labels" in err
    assert not out.exists()
    assert main(["classify", "fit", data, "--out", str(out)]) == 2
    assert "needs a labels file, one label per line (--labels FILE)" in capsys.readouterr().err
    assert main(["classify", "fit", data, "--labels", str(short), "--unlabelled", data,
                 "--out", str(out)]) == 2
    assert "--unlabelled is for --pretrain" in capsys.readouterr().err


@pytest.mark.parametrize(("content", "message"), [
    (b"a good film\n\nbad\n", "line 2: blank line: every line is one sequence"),
    (b"a good film\nbad \xff plot\nok\n", "line 2: not UTF-8 text (byte 0xff)"),
    (b"", "empty file: no sequences"),
])
def test_unreadable_lines_name_the_file_and_line(content, message, labelled, tmp_path, capsys):
    _, labels = labelled
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    assert main(["classify", "fit", str(bad), "--labels", labels, "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert err == f"hiddenstate: error: {bad}{',' if 'line' in message else ':'} {message}\n"


# -- every estimator option reaches the classifier (fit stopped before training) -------------


class _Stop(BaseException):  # not an Exception: the CLI turns those into one line
    pass


@pytest.fixture
def received(monkeypatch):
    seen: dict = {}
    init = SequenceClassifier.__init__

    @functools.wraps(init)
    def recording_init(self, *args, **kwargs):
        seen["args"], seen["kwargs"] = args, kwargs
        init(self, *args, **kwargs)

    def stop(self, *args, **kwargs):
        seen["estimator"] = self
        raise _Stop

    monkeypatch.setattr(SequenceClassifier, "__init__", recording_init)
    monkeypatch.setattr(SequenceClassifier, "fit", stop)
    return seen


def _run(argv, seen):
    seen.clear()
    with pytest.raises(_Stop):
        main(argv)
    return seen["estimator"]


#: Not walked with a text file: ``missing`` applies to real-valued series only, and the CLI
#: refuses it for text before the estimator sees it (tests/test_cli_series.py covers it).
_NOT_WALKED = {"init_from", "missing"}


def _cases(tmp_dir):
    """``(argv tail, name, expected)`` for every estimator option of the classifier."""
    cases = []
    for name in sorted(set(SequenceClassifier().get_params()) - SKIPPED - _NOT_WALKED):
        flag = "--" + name.replace("_", "-")
        constraints = SequenceClassifier._parameter_constraints[name]
        if constraints == ["boolean"]:
            cases += [([flag], name, True), (["--no-" + flag[2:]], name, False)]
            continue
        for c in constraints:
            values = ([("pos=2,neg=0.5", {"pos": 2.0, "neg": 0.5})] if c is dict
                      else _typed_values(name, c, tmp_dir))
            cases += [([flag, text], name, value) for text, value in values]
    return cases


def test_every_option_reaches_the_classifier_as_typed(labelled, received, tmp_path, capsys):
    data, labels = labelled
    fit = ["classify", "fit", data, "--labels", labels, "--out", str(tmp_path / "never")]
    est = _run(fit, received)
    assert received["kwargs"] == {} and est.get_params() == SequenceClassifier().get_params()
    cases = _cases(tmp_path)
    assert {name for _, name, _ in cases} == (set(SequenceClassifier().get_params())
                                              - SKIPPED - _NOT_WALKED)
    for tail, name, expected in cases:
        est = _run([*fit, *tail], received)
        assert received["kwargs"] == {name: expected}, tail
        assert est.get_params()[name] == expected, tail
        est._validate_params()
    for tail, flag in _invalid_cases(SequenceClassifier):
        capsys.readouterr()
        assert main([*fit, *tail]) == 2, tail
        err = capsys.readouterr().err
        assert err.startswith("hiddenstate: error: argument ") and flag in err, err
    # init_from is an estimator or a file: --init-from MODEL, never an estimator option
    assert main([*fit, "--init-from", data]) == 2
    assert "not a hiddenstate model file" in capsys.readouterr().err


def test_help_says_what_data_may_be(capsys):
    for action in ("fit", "evaluate"):
        assert main(["classify", action, "--help"]) == 0
        out = capsys.readouterr().out
        assert "rt-polarity.pos" in out and "embedded-reber" in out and "--labels" in out
    assert main(["classify", "predict", "--help"]) == 0
    assert "standard input" in capsys.readouterr().out


# -- pretraining (Dai & Le 2015) ----------------------------------------------------------


def test_pretrain_sequence_ae_then_init_from(labelled, tmp_path, capsys, monkeypatch):
    data, labels = labelled
    more = tmp_path / "unlabelled.txt"
    more.write_text("an unlabelled sentence\nanother one\n")
    sa, clf = str(tmp_path / "sa.safetensors"), str(tmp_path / "clf.safetensors")
    assert main(["classify", "fit", data, "--labels", labels, *TINY, "--cell", "gru",
                 "--pretrain", "sequence-ae", "--pretrain-max-iter", "2", "--unlabelled",
                 str(more), "--pretrain-out", sa, "--out", clf]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("pretrained a SequenceAutoencoder (gru) for 2 epochs on 8 "
                             "sequences")
    assert err[1].startswith("trained 2 epochs on 6 sequences")
    pretrained, model = load(sa), load(clf)
    assert isinstance(pretrained, SequenceAutoencoder)
    assert (pretrained.cell, pretrained.n_components, pretrained.embedding_dim) == ("gru", 4, 4)
    # the classifier adopted the vocabulary learned with the unlabelled sentences
    assert model.vocabulary_ == pretrained.vocabulary_
    assert model.vocabulary_.encode(["unlabelled"])[0] > 1  # a known id, not out of vocabulary

    # --init-from MODEL: the cell and sizes come from the pretrained model unless typed
    def stop(self, *args, **kwargs):
        raise _Stop(self)

    monkeypatch.setattr(SequenceClassifier, "fit", stop)
    with pytest.raises(_Stop) as stopped:
        main(["classify", "fit", data, "--labels", labels, "--init-from", sa, "--out", clf])
    est = stopped.value.args[0]
    assert (est.cell, est.hidden_size, est.embedding_dim) == ("gru", 4, 4)
    assert isinstance(est.init_from, SequenceAutoencoder)
