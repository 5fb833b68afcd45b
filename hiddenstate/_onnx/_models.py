"""The ONNX form of each fitted estimator: its inputs, its outputs, the error terms an
:class:`~hiddenstate.AnomalyDetector` aggregates, and the JSON written beside the graph.

Each estimator class joins :data:`EXPORTERS` by name with :func:`exporter`; the
detector and a Pipeline's scalers wrap whichever exporter their model has.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._graph import (
    CELL_STEPS,
    F32,
    F64,
    I64,
    ExportError,
    Graph,
    initial_states,
    run_cell,
    run_free,
    scan_loop,
)

__all__ = ["EXPORTERS", "exporter", "exporter_for", "ExportError"]


#: Estimator class name -> the class that writes its graph.
EXPORTERS: dict[str, type] = {}


def exporter(name: str) -> Callable[[type], type]:
    def register(cls: type) -> type:
        EXPORTERS[name] = cls
        return cls

    return register


def exporter_for(est, prep=None, method: str | None = None):
    """The exporter of the fitted estimator ``est`` (``prep``: scalers its 2-D input goes
    through first)."""
    name = type(est).__name__
    if name not in EXPORTERS:
        raise ExportError(f"a {name} cannot be exported to ONNX (exportable: "
                          f"{', '.join(sorted(EXPORTERS))}, and Pipelines of scalers and one "
                          "of them)")
    if not hasattr(est, "model_"):
        raise ExportError(f"this {name} is not fitted: fit it (or load a fitted one) first")
    return EXPORTERS[name](est, prep, method)


def _f32(a) -> np.ndarray:
    return np.asarray(a, np.float32)


def _log_sigmoid_ce(g: Graph, z: str, y: str) -> str:
    """``max(z, 0) - y z + log(1 + exp(-|z|))``
    (:func:`hiddenstate.losses.sigmoid_cross_entropy`)."""
    soft = g.op("Log", g.op("Add", g.const(1.0), g.op("Exp", g.op("Neg", g.op("Abs", z)))))
    return g.op("Add", g.op("Sub", g.op("Relu", z), g.op("Mul", y, z)), soft)


def _pick(g: Graph, logp: str, ids: str) -> str:
    """``logp[i, t, ids[i, t]]`` ``(N, L)``."""
    return g.op("Squeeze", g.op("GatherElements", logp, g.op("Unsqueeze", ids, g.i64(2)),
                                axis=2), g.i64(2))


class _Scaling:
    """A fitted :class:`~hiddenstate.estimators._scaling.Scaling` in the graph, computed in
    float64 as the estimators compute it."""

    def __init__(self, scaling):
        self.kind = "none" if scaling is None else scaling.kind
        self.scaling = scaling

    def stats(self, g: Graph, x64: str, on3: str | None, n64: str | None):
        """``(loc, scale)`` float64, broadcastable to ``x64`` ``(N, L, d)``."""
        if self.kind != "series":
            return g.const(self.scaling.loc, np.float64), g.const(self.scaling.scale,
                                                                  np.float64)
        zero = g.const(0.0, np.float64)
        mean = g.op("Div", g.op("ReduceSum", g.op("Where", on3, x64, zero), g.i64(1),
                                keepdims=1), n64)
        dev = g.op("Sub", x64, mean)
        var = g.op("Div", g.op("ReduceSum", g.op("Where", on3, g.op("Mul", dev, dev), zero),
                               g.i64(1), keepdims=1), n64)
        std = g.op("Sqrt", var)
        spread = g.op("Where", g.op("Greater", std, g.const(1e-12, np.float64)), std,
                      g.const(1.0, np.float64))
        return mean, spread

    def apply(self, g: Graph, x: str, on: str | None, lengths: str | None):
        """``(scaled x float32, (loc, scale))``; ``on`` ``(N, L)`` and ``lengths`` (for
        ``series``)."""
        if self.kind == "none":
            return x, None
        x64 = g.cast(x, F64)
        on3 = None if on is None else g.op("Unsqueeze", on, g.i64(2))
        n64 = None if lengths is None else g.op(
            "Unsqueeze", g.cast(lengths, F64), g.i64(1, 2))
        loc, sc = self.stats(g, x64, on3, n64)
        return g.cast(g.op("Div", g.op("Sub", x64, loc), sc), F32), (loc, sc)

    @staticmethod
    def inverse(g: Graph, z: str, st) -> str:
        """Values in scaled units back in the data's (float64 arithmetic, float32 out)."""
        if st is None:
            return z
        loc, sc = st
        return g.cast(g.op("Add", g.op("Mul", g.cast(z, F64), sc), loc), F32)


