"""The scoring protocol (``estimators/_scoring.py``): a model registered here, in the test
file, works with ``AnomalyDetector`` and ``detect score`` without any change to the
library; the bundled models score as the detector did before the protocol (the files
of tests/fixtures/detectors_0.1.0, written by 0.1.0, reproduce their outputs); the
calibration rules are library functions."""

from __future__ import annotations

import ast
import csv
import io
import json
import runpy
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

import hiddenstate
from hiddenstate import AnomalyDetector, _serialize
from hiddenstate._errors import InputError, ModelFileError
from hiddenstate.cli import main
from hiddenstate.datasets import write_table
from hiddenstate.estimators._anomaly import (
    CalibrationError,
    check_contamination,
    needed_calibration,
    smallest_rate,
)
from hiddenstate.estimators._scoring import Scorable, ScorableMixin, check_scorable

FIXTURES = Path(__file__).parent / "fixtures" / "detectors_0.1.0"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
FIXTURE_NAMES = sorted(k for k in EXPECTED if k != "library_version")
NAMES = ["a", "b", "sum", "diff", "double"]


# -- a toy scorable model, defined and registered here ---------------------------------------


@_serialize.register
class ToyPCA(BaseEstimator):
    """PCA by SVD in NumPy; each row's error terms are its squared reconstruction errors.
    Follows the protocol by duck typing: ``item_unit`` and ``item_errors``, no base class
    from hiddenstate; ``_to_file`` / ``_from_file`` as every model file needs."""

    item_unit = "feature"

    def __init__(self, n_components=2):
        self.n_components = n_components

    def fit(self, X, y=None):
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        X = np.asarray(X, np.float64)
        self.mean_ = X.mean(axis=0)
        self.components_ = np.linalg.svd(X - self.mean_, full_matrices=False)[2][
            : self.n_components]
        self.n_features_in_ = X.shape[1]
        return self

    def _reconstruct(self, X):
        check_is_fitted(self)
        X = np.asarray(X, np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[-1]} features, ToyPCA was fitted on "
                             f"{self.n_features_in_}")
        return X, (X - self.mean_) @ self.components_.T @ self.components_ + self.mean_

    def item_errors(self, X):
        X, R = self._reconstruct(X)
        return (X - R) ** 2

    def _to_file(self):
        names = getattr(self, "feature_names_in_", None)
        config = {"params": self.get_params(), "n_features_in": int(self.n_features_in_),
                  "feature_names_in": None if names is None else list(names)}
        return config, {"mean": self.mean_, "components": self.components_}

    @classmethod
    def _from_file(cls, config, tensors, *, path):
        model = cls(**config["params"])
        model.mean_, model.components_ = tensors["mean"], tensors["components"]
        model.n_features_in_ = int(config["n_features_in"])
        if config["feature_names_in"] is not None:
            model.feature_names_in_ = np.asarray(config["feature_names_in"], dtype=object)
        return model


@_serialize.register
class ToySteps(ScorableMixin, BaseEstimator):
    """Sequences of ``(T, d)`` steps scored by each step's squared distance to the mean
    step of the training data; uses the mixin for its defaults and overrides both hooks:
    its labels name the steps ``step<t>``, and its fit arguments say how many sequences
    were held out for calibration (to prove the detector passes them)."""

    item_unit = "step"

    def fit(self, X, y=None, *, n_held_out=None):
        self.mean_ = np.concatenate([np.asarray(x, np.float64) for x in X]).mean(axis=0)
        self.n_features_in_ = self.mean_.shape[0]
        self.n_held_out_ = n_held_out
        return self

    def item_errors(self, X):
        check_is_fitted(self)
        return [((np.asarray(x, np.float64) - self.mean_) ** 2).sum(axis=1) for x in X]

    def item_labels(self, X, i, entries):
        return [int(t) for t in entries], [f"step{int(t)}" for t in entries]

    def detector_fit_args(self, X, calibration, fit_params):
        return (X,), {**fit_params, "n_held_out": len(calibration)}


def _rows(n, rng):
    """Five features on a 2-D plane (three are sums of the first two), a little noise."""
    t = rng.uniform(-1, 1, (n, 2))
    X = np.c_[t[:, 0], t[:, 1], t[:, 0] + t[:, 1], t[:, 0] - t[:, 1], 2 * t[:, 0]]
    return X + 0.02 * rng.normal(size=X.shape)


@pytest.fixture(scope="module")
def toy():
    """A detector around ToyPCA fitted on 300 named rows, and 10 new rows (the last two
    with one feature broken: ``sum``, then ``double``)."""
    rng = np.random.default_rng(0)
    det = AnomalyDetector(ToyPCA(2), contamination=0.05, random_state=0)
    det.fit(pd.DataFrame(_rows(300, rng), columns=NAMES))
    new = _rows(10, rng)
    new[8, 2] += 2.0
    new[9, 4] -= 3.0
    return det, new


