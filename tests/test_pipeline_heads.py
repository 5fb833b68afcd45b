"""hiddenstate.save / load of Pipelines that end in a scikit-learn linear head
(LogisticRegression, Ridge, LinearSVC) after a hiddenstate transformer: tensors and JSON,
predictions equal after loading; what cannot be saved is refused naming its step."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

import hiddenstate as hs
from hiddenstate import ModelFileError, _serialize


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:150], y[:150]


def _fit(X, y, head):
    pipe = Pipeline([("scale", StandardScaler()),
                     ("ae", hs.Autoencoder(n_components=3, max_iter=5, random_state=0)),
                     ("head", head)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipe.fit(X, y)


@pytest.mark.parametrize(("head", "target"), [
    (LogisticRegression(), "binary"),
    (LogisticRegression(C=0.5, class_weight={"a": 2.0, "b": 1.0}), "three"),
    (LinearSVC(C=0.1), "binary"),
    (LinearSVC(), "three"),
    (Ridge(alpha=0.3), "value"),
    (Ridge(fit_intercept=False), "two values"),
], ids=["logistic", "logistic-3-classes", "linear-svc", "linear-svc-3", "ridge", "ridge-2"])
def test_saved_heads_predict_identically(data, tmp_path, head, target):
    X, y = data
    codes = {"binary": y, "three": np.array(["a", "b", "c"])[np.arange(len(y)) % 3],
             "value": X[:, 0], "two values": X[:, :2]}[target]
    pipe = _fit(X, codes, head)
    hs.save(pipe, tmp_path / "p.hsm")
    back = hs.load(tmp_path / "p.hsm")
    assert [n for n, _ in back.steps] == ["scale", "ae", "head"]
    assert type(back[-1]) is type(head) and back[-1].get_params() == pipe[-1].get_params()
    np.testing.assert_array_equal(back.predict(X), pipe.predict(X))
    for method in ("decision_function", "predict_proba"):
        if hasattr(head, method):
            np.testing.assert_allclose(getattr(back, method)(X), getattr(pipe, method)(X),
                                       rtol=1e-6, atol=1e-7)
    if hasattr(head, "classes_"):
        assert back[-1].classes_.dtype == pipe[-1].classes_.dtype


def test_a_sequence_autoencoder_with_a_head(tmp_path):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(int(rng.integers(4, 8)), 2)).astype(np.float32) for _ in range(24)]
    y = np.array([int(x[:, 0].mean() > 0) for x in X])
    pipe = Pipeline([("seq", hs.SequenceAutoencoder(n_components=3, max_iter=2,
                                                    random_state=0)),
                     ("clf", LogisticRegression())])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y)
    hs.save(pipe, tmp_path / "s.hsm")
    back = hs.load(tmp_path / "s.hsm")
    np.testing.assert_allclose(back.predict_proba(X), pipe.predict_proba(X), rtol=1e-6)


def test_what_cannot_be_saved_names_its_step(data, tmp_path):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        svc = Pipeline([("scale", StandardScaler()),
                        ("ae", hs.Autoencoder(n_components=3, max_iter=2, random_state=0)),
                        ("svc", SVC())]).fit(X, y)
        two = Pipeline([("ae", hs.Autoencoder(n_components=3, max_iter=2, random_state=0)),
                        ("lr", LogisticRegression()), ("ridge", Ridge())])
        pca = Pipeline([("pca", PCA(3)), ("ae", hs.Autoencoder(max_iter=2))]).fit(X)
        head_only = Pipeline([("scale", StandardScaler()),
                              ("lr", LogisticRegression())]).fit(X, y)
        no_transform = Pipeline([("det", hs.AnomalyDetector(hs.Autoencoder(max_iter=2))),
                                 ("lr", LogisticRegression())])
    with pytest.raises(TypeError, match=r"^step 2 \('svc'\) is an SVC: a saved Pipeline "
                                        r"holds scalers .* optionally one linear head "
                                        r"\(LogisticRegression, Ridge, LinearSVC\)"):
        hs.save(svc, tmp_path / "x.hsm")
    with pytest.raises(TypeError, match=r"^step 2 \('ridge'\) is a Ridge: a saved Pipeline "
                                        r"ends at its linear head \(step 1\)"):
        hs.save(two, tmp_path / "x.hsm")
    with pytest.raises(TypeError, match=r"^step 0 \('pca'\) is a PCA: "):
        hs.save(pca, tmp_path / "x.hsm")
    with pytest.raises(TypeError, match=r"^step 1 \('lr'\): the step after the scalers must "
                                        r"be a hiddenstate estimator, got LogisticRegression"):
        hs.save(head_only, tmp_path / "x.hsm")
    with pytest.raises(TypeError, match=r"^step 0 \('det'\) is an AnomalyDetector, which has "
                                        r"no transform"):
        hs.save(no_transform, tmp_path / "x.hsm")
    assert not (tmp_path / "x.hsm").exists()


def test_tampered_heads_are_refused(data, tmp_path):
    X, y = data
    hs.save(_fit(X, y, LogisticRegression()), tmp_path / "p.hsm")
    config, tensors = _read(tmp_path / "p.hsm")
    head = config["steps"][-1]
    assert head["class"] == "LogisticRegression" and "pickle" not in json.dumps(config)
    cases = [
        ({**head, "params": {**head["params"], "C": -1.0}}, tensors, "step 2"),
        ({**head, "params": {**head["params"], "evil": 1}}, tensors, "settings must be"),
        ({**head, "fitted": {**head["fitted"], "__class__": {"value": 1, "dtype": None}}},
         tensors, "fitted attributes must be"),
        (head, {k: v for k, v in tensors.items() if not k.endswith("coef_")},
         "no finite float tensor coef_"),
        ({**head, "shapes": {**head["shapes"], "coef_": [2, 3]}},
         {**tensors, "steps/2/coef_": np.zeros((2, 3))}, "do not fit"),
        (head, {**tensors, "steps/2/coef_": np.zeros((2, 3))}, "not the shape"),
        ({**head, "fitted": {**head["fitted"],
                             "classes_": {"value": [0, 1, 2], "dtype": "<i8"}}}, tensors,
         "classes_ do not fit coef_"),
    ]
    for stored, ts, match in cases:
        cfg = {**config, "steps": [*config["steps"][:-1], stored]}
        _serialize.save(tmp_path / "t.hsm", "Pipeline", cfg, ts)
        with pytest.raises(ModelFileError, match=match):
            hs.load(tmp_path / "t.hsm")


def _read(path):
    """The config and tensors of a Pipeline file, by loading it and saving the parts."""
    from hiddenstate._pipeline import _to_file

    return _to_file(hs.load(path))