def _tokenizer_json(est) -> dict:
    from ..estimators import _tokens

    return {"analyzer": getattr(est, "analyzer", "word"),
            "tokenizer": getattr(est, "tokenizer", "whitespace"),
            "default_rule": {"lower": True, "chunk": _tokens._CHUNK.pattern,
                             "lead": _tokens._LEAD.pattern, "trail": _tokens._TRAIL.pattern,
                             "punct": _tokens._PUNCT.pattern, "punct_flags": "s"}}


def _vocabulary_json(vocab, est) -> dict:
    return {"ids": {"<unk>": 0, "</s>": 1}, "tokens": list(vocab.tokens), "first_id": 2,
            **_tokenizer_json(est)}


class _Exporter:
    """What every exporter provides (see the module docstring)."""

    #: The methods other than the default graph's that this exporter writes a graph of.
    methods: tuple[str, ...] = ()

    def __init__(self, est, prep, method: str | None = None):
        self.est, self.prep, self.method = est, prep, method
        if method is not None and method not in self.methods:
            others = f" (its other graphs: {', '.join(self.methods)})" if self.methods else ""
            raise ExportError(f"a {type(est).__name__} has no {method} graph to "
                              f"export{others}")

    def declare(self, g: Graph) -> None:
        raise NotImplementedError

    def outputs(self, g: Graph) -> list[tuple]:
        raise NotImplementedError

    def item_errors(self, g: Graph):
        raise NotImplementedError

    def sidecar(self) -> dict:
        return {}

    def _table(self, g: Graph, width: int) -> str:
        x = g.input("X", F32, ["N", int(width)])
        return x if self.prep is None else self.prep(g, x)

    def _no_prep(self) -> None:
        if self.prep is not None:
            raise ExportError(f"a Pipeline's scalers read 2-D tables; this "
                              f"{type(self.est).__name__} reads sequences")


# -- Autoencoder ---------------------------------------------------------------------------


