"""scikit-learn Pipelines of scalers, one hiddenstate estimator and a linear head, in
model files.

A model trained on scaled data is only usable with the same scaling, so the two are
saved together: :func:`save` writes a fitted ``Pipeline`` whose steps are scalers
(:data:`SCALERS`) followed by one hiddenstate estimator and, optionally, one of
scikit-learn's linear models reading the estimator's codes (:data:`HEADS`), and
:func:`hiddenstate.load` gives the Pipeline back. The scalers' and the head's fitted
arrays are tensors and their settings JSON, like the estimator's own: nothing is
pickled, and loading runs no code from the file.
"""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np

from . import _serialize
from ._errors import ModelFileError

__all__ = ["HEADS", "SCALERS", "save"]

#: The scalers a saved Pipeline may hold: class name -> (settings, fitted arrays).
SCALERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "StandardScaler": (("with_mean", "with_std", "copy"), ("mean_", "var_", "scale_")),
    "MinMaxScaler": (("feature_range", "clip", "copy"),
                     ("min_", "scale_", "data_min_", "data_max_", "data_range_")),
    "MaxAbsScaler": (("copy",), ("max_abs_", "scale_")),
    "RobustScaler": (("with_centering", "with_scaling", "quantile_range", "unit_variance",
                      "copy"), ("center_", "scale_")),
}
#: The linear heads a saved Pipeline may end in, after a hiddenstate transformer: class
#: name -> (module, fitted float arrays stored as tensors, other fitted attributes stored
#: as JSON). Their settings are stored too (``get_params``), so predict,
#: decision_function and predict_proba give what they gave before saving.
HEADS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "LogisticRegression": ("sklearn.linear_model", ("coef_", "intercept_"),
                           ("classes_", "n_features_in_", "n_iter_")),
    "Ridge": ("sklearn.linear_model", ("coef_", "intercept_"),
              ("n_features_in_", "n_iter_", "solver_")),
    "LinearSVC": ("sklearn.svm", ("coef_", "intercept_"),
                  ("classes_", "n_features_in_", "n_iter_")),
}
_PREFIX = "steps/"
#: What a fitted array may hold beyond finite values: a scale divides, so it is positive
#: (scikit-learn turns a zero scale into 1); a variance, a range or a largest absolute
#: value is never negative.
_POSITIVE = ("scale_",)
_NON_NEGATIVE = ("var_", "data_range_", "max_abs_")
#: The arrays a scaler leaves unset (None), and the settings that must all be False for
#: it to do so; every other array must be stored.
_UNSET_WHEN_OFF = {
    "StandardScaler": {"mean_": ("with_mean",), "var_": ("with_std",), "scale_": ("with_std",)},
    "RobustScaler": {"center_": ("with_centering",), "scale_": ("with_scaling",)},
}


def _scaler_classes() -> dict[str, type]:
    from sklearn import preprocessing

    return {name: getattr(preprocessing, name) for name in SCALERS}


def _json_value(value):
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    raise TypeError(f"cannot store the setting {value!r}")


def _estimator_to_file(est) -> tuple[dict, dict]:
    to_file = getattr(type(est), "_to_file", None)
    if to_file is None or not _serialize.is_registered(type(est)):
        raise TypeError(f"the last step of a saved Pipeline must be a hiddenstate estimator, "
                        f"got {type(est).__name__}")
    return est._to_file()


def _what(step) -> str:
    """How a message names a step: ``a PCA``, ``an Autoencoder``, ``'passthrough'``."""
    if step is None or isinstance(step, str):
        return repr(step)
    kind = type(step).__name__
    # An acronym is read by its letters: an SVC, an LSTM, a PCA.
    sounds = "AEFHILMNORSX" if kind[:2].isupper() else "AEIOUaeiou"
    return f"{'an' if kind[:1] in sounds else 'a'} {kind}"


def _is_scaler(step) -> bool:
    kind = type(step).__name__
    return kind in SCALERS and type(step) is _scaler_classes()[kind]


def _is_head(step) -> bool:
    kind = type(step).__name__
    return kind in HEADS and type(step) is _head_class(kind)


