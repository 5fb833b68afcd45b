"""ONNX export of fitted models: :func:`export_onnx`.

The graphs are written by hand with ``onnx.helper`` from the models' weights (dense
layers, ONNX's LSTM, GRU and RNN operators for the recurrent layers and ``Scan`` for
the loops without inputs, ``Conv`` for the convolutional encoder),
so that the [export] extra needs only ``onnx`` and ``onnxruntime``. What cannot live in
the graph (a vocabulary, an alphabet, class labels, the tokenizer's rule) is written
beside it as JSON (``OUT.onnx.json``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._errors import HiddenstateError

__all__ = ["export_onnx", "MissingExtraError", "SIDECAR_FORMAT"]

#: The ``format`` field of the JSON written beside a graph.
SIDECAR_FORMAT = "hiddenstate-onnx/1"


class MissingExtraError(HiddenstateError, ImportError):
    """The ``onnx`` package (the ``[export]`` extra) is not installed."""


def _need_onnx():
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise MissingExtraError("ONNX export needs the onnx package: pip install "
                                "'hiddenstate[export]'") from None


def _scaler_prep(scalers):
    """A function adding a Pipeline's scalers (sklearn's, in float64) to a graph."""
    import numpy as np

    from ._graph import F32, F64

    def prep(g, x):
        v = g.cast(x, F64)
        for _, sc in scalers:
            kind = type(sc).__name__

            def c(a):
                return g.const(np.asarray(a, np.float64), np.float64)

            if kind == "StandardScaler":
                if sc.with_mean:
                    v = g.op("Sub", v, c(sc.mean_))
                if sc.with_std:
                    v = g.op("Div", v, c(sc.scale_))
            elif kind == "MinMaxScaler":
                v = g.op("Add", g.op("Mul", v, c(sc.scale_)), c(sc.min_))
                if sc.clip:
                    lo, hi = sc.feature_range
                    v = g.op("Max", g.op("Min", v, c(hi)), c(lo))
            elif kind == "MaxAbsScaler":
                v = g.op("Div", v, c(sc.scale_))
            else:
                if sc.with_centering:
                    v = g.op("Sub", v, c(sc.center_))
                if sc.with_scaling:
                    v = g.op("Div", v, c(sc.scale_))
        return g.cast(v, F32)

    return prep


def _unwrap(model):
    """``(estimator, scalers)`` of a model or a Pipeline of scalers and one estimator."""
    from ._models import ExportError

    steps = getattr(model, "steps", None)
    if steps is None:
        return model, []
    *scalers, (name, last) = steps
    from .._pipeline import HEADS, SCALERS

    if type(last).__name__ in HEADS:
        raise ExportError(f"a Pipeline ending in a {type(last).__name__} head has no ONNX "
                          "form yet: export the hiddenstate step and run the head's linear "
                          "map beside it")
    for n, s in scalers:
        if type(s).__name__ not in SCALERS:
            raise ExportError(f"Pipeline step {n!r} ({type(s).__name__}) has no ONNX form")
    return last, scalers


def export_onnx(model, path: str | os.PathLike, *, method: str | None = None,
                check: bool = True) -> dict:
    """Write the fitted ``model`` as an ONNX graph to ``path`` and its metadata (inputs,
    outputs, vocabulary or alphabet, class labels) as JSON to ``path + '.json'``.

    ``model``: an Autoencoder, SequenceModel, SequenceAutoencoder, SequenceClassifier,
    SequenceRegressor or AnomalyDetector (fitted, or loaded with
    :func:`hiddenstate.load`), or a saved Pipeline of scalers and one of them. The graph
    takes the raw inputs that ``score`` takes: a Pipeline's scalers and the model's own
    ``scale`` are in it. Batches and sequence lengths are dynamic: sequences come padded
    to one length ``L`` with an int64 ``lengths`` input. ``method``: the graph of
    another method instead: ``"inverse_transform"`` (an Autoencoder: codes in,
    reconstructions out) or ``"forecast"`` (a next-step SequenceModel of real values:
    ``X``, ``lengths`` and the int64 scalar ``steps`` in, ``forecast`` ``(N, steps, d)``
    out, each prediction fed back as the next input).
    ``check``: run
    ``onnx.checker`` on the result. Returns the metadata written.

    Raises ``ValueError`` (:class:`~hiddenstate._onnx._models.ExportError`) for a model
    or setting the graph cannot express, ``ImportError`` without the ``onnx`` package.
    """
    _need_onnx()
    import onnx

    from ._graph import Graph
    from ._models import exporter_for

    est, scalers = _unwrap(model)
    exp = exporter_for(est, _scaler_prep(scalers) if scalers else None, method)
    g = Graph(type(est).__name__)
    exp.declare(g)
    outs = exp.outputs(g)
    for value, name, elem, shape in outs:
        g.output(value, name, elem, shape)
    proto = g.model(f"hiddenstate {type(est).__name__}")
    if check:
        onnx.checker.check_model(proto)
    path = Path(path)
    onnx.save(proto, str(path))
    meta = {"format": SIDECAR_FORMAT, "class": type(est).__name__,
            "pipeline_scalers": [type(s).__name__ for _, s in scalers],
            "inputs": [{"name": i.name, "type": _type_name(i), "shape": _shape(i)}
                       for i in proto.graph.input],
            "outputs": [{"name": o.name, "type": _type_name(o), "shape": _shape(o)}
                        for o in proto.graph.output],
            **exp.sidecar()}
    with open(f"{path}.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    return meta


def _type_name(v) -> str:
    from onnx import helper

    return helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name


def _shape(v) -> list:
    return [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