@exporter("Autoencoder")
class AutoencoderExport(_Exporter):
    methods = ("inverse_transform",)

    """Input ``X`` ``(N, n_features)``; outputs ``transform`` (codes), ``predict``
    (reconstruction), ``reconstruction_error`` ``(N,)``. The inverse graph: input
    ``codes`` ``(N, n_components)``, output ``inverse_transform``."""

    def declare(self, g):
        net = self.est.model_
        self.net = net
        if self.method:
            self.codes = g.input("codes", F32, ["N", int(np.shape(net.weights[-1])[1])])
        else:
            self.x = self._table(g, int(self.est.n_features_in_))

    def _encode(self, g, x):
        h = x
        for w, b in zip(self.net.weights, self.net.encoder_biases, strict=True):
            h = g.act(g.dense(h, _f32(w), _f32(b)), self.net.activation)
        return h

    def _decode_logits(self, g, h):
        net = self.net
        for layer in reversed(range(len(net.weights))):
            w = (_f32(net.weights[layer]).T if net.decoder_weights is None
                 else _f32(net.decoder_weights[layer]))
            h = g.dense(h, np.ascontiguousarray(w), _f32(net.decoder_biases[layer]))
            if layer > 0:
                h = g.act(h, net.activation)
        return h

    def _out(self, g, z):
        return g.op("Sigmoid", z) if self.net.output == "sigmoid" else z

    def _terms(self, g):
        codes = self._encode(g, self.x)
        z = self._decode_logits(g, codes)
        if self.est._objective().loss == "cross_entropy":
            terms = _log_sigmoid_ce(g, z, self.x)
        else:
            d = g.op("Sub", self._out(g, z), self.x)
            terms = g.op("Mul", d, d)
        return codes, z, terms

    def outputs(self, g):
        d = int(self.est.n_features_in_)
        if self.method:
            if self.prep is not None:
                raise ExportError("the inverse graph of a Pipeline would have to undo its "
                                  "scalers: export the Autoencoder step itself")
            rec = self._out(g, self._decode_logits(g, self.codes))
            return [(rec, "inverse_transform", F32, ["N", d])]
        codes, z, terms = self._terms(g)
        reduce = "ReduceSum" if self.est._objective().loss == "cross_entropy" else "ReduceMean"
        k = int(np.shape(self.net.weights[-1])[1])
        return [(codes, "transform", F32, ["N", k]),
                (self._out(g, z), "predict", F32, ["N", d]),
                (g.op(reduce, terms, g.i64(1), keepdims=0), "reconstruction_error", F32, ["N"])]

    def item_errors(self, g):
        return self._terms(g)[2], None


# -- sequences -------------------------------------------------------------------------------


class _SequenceInputs(_Exporter):
    """The inputs of a sequence model: ``X`` ``(N, L, d)`` float and ``lengths`` ``(N,)``,
    or token ids ``ids`` ``(N, L)`` and ``lengths``."""

    def _declare_sequences(self, g, width: int, tokens: bool):
        self._no_prep()
        if tokens:
            self.x = g.input("ids", I64, ["N", "L"])
        else:
            self.x = g.input("X", F32, ["N", "L", int(width)])
        self.lengths = g.input("lengths", I64, ["N"])
        self.on = g.steps_mask(self.lengths, self.x)


def _embed(g: Graph, table, ids: str) -> str:
    return g.op("Gather", g.const(_f32(table)), ids, axis=0)


