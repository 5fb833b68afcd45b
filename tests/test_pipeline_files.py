"""hiddenstate.save / load of scikit-learn Pipelines: scalers and one hiddenstate
estimator in one model file, as tensors and JSON."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

import hiddenstate as hs
from hiddenstate import ModelFileError, _serialize


@pytest.fixture(scope="module")
def X():
    return load_breast_cancer().data[:200]


def _ae():
    return hs.Autoencoder(n_components=3, max_iter=5, random_state=0)


@pytest.mark.parametrize("scalers", [
    [StandardScaler()], [MinMaxScaler(feature_range=(-1, 1), clip=True)], [MaxAbsScaler()],
    [RobustScaler(quantile_range=(10.0, 90.0))], [StandardScaler(with_mean=False),
                                                  MinMaxScaler()],
], ids=["standard", "minmax", "maxabs", "robust", "two"])
def test_pipeline_round_trip(X, tmp_path, scalers):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(*scalers, _ae()).fit(X)
    hs.save(pipe, tmp_path / "p.hsm")
    back = hs.load(tmp_path / "p.hsm")
    assert [name for name, _ in back.steps] == [name for name, _ in pipe.steps]
    for (_, a), (_, b) in zip(pipe.steps[:-1], back.steps[:-1], strict=True):
        assert type(a) is type(b) and a.get_params() == b.get_params()
    np.testing.assert_allclose(back.transform(X), pipe.transform(X), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(back.score_samples(X), pipe.score_samples(X), rtol=1e-6)


def test_pipeline_with_detector_and_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    data = load_breast_cancer(as_frame=True).data.iloc[:200]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(StandardScaler(), hs.AnomalyDetector(_ae(), random_state=0))
        pipe.fit(data)
    hs.save(pipe, tmp_path / "d.hsm")
    back = hs.load(tmp_path / "d.hsm")
    assert list(back[0].feature_names_in_) == list(data.columns)
    np.testing.assert_array_equal(back.predict(data), pipe.predict(data))
    np.testing.assert_allclose(back.decision_function(data), pipe.decision_function(data),
                               rtol=1e-6, atol=1e-9)
    assert isinstance(data, pd.DataFrame)


def test_what_cannot_be_saved_is_refused(X, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pca = make_pipeline(PCA(3), _ae()).fit(X)
        logistic = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, X[:, 0] > 10)
    with pytest.raises(TypeError, match="step 0 \\('pca'\\) is a PCA"):
        hs.save(pca, tmp_path / "x.hsm")
    with pytest.raises(TypeError, match="must be a hiddenstate estimator, got LogisticRegression"):
        hs.save(logistic, tmp_path / "x.hsm")
    with pytest.raises(TypeError, match="not a dict"):
        hs.save({}, tmp_path / "x.hsm")
    assert not (tmp_path / "x.hsm").exists()


def test_tampered_pipeline_files_are_refused(X, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(StandardScaler(), _ae()).fit(X)
    config, tensors = hs._pipeline._to_file(pipe)

    def write(cfg, ts):
        _serialize.save(tmp_path / "t.hsm", "Pipeline", cfg, ts)
        return tmp_path / "t.hsm"

    short = {**tensors, "steps/0/mean_": tensors["steps/0/mean_"][:5]}
    with pytest.raises(ModelFileError, match="mean_ must be 30 finite values"):
        hs.load(write(config, short))
    steps = [dict(config["steps"][0], **{"class": "FunctionTransformer"}), config["steps"][1]]
    with pytest.raises(ModelFileError, match="'FunctionTransformer', not one of"):
        hs.load(write({"steps": steps}, tensors))
    steps = [dict(config["steps"][0], n_features_in=29), config["steps"][1]]
    cut = {k: (v[:29] if k.startswith("steps/0/") else v) for k, v in tensors.items()}
    with pytest.raises(ModelFileError, match="gives 29 features, the next step reads 30"):
        hs.load(write({"steps": steps}, cut))
    with pytest.raises(ModelFileError, match="unexpected tensors \\['extra'\\]"):
        hs.load(write(config, {**tensors, "extra": np.zeros(1)}))
    steps = [config["steps"][0], dict(config["steps"][1], **{"class": "Pipeline"})]
    with pytest.raises(ModelFileError, match="is not a hiddenstate estimator"):
        hs.load(write({"steps": steps}, tensors))


def test_input_columns_and_id_column_are_stored_and_validated(X, tmp_path):
    names = [f"c{j}" for j in range(X.shape[1])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(StandardScaler(), _ae()).fit(X)
        ae = _ae().fit(X)
    hs.save(pipe, tmp_path / "p.hsm", columns=names, id_column="id")
    back = hs.load(tmp_path / "p.hsm")
    assert back.input_columns_ == names and back.id_column_ == "id"
    np.testing.assert_allclose(back.transform(X), pipe.transform(X), rtol=1e-6, atol=1e-6)
    # A Pipeline saved without them has None; a plain estimator file loads as before.
    hs.save(pipe, tmp_path / "q.hsm")
    assert hs.load(tmp_path / "q.hsm").input_columns_ is None
    hs.save(ae, tmp_path / "a.hsm")
    assert isinstance(hs.load(tmp_path / "a.hsm"), hs.Autoencoder)
    # An estimator saved with input settings becomes a one-step Pipeline.
    hs.save(ae, tmp_path / "b.hsm", columns=names)
    one = hs.load(tmp_path / "b.hsm")
    assert len(one.steps) == 1 and one.input_columns_ == names and one.id_column_ is None
    np.testing.assert_allclose(one.transform(X), ae.transform(X), rtol=1e-6)

    with pytest.raises(ValueError, match="2 columns, the first step reads 30"):
        hs.save(pipe, tmp_path / "x.hsm", columns=["a", "b"])
    with pytest.raises(ValueError, match="the id column 'c0' is also a feature"):
        hs.save(pipe, tmp_path / "x.hsm", columns=names, id_column="c0")
    with pytest.raises(ValueError, match="name a column twice"):
        hs.save(pipe, tmp_path / "x.hsm", columns=["c0"] * 30)
    assert not (tmp_path / "x.hsm").exists()

    config, tensors = hs._pipeline._to_file(pipe)
    for stored, message in (({"columns": names[:3], "id_column": None}, "3 columns"),
                            ({"columns": names, "id_column": 7}, "id_column must be"),
                            ({"columns": "c0", "id_column": None}, "list of column names"),
                            ({"columns": names, "code": "x"}, "input settings"),
                            ([names], "input settings")):
        _serialize.save(tmp_path / "t.hsm", "Pipeline", {**config, "input": stored}, tensors)
        with pytest.raises(ModelFileError, match=message):
            hs.load(tmp_path / "t.hsm")


def _tampered(tmp_path, config, tensors, step_changes=None):
    steps = [dict(config["steps"][0], **(step_changes or {})), *config["steps"][1:]]
    _serialize.save(tmp_path / "t.hsm", "Pipeline", {**config, "steps": steps}, tensors)
    return tmp_path / "t.hsm"


@pytest.mark.parametrize(("scaler", "array", "value", "message"), [
    (StandardScaler(), "var_", -1.0, "var_ must not be negative, got -1"),
    (StandardScaler(), "scale_", -2.0, "scale_ must be positive, got -2"),
    (StandardScaler(), "scale_", 0.0, "scale_ must be positive, got 0"),
    (StandardScaler(), "mean_", np.nan, "mean_ must be 30 finite values, got nan"),
    (StandardScaler(), "mean_", np.inf, "mean_ must be 30 finite values, got inf"),
    (MinMaxScaler(), "scale_", 0.0, "scale_ must be positive"),
    (MinMaxScaler(), "data_range_", -3.0, "data_range_ must not be negative"),
    (MaxAbsScaler(), "max_abs_", -1.0, "max_abs_ must not be negative"),
    (RobustScaler(), "scale_", -0.5, "scale_ must be positive"),
])
def test_scaler_arrays_out_of_range_are_refused(X, tmp_path, scaler, array, value, message):
    """Issue 25: a negative variance or scale moved scores wildly (-204,221) and a zero
    scale was blamed on the data; each is refused at load, naming the file and field."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(scaler, _ae()).fit(X)
    config, tensors = hs._pipeline._to_file(pipe)
    bad = tensors[f"steps/0/{array}"].copy()
    bad[3] = value
    path = _tampered(tmp_path, config, {**tensors, f"steps/0/{array}": bad})
    with pytest.raises(ModelFileError, match=message) as info:
        hs.load(path)
    assert str(info.value).startswith(f"{path}: step 0 ({type(scaler).__name__}) {array}")