def test_toy_models_follow_the_protocol_and_others_are_refused():
    assert isinstance(ToyPCA(), Scorable) and isinstance(ToySteps(), Scorable)
    check_scorable(ToyPCA())
    assert not isinstance(hiddenstate.SequenceClassifier(), Scorable)
    with pytest.raises(TypeError, match="SequenceClassifier has no item_unit .* and no "
                                        r"item_errors\(X\)"):
        AnomalyDetector(hiddenstate.SequenceClassifier()).fit(np.zeros((30, 2)))

    class NoUnit(ToyPCA):
        item_unit = "pixel"

    with pytest.raises(TypeError, match=r"NoUnit has no item_unit \(one of 'feature', 'step'\)"):
        AnomalyDetector(NoUnit()).fit(np.zeros((30, 2)))


def test_toy_rows_model_scores_calibrates_and_explains(toy):
    det, new = toy
    terms = det.model_.item_errors(new)
    np.testing.assert_array_equal(det.errors(new), terms)
    np.testing.assert_array_equal(det.score_samples(new), -terms.mean(axis=1))
    assert det.calibration_scores_.size == 60 and det.contamination_ == 0.05
    cal = det.calibration_scores_
    np.testing.assert_array_equal(
        det.pvalues(new), (1 + np.searchsorted(cal, -terms.mean(axis=1), side="right")) / 61)
    assert det.predict(new).tolist() == [1] * 8 + [-1, -1]
    assert det.n_features_in_ == 5 and list(det.feature_names_in_) == NAMES
    assert det.kind_ == "toy-pca"
    ex = det.explain(new, top=2)
    assert ex.kind == "feature" and ex.label[8, 0] == "sum" and ex.label[9, 0] == "double"
    assert ex.index[8, 0] == 2 and ex.index[9, 0] == 4
    np.testing.assert_allclose(ex.value, np.sort(terms, axis=1)[:, ::-1][:, :2])
    np.testing.assert_allclose(ex.share, ex.value / terms.sum(axis=1, keepdims=True))
    det.set_params(aggregate="max")
    try:
        np.testing.assert_array_equal(det.score_samples(new), -terms.max(axis=1))
    finally:
        det.set_params(aggregate="mean")


def test_toy_rows_model_file_round_trip(toy, tmp_path):
    det, new = toy
    det.save(tmp_path / "toy.hsd")
    _, config, tensors = _serialize.read(tmp_path / "toy.hsd")
    assert config["model"]["class"] == "ToyPCA" and "kind" not in config
    assert set(tensors) == {"model/mean", "model/components", "calibration_scores/mean",
                            "calibration_scores/sum", "calibration_scores/max"}
    back = hiddenstate.load(tmp_path / "toy.hsd")
    assert type(back.model_) is ToyPCA and back.get_params()["contamination"] == 0.05
    np.testing.assert_array_equal(back.score_samples(new), det.score_samples(new))
    np.testing.assert_array_equal(back.pvalues(new), det.pvalues(new))
    assert back.explain(new).to_strings() == det.explain(new).to_strings()
    assert list(back.feature_names_in_) == NAMES


def test_detect_score_cli_with_a_toy_model(toy, tmp_path, capsys):
    det, new = toy
    det.save(tmp_path / "toy.hsd")
    write_table(tmp_path / "new.csv", new, column_names=NAMES)
    capsys.readouterr()
    assert main(["detect", "score", str(tmp_path / "toy.hsd"), str(tmp_path / "new.csv"),
                 "--top", "1"]) == 0
    out, err = capsys.readouterr()
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["index", "score", "p_value", "outlier", "top_features"]
    X = hiddenstate.datasets.read_table(tmp_path / "new.csv")[0]
    frame = pd.DataFrame(X, columns=NAMES)
    scores = det.score_samples(frame)
    assert [float(r[1]) for r in rows[1:]] == [float(f"{s:.7g}") for s in scores]
    assert [r[3] for r in rows[1:]] == ["0"] * 8 + ["1", "1"]
    assert rows[9][4].startswith("sum=") and rows[10][4].startswith("double=")
    assert "2 of 10 inputs flagged" in err
    # the messages name the model by its class when detect has no --model for it
    assert main(["detect", "score", str(tmp_path / "toy.hsd"), str(tmp_path / "new.csv"),
                 "--analyzer", "word"]) == 2
    assert "holds a ToyPCA detector (rows)" in capsys.readouterr().err