@exporter("SequenceAutoencoder")
class SequenceAutoencoderExport(_SequenceInputs):
    """Inputs as :class:`_SequenceInputs`; outputs ``transform`` (codes ``(N, H)``),
    ``predict`` (reconstruction, data units; for tokens the logits ``(N, L, V)``),
    ``reconstruction_error`` ``(N,)`` (scaled units, as the estimator's)."""

    def declare(self, g):
        est = self.est
        self.tokens = getattr(est, "vocabulary_", None) is not None
        self._declare_sequences(g, int(est.n_features_in_), self.tokens)
        self.scaling = _Scaling(None if self.tokens else est.scaling_)

    def _reconstruct(self, g):
        net = self.est.model_
        if self.tokens:
            xs, st = _embed(g, net.embedding, self.x), None
        else:
            xs, st = self.scaling.apply(g, self.x, self.on, self.lengths)
        final, _ = run_cell(g, net.encoder, xs, self.lengths, outputs=False)
        code = final[0]
        states = (code, *initial_states(g, net.decoder, xs)[1:])
        rev = run_free(g, net.decoder, states, xs,
                       lambda b, y: b.dense(y, _f32(net.W_out), _f32(net.b_out)))
        L = g.op("Squeeze", g.dim(xs, 1), g.i64(0))
        t = g.op("Unsqueeze", g.op("Range", g.const(0, np.int64), L, g.const(1, np.int64)),
                 g.i64(0))
        n = g.op("Unsqueeze", self.lengths, g.i64(1))
        idx = g.op("Clip", g.op("Sub", g.op("Sub", n, g.const(1, np.int64)), t),
                   g.const(0, np.int64), g.op("Sub", L, g.const(1, np.int64)))
        on3 = g.op("Unsqueeze", self.on, g.i64(2))
        rec = g.op("Where", on3, g.gather_steps(rev, idx), g.const(0.0))
        return xs, st, code, rec

    def _step_errors(self, g, xs, rec):
        if self.tokens:
            return g.op("Neg", _pick(g, g.op("LogSoftmax", rec, axis=2), self.x))
        d = g.op("Sub", rec, xs)
        return g.op("ReduceMean", g.op("Mul", d, d), g.i64(2), keepdims=0)

    def outputs(self, g):
        xs, st, code, rec = self._reconstruct(g)
        if self.tokens:
            err = g.op("Where", self.on, self._step_errors(g, xs, rec), g.const(0.0))
            total = g.op("ReduceSum", err, g.i64(1), keepdims=0)
            error = g.op("Div", total, g.cast(self.lengths, F32))
        else:
            d = g.op("Sub", rec, xs)
            sq = g.op("Where", g.op("Unsqueeze", self.on, g.i64(2)), g.op("Mul", d, d),
                      g.const(0.0))
            total = g.op("ReduceSum", sq, g.i64(1, 2), keepdims=0)
            width = g.cast(g.dim(xs, 2), F32)
            error = g.op("Div", total, g.op("Mul", g.cast(self.lengths, F32), width))
        H = int(self.est.n_components)
        width = len(self.est.vocabulary_) if self.tokens else int(self.est.n_features_in_)
        pred = rec if self.tokens else _Scaling.inverse(g, rec, st)
        return [(code, "transform", F32, ["N", H]),
                (pred, "predict", F32, ["N", "L", width]),
                (error, "reconstruction_error", F32, ["N"])]

    def item_errors(self, g):
        xs, _, _, rec = self._reconstruct(g)
        return self._step_errors(g, xs, rec), self.on

    def sidecar(self):
        return ({"vocabulary": _vocabulary_json(self.est.vocabulary_, self.est)}
                if self.tokens else {})


