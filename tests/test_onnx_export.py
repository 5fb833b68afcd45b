"""ONNX export: every model kind's graph, run by onnxruntime, gives the Python model's
outputs; the CLI command; the refusals."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime", reason="ONNX export tests need the [export] extra "
                          "(onnx, onnxruntime)")
pytest.importorskip("onnx", reason="ONNX export tests need the [export] extra (onnx)")

import hiddenstate as hs  # noqa: E402
from hiddenstate._onnx._reader import onnx_inputs  # noqa: E402

#: Largest relative difference allowed: max |onnx - python| / max |python|.
TOL = 1e-5


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def run_graph(model, X, tmp_path, **kw) -> dict:
    path = tmp_path / "model.onnx"
    meta = hs.export_onnx(model, path, **kw)
    assert json.loads((tmp_path / "model.onnx.json").read_text()) == meta
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = X if isinstance(X, dict) else onnx_inputs(meta, X)
    return dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds), strict=True))


def flat(values) -> np.ndarray:
    if isinstance(values, list):
        return np.concatenate([np.asarray(v, np.float64).reshape(len(v), -1) for v in values])
    return np.asarray(values, np.float64)


def rel(got, want) -> float:
    got, want = flat(got), flat(want)
    assert got.shape == want.shape
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def unpad(out, lengths):
    return [o[:n] for o, n in zip(out, lengths, strict=True)]


#: One table shape for every Autoencoder below (the detector's 375 rows leave 300 to train
#: on): their fits and forward passes share compiled programs. 300 rows are more than one
#: inference chunk (256 rows).
ROWS = (300, 6)


@pytest.fixture(scope="module")
def seqs():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((int(rng.integers(4, 12)), 3)).cumsum(0).astype(np.float32)
            for _ in range(48)]


@pytest.fixture(scope="module")
def texts():
    words = "the cat sat on a mat dog ran far film was great bad!".split()
    rng = np.random.default_rng(1)
    return [" ".join(rng.choice(words, int(rng.integers(2, 7)))) for _ in range(40)]


# -- Autoencoder ------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{}, {"tied": False, "loss": "cross_entropy",
                                           "output": "sigmoid", "n_components": 3}])
def test_autoencoder_matches(settings, tmp_path):
    X = np.random.default_rng(2).random(ROWS).astype(np.float32)
    m = hs.Autoencoder(max_iter=3, random_state=0, **settings).fit(X)
    out = run_graph(m, X, tmp_path)
    assert rel(out["transform"], m.transform(X)) <= TOL
    assert rel(out["predict"], m.predict(X)) <= TOL
    assert rel(out["reconstruction_error"], m.reconstruction_error(X)) <= TOL
    codes = m.transform(X[:20])
    inv = run_graph(m, {"codes": codes}, tmp_path, method="inverse_transform")
    assert rel(inv["inverse_transform"], m.inverse_transform(codes)) <= TOL


def test_pipeline_scalers_are_in_the_graph(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    X = (np.random.default_rng(3).random(ROWS) * [1, 10, 100, 1, 5, 50]).astype(np.float32)
    pipe = make_pipeline(StandardScaler(), MinMaxScaler(clip=True),
                         hs.Autoencoder(max_iter=2, random_state=0)).fit(X)
    hs.save(pipe, tmp_path / "pipe")
    loaded = hs.load(tmp_path / "pipe")
    out = run_graph(loaded, X, tmp_path)
    assert out["transform"].shape == (300, 2)
    assert rel(out["transform"], loaded.transform(X)) <= TOL


# -- sequences --------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [
    {"cell": "lstm"},
    {"cell": "gru", "bidirectional": True, "pooling": "mean", "num_layers": 2},
    {"cell": "elman", "pooling": "max", "scale": "series"},
    {"encoder": "conv"},
    {"encoder": "conv+recurrent", "cell": "gru"},
])
def test_sequence_classifier_matches(settings, seqs, tmp_path):
    y = np.array(["a", "b", "c"])[np.arange(len(seqs)) % 3]
    m = hs.SequenceClassifier(hidden_size=6, max_iter=2, random_state=0, **settings)
    m.fit(seqs, y)
    out = run_graph(m, seqs, tmp_path)
    assert rel(out["predict_proba"], m.predict_proba(seqs)) <= TOL
    assert rel(out["transform"], m.transform(seqs)) <= TOL
    assert (out["predict"] == m.predict(seqs).astype(str)).all()


def test_sequence_classifier_on_tokens_and_tables(texts, tmp_path):
    y = np.arange(len(texts)) % 2
    m = hs.SequenceClassifier(hidden_size=6, embedding_dim=5, max_iter=2, random_state=0)
    m.fit(texts, y)
    out = run_graph(m, texts, tmp_path)
    assert rel(out["predict_proba"], m.predict_proba(texts)) <= TOL
    assert (out["predict"] == m.predict(texts)).all()
    meta = json.loads((tmp_path / "model.onnx.json").read_text())
    assert meta["vocabulary"]["tokens"] == m.vocabulary_.tokens
    from hiddenstate._onnx._reader import tokens_of
    from hiddenstate.estimators._tokens import tokenize

    for text in ['"Absolutely BRILLIANT!" (really)...', "don't u.s $9.50 :-) \u2026end?"]:
        assert tokens_of(meta, text) == tokenize(text)
    table = np.random.default_rng(4).standard_normal((30, 9)).astype(np.float32)
    r = hs.SequenceRegressor(hidden_size=6, max_iter=2, random_state=0)
    r.fit(table, table.sum(1) * 3 + 10)
    out = run_graph(r, table, tmp_path)
    assert rel(out["predict"], r.predict(table)) <= TOL


@pytest.mark.parametrize("settings", [{"cell": "lstm"}, {"cell": "gru", "scale": "series"}])
def test_sequence_autoencoder_matches(settings, seqs, tmp_path):
    m = hs.SequenceAutoencoder(n_components=5, max_iter=2, random_state=0, **settings).fit(seqs)
    out = run_graph(m, seqs, tmp_path)
    assert rel(out["transform"], m.transform(seqs)) <= TOL
    assert rel(out["reconstruction_error"], m.reconstruction_error(seqs)) <= TOL
    assert rel(unpad(out["predict"], [len(s) for s in seqs]), m.predict(seqs)) <= TOL


def test_sequence_autoencoder_on_tokens(texts, tmp_path):
    m = hs.SequenceAutoencoder(n_components=5, embedding_dim=4, max_iter=2, random_state=0)
    m.fit(texts)
    out = run_graph(m, texts, tmp_path)
    assert rel(out["reconstruction_error"], m.reconstruction_error(texts)) <= TOL


def test_sequence_model_on_series(seqs, tmp_path):
    m = hs.SequenceModel(hidden_size=6, output="linear", num_layers=2, scale="series",
                         max_iter=2, random_state=0)
    m.fit([s[:-1] for s in seqs], [s[1:] for s in seqs])
    out = run_graph(m, seqs, tmp_path)
    assert rel(unpad(out["predict_proba"], [len(s) for s in seqs]),
               m.predict_proba(seqs)) <= TOL
    want = m.score_samples([s[:-1] for s in seqs], [s[1:] for s in seqs])
    assert rel(out["log_likelihood"], want) <= TOL
    meta = hs.export_onnx(m, tmp_path / "forecast.onnx", method="forecast")
    feeds = {**onnx_inputs(meta, seqs), "steps": np.array(5, np.int64)}
    got = ort.InferenceSession(str(tmp_path / "forecast.onnx")).run(None, feeds)[0]
    assert got.shape == (len(seqs), 5, 3)
    assert rel(got, np.stack(m.forecast(seqs, 5))) <= TOL


@pytest.mark.parametrize("settings", [{}, {"markers": False, "output": "sigmoid",
                                           "cell": "elman"}])
def test_sequence_model_on_symbols(settings, tmp_path):
    strings = ["BTSSXXTVVE", "BPVVE", "BTXSE", "BPTTVPSE", "BTSXSE"] * 4
    m = hs.SequenceModel(hidden_size=6, max_iter=2, random_state=0, **settings).fit(strings)
    out = run_graph(m, strings, tmp_path)
    want = m.predict_proba(strings)
    assert rel(unpad(out["predict_proba"], [len(w) for w in want]), want) <= TOL
    assert rel(out["log_likelihood"], m.score_samples(strings)) <= TOL


def test_sequence_model_on_tokens(texts, tmp_path):
    tokens = [t.split() for t in texts]
    m = hs.SequenceModel(hidden_size=6, embedding_dim=4, max_iter=2, random_state=0)
    m.fit(tokens)
    out = run_graph(m, tokens, tmp_path)
    assert rel(out["log_likelihood"], m.score_samples(tokens)) <= TOL


# -- the detector -----------------------------------------------------------------------------


def _detector_cases(seqs):
    rng = np.random.default_rng(5)
    X = rng.random((ROWS[0] + ROWS[0] // 4, ROWS[1])).astype(np.float32)  # 300 to train
    new_rows = rng.random((200, 6)).astype(np.float32) * 1.3
    new_seqs = [s + 0.3 * rng.standard_normal(s.shape).astype(np.float32) for s in seqs]
    return [(hs.Autoencoder(max_iter=3, random_state=0), X, new_rows, "mean"),
            (hs.SequenceAutoencoder(n_components=5, max_iter=2, random_state=0), seqs * 3,
             new_seqs, "max"),
            (hs.SequenceModel(hidden_size=6, output="linear", max_iter=2, random_state=0),
             seqs * 3, new_seqs, "sum")]


@pytest.mark.parametrize("case", range(3))
def test_anomaly_detector_matches(case, seqs, tmp_path):
    model, train, new, aggregate = _detector_cases(seqs)[case]
    det = hs.AnomalyDetector(model, aggregate=aggregate, random_state=0).fit(train)
    out = run_graph(det, new, tmp_path)
    assert rel(out["score_samples"], det.score_samples(new)) <= TOL
    assert rel(out["decision_function"], det.decision_function(new)) <= 1e-4
    # New inputs: a score within float32 rounding of a calibration score is unlikely, so
    # the ranks (p-values) and the flags agree exactly.
    np.testing.assert_array_equal(out["pvalues"], det.pvalues(new))
    np.testing.assert_array_equal(out["predict"], det.predict(new))


# -- the command and the refusals ---------------------------------------------------------------


def test_cli_export(tmp_path, capsys):
    from hiddenstate.cli import main

    X = np.random.default_rng(6).random(ROWS).astype(np.float32)
    m = hs.Autoencoder(max_iter=2, random_state=0).fit(X)
    m.save(tmp_path / "ae")
    assert main(["export", str(tmp_path / "ae"), str(tmp_path / "ae.onnx")]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "reconstruction_error" in printed
    sess = ort.InferenceSession(str(tmp_path / "ae.onnx"))
    got = sess.run(["transform"], {"X": X})[0]
    assert rel(got, m.transform(X)) <= TOL
    assert main(["export", str(tmp_path / "ae"), str(tmp_path / "inv.onnx"),
                 "--method", "inverse_transform"]) == 0


def test_refusals(seqs, tmp_path, capsys):
    from hiddenstate._onnx._models import ExportError
    from hiddenstate.cli import main

    with pytest.raises(ExportError, match="not fitted"):
        hs.export_onnx(hs.Autoencoder(), tmp_path / "a.onnx")
    with pytest.raises(ExportError, match="cannot be exported.*exportable: Anomaly"):
        hs.export_onnx(object(), tmp_path / "a.onnx")
    # the settings of test_sequence_classifier_matches[settings0] (its compiled programs)
    clf = hs.SequenceClassifier(hidden_size=6, cell="lstm", max_iter=1).fit(
        seqs, np.array(["a", "b", "c"])[np.arange(48) % 3])
    with pytest.raises(ExportError, match="no inverse_transform graph"):
        hs.export_onnx(clf, tmp_path / "a.onnx", method="inverse_transform")
    clf.save(tmp_path / "clf")
    assert main(["export", str(tmp_path / "clf"), str(tmp_path / "c.onnx"),
                 "--method", "inverse_transform"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "no inverse_transform graph" in err
    # A direct forecaster (a fit with horizon leaves horizon_) is refused; set here by hand,
    # as a fit with horizon takes seconds more.
    fc = hs.SequenceModel(hidden_size=6, output="linear", num_layers=2, scale="series",
                          max_iter=1).fit(  # test_sequence_model_on_series's settings
        [s[:-1] for s in seqs], [s[1:] for s in seqs])
    fc.horizon_ = 2
    with pytest.raises(ExportError, match="horizon"):
        hs.export_onnx(fc, tmp_path / "a.onnx")


def test_pipeline_with_a_head_is_refused(tmp_path):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    X = np.random.default_rng(7).random(ROWS)
    pipe = make_pipeline(hs.Autoencoder(max_iter=1), Ridge()).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="Ridge head has no ONNX form"):
        hs.export_onnx(pipe, tmp_path / "p.onnx")


def test_missing_onnx_is_one_clear_error(monkeypatch, tmp_path):
    from hiddenstate._onnx import MissingExtraError

    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(MissingExtraError, match=r"hiddenstate\[export\]"):
        hs.export_onnx(hs.Autoencoder(), tmp_path / "a.onnx")


def test_import_hiddenstate_does_not_import_onnx():
    code = ("import sys, hiddenstate; hiddenstate.export_onnx; "
            "print('onnx' in sys.modules, 'jax' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.split() == ["False", "False"]