def _head_class(kind: str) -> type:
    import importlib

    return getattr(importlib.import_module(HEADS[kind][0]), kind)


_SHAPE = (f"a saved Pipeline holds scalers ({', '.join(SCALERS)}), then one hiddenstate "
          f"estimator, then optionally one linear head ({', '.join(HEADS)})")


def _parts(pipeline) -> tuple[int, int | None]:
    """``(index of the hiddenstate estimator, index of the head or None)``; a TypeError
    naming the first step that does not fit :data:`_SHAPE`."""
    steps = pipeline.steps
    i = 0
    while i < len(steps) and _is_scaler(steps[i][1]):
        i += 1
    if i == len(steps):
        raise TypeError(f"{_SHAPE}; this one has only scalers")
    name, step = steps[i]
    if not _serialize.is_registered(type(step)) or getattr(type(step), "_to_file", None) \
            is None:
        if _is_head(step) or i == len(steps) - 1:
            raise TypeError(f"step {i} ({name!r}): the step after the scalers must be a "
                            f"hiddenstate estimator, got {type(step).__name__}")
        raise TypeError(f"step {i} ({name!r}) is {_what(step)}: {_SHAPE}")
    if i == len(steps) - 1:
        return i, None
    head_name, head = steps[i + 1]
    if not _is_head(head):
        raise TypeError(f"step {i + 1} ({head_name!r}) is {_what(head)}: {_SHAPE}")
    if not hasattr(step, "transform"):
        raise TypeError(f"step {i} ({name!r}) is {_what(step)}, which has no transform: a "
                        f"linear head (step {i + 1}) reads the codes of a hiddenstate "
                        "transformer (Autoencoder, SequenceAutoencoder, ...)")
    if i + 2 < len(steps):
        extra_name, extra = steps[i + 2]
        raise TypeError(f"step {i + 2} ({extra_name!r}) is {_what(extra)}: a saved Pipeline "
                        f"ends at its linear head (step {i + 1})")
    return i, i + 1


def _scaler_to_file(i: int, name: str, step, tensors: dict) -> dict:
    from sklearn.utils.validation import check_is_fitted

    kind = type(step).__name__
    check_is_fitted(step)
    settings, arrays = SCALERS[kind]
    stored = {"name": name, "class": kind,
              "params": {k: _json_value(getattr(step, k)) for k in settings},
              "n_features_in": int(step.n_features_in_),
              "n_samples_seen": (np.asarray(step.n_samples_seen_).tolist()
                                 if hasattr(step, "n_samples_seen_") else None),
              "feature_names_in": (None if not hasattr(step, "feature_names_in_")
                                   else [str(c) for c in step.feature_names_in_]),
              "none": []}
    for a in arrays:
        value = getattr(step, a)
        if value is None:
            stored["none"].append(a)
        else:
            tensors[f"{_PREFIX}{i}/{a}"] = np.asarray(value, np.float64)
    return stored


def _to_file(pipeline) -> tuple[dict, dict[str, np.ndarray]]:
    at, head_at = _parts(pipeline)
    steps, tensors = [], {}
    for i, (name, step) in enumerate(pipeline.steps[:at]):
        steps.append(_scaler_to_file(i, name, step, tensors))
    last_name, last = pipeline.steps[at]
    config, inner = _estimator_to_file(last)
    steps.append({"name": last_name, "class": type(last).__name__, "config": config})
    prefix = f"{_PREFIX}{at}/"
    tensors.update({prefix + k: v for k, v in inner.items()})
    if head_at is not None:
        steps.append(_head_to_file(head_at, *pipeline.steps[head_at], tensors))
    return {"steps": steps}, tensors


# -- linear heads ----------------------------------------------------------------------------


def _setting_to_json(value):
    """A head's setting as JSON (a dict, e.g. ``class_weight``, as its pairs)."""
    if isinstance(value, dict):
        return {"pairs": [[_json_value(k), _json_value(v)] for k, v in value.items()]}
    return _json_value(value)