@exporter("SequenceModel")
class SequenceModelExport(_SequenceInputs):
    """Real-valued sequences: inputs ``X`` ``(N, L, d)`` and ``lengths``; outputs
    ``predict_proba`` (each step's outputs, data units) and, for next-step models,
    ``log_likelihood`` ``(N,)`` (of ``x[1:]`` given ``x[:-1]``, as the
    AnomalyDetector scores). Symbol strings and tokens: input ``ids`` ``(N, L)`` (the
    whole encoded sequence, markers included: see the JSON) and ``lengths``; outputs
    ``predict_proba`` ``(N, L - 1, V)`` and ``log_likelihood`` ``(N,)``. The forecast
    graph: inputs ``X``, ``lengths`` and ``steps`` (an int64 scalar), output
    ``forecast`` ``(N, steps, d)`` in the data's units."""

    methods = ("forecast",)

    def __init__(self, est, prep, method: str | None = None):
        super().__init__(est, prep, method)
        if getattr(est, "horizon_", None):
            raise ExportError("a SequenceModel fitted with horizon (a direct forecaster) "
                              "has no ONNX form yet: export a next-step model")
        if est.model_.A is not None:
            raise ExportError("a SequenceModel with an autoregressive path (lags) has no "
                              "ONNX form yet")
        self.kind = est._input_kind()
        if method == "forecast" and (self.kind != "sequences" or est.output != "linear"
                                     or int(est.n_outputs_) != int(est.n_features_in_)):
            raise ExportError("forecast feeds each prediction back as the next input: it "
                              "needs a model of real values with output='linear' and as many "
                              f"outputs as inputs; this one reads {self.kind} with "
                              f"output={est.output!r}")

    def declare(self, g):
        self._declare_sequences(g, int(self.est.n_features_in_), self.kind != "sequences")
        self.scaling = _Scaling(None if self.kind != "sequences" else self.est.scaling_)
        if self.method == "forecast":
            self.steps = g.input("steps", I64, [])

    def _forecast(self, g):
        """:func:`hiddenstate.estimators._sequence._forecast`: read each sequence up to its
        length, then feed each prediction back as the next input ``steps`` times."""
        net = self.est.model_
        xs, st = self.scaling.apply(g, self.x, self.on, self.lengths)
        h, states = xs, []
        for cell in net.cells:
            final, h = run_cell(g, cell, h, self.lengths)
            states += list(final)
        last = g.op("Unsqueeze", g.op("Sub", self.lengths, g.const(1, np.int64)), g.i64(1))
        z0 = g.op("Squeeze", g.gather_steps(g.dense(h, _f32(net.V), _f32(net.c)), last),
                  g.i64(1))
        sizes = [len(initial_states(g, c, xs)) for c in net.cells]

        def ahead(body, carries):
            *flat, z = carries
            new, y = [], z
            for cell, k in zip(net.cells, sizes, strict=True):
                project, step, _ = CELL_STEPS[type(cell).__name__]
                s, y = step(body, cell, tuple(flat[:k]), project(body, cell, y))
                new += list(s)
                flat = flat[k:]
            return (*new, body.dense(y, _f32(net.V), _f32(net.c))), z

        ticks = g.op("Expand", g.const(np.zeros((1, 1, 1), np.float32)), g.op(
            "Concat", g.dim(xs, 0), g.op("Reshape", self.steps, g.i64(1)), g.i64(1), axis=0))
        out = scan_loop(g, (*states, z0), ticks, ahead)
        return _Scaling.inverse(g, out, st)

    def _forward(self, g, xs):
        net = self.est.model_
        h = xs
        for cell in net.cells:
            _, h = run_cell(g, cell, h, None)
        return g.dense(h, _f32(net.V), _f32(net.c))

    def _inputs(self, g, ids):
        est = self.est
        if self.kind == "tokens":
            return _embed(g, est.model_.embedding, ids)
        return _embed(g, np.eye(int(est.n_features_in_), dtype=np.float32), ids)

    def _probabilities(self, g, z):
        out = self.est.output
        if out == "softmax":
            return g.op("Softmax", z, axis=-1)
        return g.op("Sigmoid", z) if out == "sigmoid" else z

    def _next_step_ok(self) -> bool:
        est = self.est
        return (self.kind != "sequences" or (
            est.target_scaling_ is None and int(est.n_outputs_) == int(est.n_features_in_)))

    def _surprisal(self, g):
        """``(per-step losses (N, L - 1), valid steps)`` of next-step prediction."""
        steps = g.op("Sub", self.lengths, g.const(1, np.int64))
        if self.kind == "sequences":
            inputs = g.slice(self.x, 0, -1, 1)
            on = g.steps_mask(steps, inputs)
            xs, st = self.scaling.apply(g, inputs, on, steps)
            z = self._forward(g, xs)
            target = g.slice(self.x, 1, 2**62, 1)
            if st is not None:
                target = g.cast(g.op("Div", g.op("Sub", g.cast(target, F64), st[0]), st[1]),
                                F32)
        else:
            inputs = g.slice(self.x, 0, -1, 1)
            on = g.steps_mask(steps, inputs)
            z = self._forward(g, self._inputs(g, inputs))
            ids = g.slice(self.x, 1, 2**62, 1)
            if self.est.output == "softmax":
                return g.op("Neg", _pick(g, g.op("LogSoftmax", z, axis=2), ids)), on
            target = self._inputs(g, ids)
        if self.est.output == "sigmoid":
            loss = _log_sigmoid_ce(g, z, target)
        else:
            d = g.op("Sub", z, target)
            loss = g.op("Mul", d, d)
        return g.op("ReduceMean", loss, g.i64(2), keepdims=0), on

    def outputs(self, g):
        est = self.est
        n_out = int(est.n_outputs_)
        if self.method == "forecast":
            return [(self._forecast(g), "forecast", F32, ["N", "steps", n_out])]
        if self.kind == "sequences":
            xs, st = self.scaling.apply(g, self.x, self.on, self.lengths)
            if est.target_scaling_ is not None and est.target_scaling_.kind != "none":
                st = (g.const(est.target_scaling_.loc, np.float64),
                      g.const(est.target_scaling_.scale, np.float64))
            z = self._forward(g, xs)
            probs = self._probabilities(g, z)
            if est.output == "linear":
                probs = _Scaling.inverse(g, probs, st)
            outs = [(probs, "predict_proba", F32, ["N", "L", n_out])]
        else:
            z = self._forward(g, self._inputs(g, g.slice(self.x, 0, -1, 1)))
            outs = [(self._probabilities(g, z), "predict_proba", F32, ["N", "L1", n_out])]
        if self._next_step_ok():
            loss, on = self._surprisal(g)
            total = g.op("ReduceSum", g.op("Where", on, loss, g.const(0.0)), g.i64(1),
                         keepdims=0)
            outs.append((g.op("Neg", g.cast(total, F64)), "log_likelihood", F64, ["N"]))
        return outs

    def item_errors(self, g):
        if not self._next_step_ok():
            raise ExportError("this SequenceModel predicts targets other than its next "
                              "inputs: an AnomalyDetector's scores need next-step prediction")
        return self._surprisal(g)

    def sidecar(self):
        est = self.est
        if self.kind == "tokens":
            return {"vocabulary": _vocabulary_json(est.vocabulary_, est),
                    "encoding": "ids of the tokens, then 1 (</s>); lengths: tokens + 1"}
        if self.kind == "symbols":
            markers = bool(est.markers_)
            return {"alphabet": est.alphabet_, "markers": markers,
                    "encoding": ("id of each symbol (its index in alphabet); with markers "
                                 f"{len(est.alphabet_)} first (begin) and last (end)")}
        return {}