def test_toy_step_model_uses_its_hooks():
    rng = np.random.default_rng(1)
    seqs = [rng.normal(size=(int(t), 2)) for t in rng.integers(2, 6, 50)]
    det = AnomalyDetector(ToySteps(), calibration_fraction=0.4, random_state=0).fit(seqs)
    assert det.model_.n_held_out_ == 20 and det.calibration_scores_.size == 20
    new = [np.zeros((3, 2)), np.array([[0.0, 0.0], [9.0, 0.0]])]
    terms = det.model_.item_errors(new)
    np.testing.assert_array_equal(det.score_samples(new), [-t.mean() for t in terms])
    ex = det.explain(new, top=4)
    assert ex.kind == "step" and ex.index[1].tolist() == [1, 0, -1, -1]
    assert ex.label[1].tolist() == ["step1", "step0", "", ""]
    assert ex.to_strings()[1].startswith("1:step1=")
    # the mixin's defaults: step positions and t=<position> labels, (X,) to fit
    model = det.model_
    assert ScorableMixin.item_labels(model, new, 0, np.array([2, 0])) == ([2, 0], ["t=2", "t=0"])
    assert ScorableMixin.detector_fit_args(model, seqs, None, {"a": 1}) == ((seqs,), {"a": 1})
    with pytest.raises(ValueError, match="would be ignored"):
        AnomalyDetector(det.model_, prefit=True).fit(seqs, n_held_out=3)
    prefit = AnomalyDetector(det.model_, prefit=True).fit(seqs[:20])  # no hook: nothing trains
    assert prefit.model_ is det.model_ and det.model_.n_held_out_ == 20


def test_a_model_that_no_file_can_name_is_refused_on_save(tmp_path):
    class Unregistered(ToyPCA):
        pass

    det = AnomalyDetector(Unregistered(2), random_state=0).fit(_rows(50, np.random.default_rng(0)))
    assert det.score_samples(_rows(3, np.random.default_rng(1))).shape == (3,)
    with pytest.raises(TypeError, match="Unregistered: its class is not registered"):
        det.save(tmp_path / "u.hsd")


# -- files written before the protocol ---------------------------------------------------------


#: The functions of the fixtures' make.py: ``inputs``, ``as_given``, ``outputs``.
MAKE = SimpleNamespace(**runpy.run_path(str(FIXTURES / "make.py")))