def test_scaler_arrays_of_integers_or_booleans_or_unset_are_refused(X, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(StandardScaler(), _ae()).fit(X)
    config, tensors = hs._pipeline._to_file(pipe)
    for array, dtype in (("scale_", np.int64), ("var_", np.int32), ("mean_", np.bool_)):
        cast = {**tensors, f"steps/0/{array}": np.ones(30, dtype)}
        with pytest.raises(ModelFileError, match=f"{array} must hold floats, got "
                                                 f"{np.dtype(dtype)}"):
            hs.load(_tampered(tmp_path, config, cast))
    # "none" for an array the settings use (it failed later with an AttributeError).
    for array in ("mean_", "scale_", "var_"):
        kept = {k: v for k, v in tensors.items() if k != f"steps/0/{array}"}
        with pytest.raises(ModelFileError, match=f"{array} is unset, but the settings use"):
            hs.load(_tampered(tmp_path, config, kept, {"none": [array]}))
    minmax = make_pipeline(MinMaxScaler(), _ae()).fit(X)
    config, tensors = hs._pipeline._to_file(minmax)
    kept = {k: v for k, v in tensors.items() if k != "steps/0/min_"}
    with pytest.raises(ModelFileError, match="min_ is unset"):
        hs.load(_tampered(tmp_path, config, kept, {"none": ["min_"]}))


@pytest.mark.parametrize("scaler", [StandardScaler(with_mean=False, with_std=False),
                                    StandardScaler(with_std=False),
                                    RobustScaler(with_centering=False, with_scaling=False)])
def test_arrays_the_settings_leave_unset_still_load(X, tmp_path, scaler):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = make_pipeline(scaler, _ae()).fit(X)
    hs.save(pipe, tmp_path / "p.hsm")
    back = hs.load(tmp_path / "p.hsm")
    np.testing.assert_allclose(back[0].transform(X), pipe[0].transform(X))