@exporter("SequenceClassifier")
@exporter("SequenceRegressor")
class SequencePredictorExport(_SequenceInputs):
    """Inputs: ``X`` ``(N, L, d)`` and ``lengths``, token ``ids`` and ``lengths``, or for
    a model fitted on a table ``X`` ``(N, T)`` alone. Outputs ``transform`` (the sequence
    vectors), and ``predict_proba`` (float64) and ``predict`` (the class labels) for a
    classifier, ``predict`` (float64) for a regressor."""

    def declare(self, g):
        est = self.est
        kind = est.input_kind_
        self.tokens = kind == "tokens"
        if kind == "table":
            x = self._table(g, int(est.n_features_in_))
            self.x = g.op("Unsqueeze", x, g.i64(2))
            self.lengths = g.op("Expand", g.dim(x, 1), g.dim(x, 0))
            self.on = g.steps_mask(self.lengths, self.x)
        else:
            self._declare_sequences(g, int(est.n_features_in_), self.tokens)
        self.scaling = _Scaling(None if self.tokens else est.scaling_)

    def _vector(self, g):
        enc = self.est.model_.encoder
        if self.tokens:
            xs = _embed(g, enc.embedding, self.x)
        else:
            xs, _ = self.scaling.apply(g, self.x, self.on, self.lengths)
        return _encoder(g, enc, xs, self.on, self.lengths)

    def outputs(self, g):
        est = self.est
        vec = self._vector(g)
        net = est.model_
        z = g.dense(vec, _f32(net.W), _f32(net.b))
        outs = [(vec, "transform", F32, ["N", int(np.shape(net.W)[0])])]
        if type(est).__name__ == "SequenceClassifier":
            z64 = g.cast(z, F64)
            classes = np.asarray(est.classes_)
            index = g.op("ArgMax", z, axis=1, keepdims=0)
            if classes.dtype.kind in "iub":
                labels = g.op("Gather", g.const(classes.astype(np.int64), np.int64), index)
                ltype = I64
            elif classes.dtype.kind == "f":
                labels = g.op("Gather", g.const(classes, np.float64), index)
                ltype = F64
            else:
                labels = g.op("Gather", g.const(classes.astype(str).astype(object), object),
                              index)
                ltype = 8  # STRING
            outs += [(g.op("Softmax", z64, axis=1), "predict_proba", F64,
                      ["N", len(classes)]),
                     (labels, "predict", ltype, ["N"])]
            return outs
        t = est.target_scaling_
        z64 = g.cast(z, F64)
        if t.kind != "none":
            z64 = g.op("Add", g.op("Mul", z64, g.const(t.scale, np.float64)),
                       g.const(t.loc, np.float64))
        if est._y_1d:
            return outs + [(g.op("Squeeze", z64, g.i64(1)), "predict", F64, ["N"])]
        return outs + [(z64, "predict", F64, ["N", int(est.n_outputs_)])]

    def sidecar(self):
        est = self.est
        out = {"vocabulary": _vocabulary_json(est.vocabulary_, est)} if self.tokens else {}
        if hasattr(est, "classes_"):
            out["classes"] = np.asarray(est.classes_).tolist()
        return out