def test_every_wrapped_kind_has_an_old_file():
    assert EXPECTED["library_version"] == "0.1.0"
    assert {p.stem for p in FIXTURES.glob("*.hsm")} == set(FIXTURE_NAMES)
    kinds = set()
    for name in FIXTURE_NAMES:
        _, config, _ = _serialize.read(FIXTURES / f"{name}.hsm")
        kinds.add(config["kind"])  # the old layout: kind next to the model's class
    assert kinds == {"autoencoder", "sequence-ae", "sequence-model"}


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_old_detector_files_score_as_before(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det = hiddenstate.load(FIXTURES / f"{name}.hsm")
    X = MAKE.as_given(name, MAKE.inputs()[name][1])
    got, want = MAKE.outputs(det, X), EXPECTED[name]
    assert got.keys() == want.keys()
    for key in ("explain_kind", "explain_index", "explain_label", "predict"):
        assert got[key] == want[key], key
    for key in ("score_samples", "pvalues", "offset"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-6, atol=1e-9, err_msg=key)
    errors = got["errors"] if name.startswith("rows") else np.concatenate(got["errors"])
    want_errors = want["errors"] if name.startswith("rows") else np.concatenate(want["errors"])
    np.testing.assert_allclose(errors, want_errors, rtol=1e-6, atol=1e-9)
    assert det.kind_ == {"rows": "autoencoder", "sae": "sequence-autoencoder",
                         "sm": "sequence-model"}[name.split("_")[0]]


@pytest.mark.parametrize("name", ["rows_frame", "sm_real", "sae_words", "sm_markers"])
def test_bundled_models_give_the_detector_s_old_error_terms_bit_for_bit(name):
    """The terms the detector computed itself before the protocol, from the model's own
    methods, equal its item_errors exactly."""
    det = hiddenstate.load(FIXTURES / f"{name}.hsm")
    X = MAKE.as_given(name, MAKE.inputs()[name][1])
    model = det.model_
    if name == "rows_frame":
        old = np.asarray(model.reconstruction_error(X, per_feature=True), np.float64)
        np.testing.assert_array_equal(det.errors(X), old)
        return
    if name == "sae_words":
        old = [np.asarray(e, np.float64) for e in model.reconstruction_error(X, per_step=True)]
    elif name == "sm_real":
        xs = [np.asarray(x, np.float32) for x in X]
        old = [-s for s in model.score_samples([x[:-1] for x in xs], [x[1:] for x in xs],
                                               per_step=True)]
    else:
        old = [-s for s in model.score_samples(X, per_step=True)]
    new = det.errors(X)
    assert len(new) == len(old)
    for a, b in zip(new, old, strict=True):
        assert a.dtype == np.float64 and np.array_equal(a, b)


def test_a_new_file_names_the_model_by_class_and_loads_again(tmp_path):
    det = hiddenstate.load(FIXTURES / "sm_markers.hsm")
    det.save(tmp_path / "again.hsd")
    _, config, _ = _serialize.read(tmp_path / "again.hsd")
    assert "kind" not in config and config["model"]["class"] == "SequenceModel"
    X = MAKE.inputs()["sm_markers"][1]
    np.testing.assert_array_equal(hiddenstate.load(tmp_path / "again.hsd").score_samples(X),
                                  det.score_samples(X))


def test_old_files_whose_kind_disagrees_or_whose_class_cannot_score_are_refused(tmp_path):
    _, config, tensors = _serialize.read(FIXTURES / "rows_array.hsm")
    bad = json.loads(json.dumps(config))
    bad["kind"] = "sequence-model"
    _serialize.save(tmp_path / "bad.hsd", "AnomalyDetector", bad, tensors)
    with pytest.raises(ModelFileError, match="kind 'sequence-model' does not match the model, "
                                             "a Autoencoder"):
        hiddenstate.load(tmp_path / "bad.hsd")
    bad = json.loads(json.dumps(config))
    bad["model"]["class"] = "SequenceClassifier"
    del bad["kind"]
    _serialize.save(tmp_path / "bad.hsd", "AnomalyDetector", bad, tensors)
    with pytest.raises(ModelFileError, match="'SequenceClassifier' is not one of the scorable "
                                             "models .*no item_unit"):
        hiddenstate.load(tmp_path / "bad.hsd")
    bad["model"]["class"] = "NoSuchModel"
    _serialize.save(tmp_path / "bad.hsd", "AnomalyDetector", bad, tensors)
    with pytest.raises(ModelFileError, match="unknown model class 'NoSuchModel'"):
        hiddenstate.load(tmp_path / "bad.hsd")


def test_the_detector_module_names_no_model_class():
    """``_anomaly.py`` imports no model module at module level and holds no model class
    name outside the reader of 0.1.0 files and the default ``Autoencoder()``."""
    path = Path(hiddenstate.__file__).parent / "estimators" / "_anomaly.py"
    tree = ast.parse(path.read_text())
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    modules = {n.module for n in top if isinstance(n, ast.ImportFrom)}
    assert not modules & {"_autoencoder", "_sequence", "_sequence_ae", "_tokens"}
    assert "kind_ ==" not in path.read_text() and "isinstance(model" not in path.read_text()


# -- calibration rules, as library functions -------------------------------------------------


def test_calibration_rules_are_library_functions():
    assert needed_calibration(0.01) == 99 and needed_calibration(0.05) == 19
    assert smallest_rate(60) == 0.0164 and smallest_rate(99) == 0.01
    assert needed_calibration(smallest_rate(60)) <= 60
    assert check_contamination("auto", 40) == pytest.approx(1 / 41)
    assert check_contamination("auto", 500) == 0.01 and check_contamination(0.05, 19) == 0.05
    with pytest.raises(CalibrationError, match="needs at least 99 calibration inputs") as info:
        check_contamination(0.01, 60)
    e = info.value
    assert isinstance(e, InputError) and isinstance(e, ValueError)
    assert (e.contamination, e.needed, e.n_calibration, e.smallest) == (0.01, 99, 60, 0.0164)
    det = AnomalyDetector(calibration_fraction=0.2)
    assert det.check_calibration(300) == (240, 60)
    assert det.check_calibration(300, 50) == (300, 50)
    assert AnomalyDetector(prefit=True).check_calibration(30) == (0, 30)
    with pytest.raises(CalibrationError, match="n_samples=2: too few") as info:
        det.check_calibration(2)
    assert (info.value.contamination, info.value.n_samples, info.value.n_calibration) == \
        (None, 2, 0)
    with pytest.raises(CalibrationError) as info:
        AnomalyDetector(contamination=0.01).check_calibration(300)
    assert (info.value.n_samples, info.value.n_calibration, info.value.needed) == (300, 60, 99)
    with pytest.raises(CalibrationError) as info:
        AnomalyDetector(contamination=0.01).check_calibration(300, 50)
    assert info.value.n_samples is None