def _setting_from_json(value):
    if isinstance(value, dict):
        pairs = value.get("pairs")
        if set(value) != {"pairs"} or not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 for p in pairs):
            raise ValueError(f"a setting {value!r}")
        return {k: v for k, v in pairs}
    return tuple(value) if isinstance(value, list) else value


#: dtypes a head's JSON attributes (classes, counts) may have.
_ATTRIBUTE_KINDS = "biufUO"


def _attribute_to_json(value):
    """A fitted attribute as JSON: ``{"value": ..., "dtype": None or an array's dtype}``."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _ATTRIBUTE_KINDS or (
                value.dtype.kind == "O" and not all(isinstance(v, str) for v in value.flat)):
            raise TypeError(f"cannot store an array of {value.dtype}")
        return {"value": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        value = value.item()
    return {"value": _json_value(value), "dtype": None}


def _attribute_from_json(stored):
    if not isinstance(stored, dict) or set(stored) != {"value", "dtype"}:
        raise ValueError("not {value, dtype}")
    if stored["dtype"] is None:
        value = stored["value"]
        if isinstance(value, list | dict):
            raise ValueError(f"{value!r} is not one value")
        return value
    dtype = np.dtype(stored["dtype"])
    if dtype.kind not in _ATTRIBUTE_KINDS:
        raise ValueError(f"dtype {dtype}")
    value = np.array(stored["value"], dtype=dtype)
    if dtype.kind == "O" and not all(isinstance(v, str) for v in value.flat):
        raise ValueError("an object array holds only strings")
    return value


def _head_to_file(i: int, name: str, head, tensors: dict) -> dict:
    from sklearn.utils.validation import check_is_fitted

    kind = type(head).__name__
    check_is_fitted(head)
    _, arrays, attributes = HEADS[kind]
    where = f"step {i} ({name!r}, {kind})"
    try:
        params = {k: _setting_to_json(v) for k, v in head.get_params().items()}
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}: give it settings of numbers, strings, None or "
                        "dicts of them") from None
    shapes = {}
    for a in arrays:
        value = np.asarray(getattr(head, a), np.float64)
        tensors[f"{_PREFIX}{i}/{a}"] = value.reshape(-1) if value.ndim == 0 else value
        shapes[a] = list(value.shape)
    return {"name": name, "class": kind, "params": params, "shapes": shapes,
            "fitted": {a: _attribute_to_json(getattr(head, a)) for a in attributes
                       if hasattr(head, a)}}


def _head_from_file(i: int, stored: dict, tensors: dict, path):
    """The fitted head of step ``i``, its arrays checked against its settings."""
    kind = stored.get("class")
    where = f"{path}: step {i} ({kind})"
    cls = _head_class(kind)
    _, arrays, attributes = HEADS[kind]
    params, fitted = stored.get("params"), stored.get("fitted")
    known = set(cls().get_params())
    if not isinstance(params, dict) or not set(params) <= known:
        raise ModelFileError(f"{where} settings must be some of {sorted(known)}")
    if not isinstance(fitted, dict) or not set(fitted) <= set(attributes) \
            or "n_features_in_" not in fitted:
        raise ModelFileError(f"{where} fitted attributes must be some of {list(attributes)}, "
                             "n_features_in_ among them")
    try:
        head = cls(**{k: _setting_from_json(v) for k, v in params.items()})
        head._validate_params()
        for a, value in fitted.items():
            setattr(head, a, _attribute_from_json(value))
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{where}: {exc}") from None
    n = head.n_features_in_
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ModelFileError(f"{where} n_features_in_ {n!r}")
    shapes = stored.get("shapes")
    if not isinstance(shapes, dict) or set(shapes) != set(arrays):
        raise ModelFileError(f"{where} shapes must name {list(arrays)}")
    for a in arrays:
        key = f"{_PREFIX}{i}/{a}"
        if key not in tensors or np.asarray(tensors[key]).dtype.kind != "f" \
                or not np.isfinite(tensors[key]).all():
            raise ModelFileError(f"{where} has no finite float tensor {a}")
        value = np.asarray(tensors[key], np.float64)
        shape = shapes[a]
        if not (isinstance(shape, list) and len(shape) <= 2 and all(
                isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in shape)
                and int(np.prod(shape)) == value.size):
            raise ModelFileError(f"{where} {a} has {value.size} values, not the shape {shape}")
        setattr(head, a, value.reshape(shape))
    _check_head_shapes(head, where)
    if head.intercept_.ndim == 0:  # Ridge on one target
        head.intercept_ = head.intercept_[()]
    return stored.get("name"), head


def _check_head_shapes(head, where: str) -> None:
    coef, intercept = head.coef_, head.intercept_
    rows = coef.shape[:-1] if coef.ndim == 2 else ()
    if coef.ndim not in (1, 2) or coef.shape[-1] != head.n_features_in_ \
            or intercept.shape not in (rows, ()):
        raise ModelFileError(f"{where}: coef_ {list(coef.shape)} and intercept_ "
                             f"{list(intercept.shape)} do not fit {head.n_features_in_} "
                             "features")
    classes = getattr(head, "classes_", None)
    if hasattr(head, "predict_proba") or type(head).__name__ == "LinearSVC":
        if classes is None or classes.ndim != 1 or len(set(classes.tolist())) != len(classes) \
                or len(classes) < 2 or coef.ndim != 2 \
                or coef.shape[0] != (1 if len(classes) == 2 else len(classes)):
            raise ModelFileError(f"{where}: classes_ do not fit coef_ {list(coef.shape)}")


def _check_input(columns, id_column, n_features, where: str) -> None:
    """The input settings of a Pipeline file; ``ValueError(where: ...)`` when invalid."""
    if columns is not None:
        if not (isinstance(columns, list | tuple) and all(isinstance(c, str) and c
                                                          for c in columns)):
            raise ValueError(f"{where}: columns must be a list of column names")
        if len(set(columns)) != len(columns):
            raise ValueError(f"{where}: columns {list(columns)!r} name a column twice")
        if n_features is not None and len(columns) != n_features:
            raise ValueError(f"{where}: {len(columns)} columns, the first step reads "
                             f"{n_features} features")
    if id_column is not None:
        if not isinstance(id_column, str) or not id_column:
            raise ValueError(f"{where}: id_column must be a column name")
        if columns is not None and id_column in columns:
            raise ValueError(f"{where}: the id column {id_column!r} is also a feature")


def save(obj, path: str | os.PathLike, *, columns=None, id_column: str | None = None) -> None:
    """Write a fitted hiddenstate estimator, or a fitted scikit-learn ``Pipeline`` of
    scalers (:data:`SCALERS`) and one hiddenstate estimator, to ``path`` (safetensors +
    JSON, atomically); :func:`hiddenstate.load` reads either back.

    ``columns`` (the names of the input columns the first step reads, in order) and
    ``id_column`` (a column that is not a feature, carried to outputs) are stored with
    a Pipeline as JSON settings; the loaded Pipeline has them as ``input_columns_`` and
    ``id_column_`` (None when not stored). An estimator saved with either is stored as
    a one-step Pipeline. The command line's ``--columns``, ``--drop`` and
    ``--id-column`` are these settings.
    """
    from sklearn.pipeline import Pipeline

    if (columns is not None or id_column is not None) and not isinstance(obj, Pipeline):
        if not _serialize.is_registered(type(obj)):
            raise TypeError(f"hiddenstate.save writes hiddenstate estimators and Pipelines "
                            f"of scalers and one hiddenstate estimator, not a "
                            f"{type(obj).__name__}")
        obj = Pipeline([(type(obj).__name__.lower(), obj)])
    if isinstance(obj, Pipeline):
        config, tensors = _to_file(obj)
        if columns is not None or id_column is not None:
            columns = None if columns is None else [str(c) for c in columns]
            first = obj.steps[0][1]
            _check_input(columns, id_column, getattr(first, "n_features_in_", None), "save")
            config["input"] = {"columns": columns, "id_column": id_column}
        _serialize.save(path, "Pipeline", config, tensors)
        return
    if _serialize.is_registered(type(obj)) and hasattr(obj, "save"):
        obj.save(path)
        return
    raise TypeError(f"hiddenstate.save writes hiddenstate estimators and Pipelines of scalers "
                    f"and one hiddenstate estimator, not a {type(obj).__name__}")


def _scaler_from_file(i: int, stored: dict, tensors: dict, path):
    kind = stored.get("class")
    if kind not in SCALERS:
        raise ModelFileError(f"{path}: step {i} is a {kind!r}, not one of {', '.join(SCALERS)}")
    settings, arrays = SCALERS[kind]
    params = stored.get("params")
    if not isinstance(params, dict) or set(params) != set(settings):
        raise ModelFileError(f"{path}: step {i} ({kind}) settings must be {sorted(settings)}")
    if "feature_range" in params or "quantile_range" in params:
        key = "feature_range" if "feature_range" in params else "quantile_range"
        if not isinstance(params[key], list):
            raise ModelFileError(f"{path}: step {i} ({kind}) {key} is not a pair")
        params = {**params, key: tuple(params[key])}
    scaler = _scaler_classes()[kind](**params)
    try:
        scaler._validate_params()
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: step {i} ({kind}): {exc}") from None
    n = stored.get("n_features_in")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ModelFileError(f"{path}: step {i} ({kind}) n_features_in {n!r}")
    none = stored.get("none", [])
    if not isinstance(none, list) or not set(none) <= set(arrays):
        raise ModelFileError(f"{path}: step {i} ({kind}) invalid list of unset arrays")
    unset = _UNSET_WHEN_OFF.get(kind, {})
    for a in arrays:
        key = f"{_PREFIX}{i}/{a}"
        if a in none:
            if a not in unset or any(params[s] for s in unset[a]):
                raise ModelFileError(f"{path}: step {i} ({kind}) {a} is unset, but the "
                                     f"settings use it")
            setattr(scaler, a, None)
            continue
        if key not in tensors:
            raise ModelFileError(f"{path}: step {i} ({kind}) has no tensor {a}")
        setattr(scaler, a, _fitted_array(tensors[key], n, a, f"{path}: step {i} ({kind})"))
    # An int, a float (StandardScaler counts in float64), one count per feature, or
    # nothing (RobustScaler keeps no count).
    if stored.get("n_samples_seen") is None:
        return _finish(scaler, stored, n, i, kind, path)
    seen = np.asarray(stored["n_samples_seen"])
    if seen.dtype.kind not in "iuf" or seen.ndim > 1 or not np.isfinite(seen).all() \
            or (seen < 0).any() or (seen != np.round(seen)).any():
        raise ModelFileError(f"{path}: step {i} ({kind}) n_samples_seen {seen.tolist()!r}")
    if seen.ndim == 1:
        scaler.n_samples_seen_ = seen.astype(np.int64)
    else:
        scaler.n_samples_seen_ = np.float64(seen) if seen.dtype.kind == "f" else int(seen)
    return _finish(scaler, stored, n, i, kind, path)


def _fitted_array(stored, n: int, name: str, where: str) -> np.ndarray:
    """A scaler's fitted array ``name`` as loaded: ``n`` finite floats, in its range (a
    scale is positive, a variance, range or largest value not negative); else
    ModelFileError saying ``where`` (the file and the step) and ``name``."""
    where = f"{where} {name}"
    dtype = np.asarray(stored).dtype
    if dtype.kind != "f":
        raise ModelFileError(f"{where} must hold floats, got {dtype}")
    value = np.asarray(stored, np.float64)
    if value.shape != (n,):
        raise ModelFileError(f"{where} must be {n} finite values, got shape "
                             f"{list(value.shape)}")
    if not np.isfinite(value).all():
        raise ModelFileError(f"{where} must be {n} finite values, got "
                             f"{value[~np.isfinite(value)][0]}")
    if name in _POSITIVE and (value <= 0).any():
        raise ModelFileError(f"{where} must be positive, got {value[value <= 0][0]:g}")
    if name in _NON_NEGATIVE and (value < 0).any():
        raise ModelFileError(f"{where} must not be negative, got {value[value < 0][0]:g}")
    return value


def _finish(scaler, stored: dict, n: int, i: int, kind: str, path):
    scaler.n_features_in_ = n
    names = stored.get("feature_names_in")
    if names is not None:
        if not (isinstance(names, list) and len(names) == n
                and all(isinstance(c, str) for c in names)):
            raise ModelFileError(f"{path}: step {i} ({kind}) feature names")
        scaler.feature_names_in_ = np.asarray(names, dtype=object)
    return stored.get("name"), scaler


@_serialize.register
class Pipeline:
    """Reads a saved Pipeline (the model file's class ``"Pipeline"``): see :func:`save`."""

    @classmethod
    def _from_file(cls, config: dict, tensors: dict, *, path):
        from sklearn.pipeline import Pipeline as SkPipeline

        steps = config.get("steps")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, dict)
                                                               for s in steps):
            raise ModelFileError(f"{path}: the Pipeline's steps are missing")
        head = steps[-1] if len(steps) > 1 and steps[-1].get("class") in HEADS else None
        if head is not None:
            steps = steps[:-1]
        out = [_scaler_from_file(i, s, tensors, path) for i, s in enumerate(steps[:-1])]
        last = steps[-1]
        try:
            est_cls = _serialize.class_for(last.get("class"), path=path)
        except ModelFileError:
            est_cls = None
        if est_cls is None or est_cls is cls or not isinstance(last.get("config"), dict):
            raise ModelFileError(f"{path}: the Pipeline's step {last.get('class')!r} is not a "
                                 "hiddenstate estimator")
        prefix = f"{_PREFIX}{len(steps) - 1}/"
        known_keys = {f"{_PREFIX}{i}/{a}" for i, s in enumerate(steps[:-1])
                      for a in SCALERS[s["class"]][1]}
        if head is not None:
            known_keys |= {f"{_PREFIX}{len(steps)}/{a}" for a in HEADS[head["class"]][1]}
        unexpected = sorted(k for k in tensors if not k.startswith(prefix)
                            and k not in known_keys)
        if unexpected:
            raise ModelFileError(f"{path}: unexpected tensors {unexpected}")
        est = est_cls._from_file(last["config"],
                                 {k[len(prefix):]: v for k, v in tensors.items()
                                  if k.startswith(prefix)}, path=path)
        tail = [(last.get("name"), est)]
        if head is not None:
            if not hasattr(est, "transform"):
                raise ModelFileError(f"{path}: a linear head follows a {type(est).__name__}, "
                                     "which has no transform")
            tail.append(_head_from_file(len(steps), head, tensors, path))
        names = [name for name, _ in out] + [name for name, _ in tail]
        if not all(isinstance(n, str) and n and "__" not in n for n in names) \
                or len(set(names)) != len(names):
            raise ModelFileError(f"{path}: the Pipeline's step names {names!r}")
        for (name, scaler), nxt in zip(out, [*(s for _, s in out), est][1:], strict=True):
            width = getattr(nxt, "n_features_in_", None)
            if width is not None and int(width) != scaler.n_features_in_:
                raise ModelFileError(f"{path}: step {name!r} gives {scaler.n_features_in_} "
                                     f"features, the next step reads {width}")
        pipeline = SkPipeline([*out, *tail])
        stored = config.get("input", {})
        if not isinstance(stored, dict) or not set(stored) <= {"columns", "id_column"}:
            raise ModelFileError(f"{path}: the Pipeline's input settings are not "
                                 "{columns, id_column}")
        columns, id_column = stored.get("columns"), stored.get("id_column")
        first = out[0][1] if out else est
        try:
            _check_input(columns, id_column, getattr(first, "n_features_in_", None),
                         f"{path}")
        except ValueError as exc:
            raise ModelFileError(str(exc)) from None
        pipeline.input_columns_ = None if columns is None else list(columns)
        pipeline.id_column_ = id_column
        if columns is not None and out:
            _named_output(out)
        return pipeline


def _named_output(scalers) -> None:
    """Scalers of a Pipeline with named input columns pass a DataFrame on (as they did
    at fit on the command line), so the estimator sees the names; needs pandas."""
    try:
        import pandas  # noqa: F401
    except ImportError:
        return
    for _, scaler in scalers:
        if hasattr(scaler, "feature_names_in_"):
            scaler.set_output(transform="pandas")