def _encoder(g: Graph, enc, xs, on, lengths):
    name = type(enc).__name__
    if name == "JointEncoder":
        return g.op("Concat", _encoder(g, enc.conv, xs, on, lengths),
                    _encoder(g, enc.recurrent, xs, on, lengths), axis=1)
    if name == "ConvEncoder":
        return _conv_encoder(g, enc, xs, on, lengths)
    return _recurrent_encoder(g, enc, xs, on, lengths)


def _recurrent_encoder(g: Graph, enc, xs, on, lengths):
    """:class:`~hiddenstate.nn.SequenceEncoder` (no dropout: inference)."""
    h, finals = xs, None
    for i, fwd in enumerate(enc.forward):
        # The last layer's outputs are read only by the mean and max poolings.
        want = enc.pooling != "last" or i + 1 < len(enc.forward)
        states, ys = run_cell(g, fwd, h, lengths, outputs=want)
        last = states[0]
        if enc.backward is not None:
            states_b, ys_b = run_cell(g, enc.backward[i], g.reverse_valid(h, lengths),
                                      lengths, outputs=want)
            ys = g.op("Concat", ys, g.reverse_valid(ys_b, lengths), axis=2) if want else None
            last = g.op("Concat", last, states_b[0], axis=1)
        h, finals = ys, last
    if enc.pooling == "last":
        return finals
    on3 = g.op("Unsqueeze", on, g.i64(2))
    if enc.pooling == "mean":
        total = g.op("ReduceSum", g.op("Mul", h, g.cast(on3, F32)), g.i64(1), keepdims=0)
        n = g.op("Max", g.cast(lengths, F32), g.const(1.0))
        return g.op("Div", total, g.op("Unsqueeze", n, g.i64(1)))
    return g.op("ReduceMax", g.op("Where", on3, h, g.const(-np.inf)), g.i64(1), keepdims=0)


def _conv_encoder(g: Graph, enc, xs, on, lengths):
    """:class:`~hiddenstate.nn.ConvEncoder`: ``Conv`` over ``(N, C, L)`` with the taps of
    :class:`~hiddenstate.nn._classifier.Conv1d` as its kernel."""
    if enc.norm != "channel":
        raise ExportError(f"a ConvEncoder normalised {enc.norm!r} has no ONNX form here")
    # The padding is zeroed by multiplying with the mask as 0/1 (exact for finite values):
    # onnxruntime's broadcasting Where is many times slower than its Mul.
    onc = g.op("Unsqueeze", g.cast(on, F32), g.i64(1))  # (N, 1, L)
    count = g.op("Unsqueeze", g.op("Max", g.cast(lengths, F32), g.const(1.0)), g.i64(1, 2))
    h = g.op("Mul", g.op("Transpose", xs, perm=[0, 2, 1]), onc)
    for conv, gain, offset in zip(enc.convs, enc.gains, enc.offsets, strict=True):
        k = conv.kernel_size
        W = _f32(conv.W)
        n_in = W.shape[0] // k
        kernel = np.ascontiguousarray(W.reshape(k, n_in, -1).transpose(2, 1, 0))
        left = (k - 1) // 2
        u = g.op("Conv", h, g.const(kernel), g.const(_f32(conv.b)), pads=[left, k - 1 - left])
        mu = g.op("Div", g.op("ReduceSum", g.op("Mul", u, onc), g.i64(2), keepdims=1), count)
        dev = g.op("Sub", u, mu)
        var = g.op("Div", g.op("ReduceSum", g.op("Mul", g.op("Mul", dev, dev), onc),
                               g.i64(2), keepdims=1), count)
        norm = g.op("Div", dev, g.op("Sqrt", g.op("Add", var, g.const(enc.eps))))
        shape = (-1, 1)
        h = g.op("Add", g.op("Mul", norm, g.const(_f32(gain).reshape(shape))),
                 g.const(_f32(offset).reshape(shape)))
        h = g.op("Mul", g.op("Relu", h), onc)
    return g.op("Div", g.op("ReduceSum", h, g.i64(2), keepdims=0),
                g.op("Squeeze", count, g.i64(2)))


# -- the detector ------------------------------------------------------------------------------


@exporter("AnomalyDetector")
class AnomalyDetectorExport(_Exporter):
    """The model's inputs; outputs ``score_samples``, ``pvalues``, ``decision_function``
    (float64) and ``predict`` (+1 inlier, -1 outlier, int64), with the calibration
    scores held in the graph."""

    def __init__(self, est, prep, method: str | None = None):
        super().__init__(est, prep, method)
        if est.model_ is None:
            raise ExportError("this AnomalyDetector has no model")
        self.inner = exporter_for(est.model_, prep)

    def declare(self, g):
        self.inner.declare(g)

    def outputs(self, g):
        est = self.est
        errors, on = self.inner.item_errors(g)
        e64 = g.cast(errors, F64)
        agg = est.aggregate
        if on is None:
            reduced = g.op({"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax"}[agg],
                           e64, g.i64(1), keepdims=0)
        elif agg == "max":
            reduced = g.op("ReduceMax", g.op("Where", on, e64, g.const(-np.inf, np.float64)),
                           g.i64(1), keepdims=0)
        else:
            reduced = g.op("ReduceSum", g.op("Where", on, e64, g.const(0.0, np.float64)),
                           g.i64(1), keepdims=0)
            if agg == "mean":
                count = g.op("ReduceSum", g.cast(on, F64), g.i64(1), keepdims=0)
                reduced = g.op("Div", reduced, count)
        score = g.op("Neg", reduced)
        cal = np.asarray(est.calibration_scores_, np.float64)
        below = g.op("LessOrEqual", g.op("Unsqueeze", g.const(cal, np.float64), g.i64(0)),
                     g.op("Unsqueeze", score, g.i64(1)))
        count = g.op("ReduceSum", g.cast(below, F64), g.i64(1), keepdims=0)
        pvalues = g.op("Div", g.op("Add", count, g.const(1.0, np.float64)),
                       g.const(cal.size + 1.0, np.float64))
        decision = g.op("Sub", score, g.const(est.offset_, np.float64))
        flag = g.op("Where", g.op("Less", decision, g.const(0.0, np.float64)),
                    g.const(-1, np.int64), g.const(1, np.int64))
        return [(score, "score_samples", F64, ["N"]), (pvalues, "pvalues", F64, ["N"]),
                (decision, "decision_function", F64, ["N"]), (flag, "predict", I64, ["N"])]

    def sidecar(self):
        return {"model": type(self.est.model_).__name__, **self.inner.sidecar(),
                "contamination": float(self.est.contamination_),
                "aggregate": self.est.aggregate}

