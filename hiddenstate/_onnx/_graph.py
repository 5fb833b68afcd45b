"""A small ONNX graph builder and the network pieces written with it: dense layers,
activations, the recurrent cells (ONNX's own LSTM, GRU and RNN operators where they
compute the cell; otherwise the cell's step, from a registry by cell class, in a
``Scan``), masks and per-sequence gathers.

Every value is float32 unless named otherwise; batches come first (``(N, ...)``) and
sequences are ``(N, L, ...)`` with an int64 ``lengths`` ``(N,)``. The pieces mirror the
JAX code of :mod:`hiddenstate.nn` term by term, so that onnxruntime gives the same
numbers to float32 rounding.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .._errors import HiddenstateError

__all__ = ["ExportError", "Graph", "CELL_STEPS", "cell_step", "OPSET", "run_cell", "run_free",
           "scan_loop", "initial_states"]

#: The ONNX operator set the graphs are written for (onnxruntime 1.14 and later run it).
OPSET = 18



class ExportError(HiddenstateError, ValueError):
    """The model, or one of its settings, has no ONNX form."""


F32, F64, I64, BOOL = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64, TensorProto.BOOL


class Graph:
    """Nodes, initialisers, inputs and outputs of one ONNX graph, with unique names.

    A body graph (``Scan``) is made with :meth:`body`: its constants go to the outermost
    graph's initialisers, which ONNX lets a subgraph read by name.
    """

    def __init__(self, name: str = "hiddenstate", root: Graph | None = None):
        self.name = name
        self.root = root or self
        self.nodes: list[onnx.NodeProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._ids = itertools.count() if root is None else root._ids
        self._consts: dict = {} if root is None else root._consts

    def fresh(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def body(self, name: str) -> Graph:
        return Graph(name, self.root)

    # -- values ----------------------------------------------------------------------------
    def const(self, value, dtype=np.float32) -> str:
        """An initialiser holding ``value`` (arrays are stored once per identical value)."""
        arr = np.asarray(value, dtype)
        key = (arr.dtype.str, arr.shape,
               repr(arr.tolist()) if arr.dtype == object else arr.tobytes())
        if key not in self._consts:
            name = self.fresh("c")
            self.root.initializers.append(numpy_helper.from_array(arr, name))
            self._consts[key] = name
        return self._consts[key]

    def i64(self, *values) -> str:
        return self.const(np.asarray(values, np.int64), np.int64)

    def op(self, op_type: str, *inputs: str, n_out: int = 1, **attrs):
        """Add a node; its output name, or a tuple of ``n_out`` names."""
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs,
                                           name=self.fresh("n"), **attrs))
        return outs[0] if n_out == 1 else tuple(outs)

    def input(self, name: str, elem_type: int, shape) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, value: str, name: str, elem_type: int, shape) -> None:
        self.nodes.append(helper.make_node("Identity", [value], [name], name=self.fresh("n")))
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))

    def proto(self) -> onnx.GraphProto:
        return helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                 self.initializers if self.root is self else [])

    def model(self, doc: str) -> onnx.ModelProto:
        model = helper.make_model(self.proto(), producer_name="hiddenstate",
                                  opset_imports=[helper.make_opsetid("", OPSET)],
                                  doc_string=doc)
        model.ir_version = 8
        return model

    # -- arithmetic ------------------------------------------------------------------------
    def dense(self, x: str, W, b=None) -> str:
        """``x @ W + b`` (``W`` stored ``(n_in, n_out)`` as the networks store it)."""
        y = self.op("MatMul", x, self.const(W))
        return y if b is None else self.op("Add", y, self.const(b))

    def act(self, x: str, name: str) -> str:
        """The activation ``name`` of :mod:`hiddenstate.nn._activations`."""
        if name == "linear":
            return x
        ops = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu"}
        if name not in ops:
            raise ExportError(f"activation {name!r} has no ONNX form here")
        return self.op(ops[name], x)

    def slice(self, x: str, start: int, end: int, axis: int) -> str:
        return self.op("Slice", x, self.i64(start), self.i64(end), self.i64(axis))

    def dim(self, x: str, axis: int) -> str:
        """The size of ``x`` along ``axis``, a 1-element int64 vector."""
        return self.op("Gather", self.op("Shape", x), self.i64(axis), axis=0)

    def cast(self, x: str, to: int) -> str:
        return self.op("Cast", x, to=to)

    def steps_mask(self, lengths: str, like: str) -> str:
        """Bool ``(N, L)``: step ``t`` of sequence ``i`` is before ``lengths[i]``; ``L`` is
        axis 1 of ``like``."""
        L = self.op("Squeeze", self.dim(like, 1), self.i64(0))
        t = self.op("Range", self.const(0, np.int64), L, self.const(1, np.int64))
        return self.op("Less", self.op("Unsqueeze", t, self.i64(0)),
                       self.op("Unsqueeze", lengths, self.i64(1)))

    def batch_rows(self, value, like: str) -> str:
        """``value`` (a vector) repeated for each of the ``N`` rows of ``like``."""
        v = self.const(value)
        shape = self.op("Concat", self.dim(like, 0), self.i64(np.asarray(value).shape[-1]),
                        axis=0)
        return self.op("Expand", v, shape)

    def reverse_valid(self, xs: str, lengths: str) -> str:
        """``xs`` ``(N, L, D)`` with each row's first ``lengths[i]`` steps reversed, the
        padding in place (:func:`hiddenstate.nn.reverse_valid`)."""
        L = self.op("Squeeze", self.dim(xs, 1), self.i64(0))
        t = self.op("Unsqueeze",
                    self.op("Range", self.const(0, np.int64), L, self.const(1, np.int64)),
                    self.i64(0))
        n = self.op("Unsqueeze", lengths, self.i64(1))
        back = self.op("Sub", self.op("Sub", n, self.const(1, np.int64)), t)
        idx = self.op("Where", self.op("Less", t, n), back, self.op("Expand", t, self.op(
            "Shape", back)))
        return self.gather_steps(xs, idx)

    def gather_steps(self, xs: str, idx: str) -> str:
        """Row ``i`` step ``t`` of the result is ``xs[i, idx[i, t]]`` (``xs`` ``(N, L, D)``,
        ``idx`` ``(N, K)``; the result ``(N, K, D)``)."""
        shape = self.op("Concat", self.dim(xs, 0), self.dim(idx, 1), self.dim(xs, 2), axis=0)
        full = self.op("Expand", self.op("Unsqueeze", idx, self.i64(2)), shape)
        return self.op("GatherElements", xs, full, axis=1)


# -- recurrent cells ----------------------------------------------------------------------


#: How each cell class runs in ONNX: ``project(graph, cell, x) -> xw``, the input's part of
#: the step, computed for every step at once outside the loop (``x`` ``(..., n_in)``), and
#: ``step(graph, cell, states, xw or None) -> (states, y)`` with states a tuple of ``(N, H)``
#: values, the hidden vector first (None: a step without inputs). A cell class joins with
#: :func:`cell_step`.
CELL_STEPS: dict[str, tuple[Callable, Callable, Callable]] = {}


def cell_step(name: str, initial: Callable, project: Callable):
    """Register the ONNX step of the cell class ``name``; ``initial(cell)`` gives its
    initial state as a tuple of ``(H,)`` arrays, ``project`` as in :data:`CELL_STEPS`."""

    def register(fn):
        CELL_STEPS[name] = (project, fn, initial)
        return fn

    return register


def _arr(a) -> np.ndarray:
    return np.asarray(a, np.float32)


def _xw(g: Graph, cell, x):
    return g.op("MatMul", x, g.const(_arr(cell.W)))


def _xw_b(g: Graph, cell, x):
    return g.op("Add", _xw(g, cell, x), g.const(_arr(cell.b)))


@cell_step("ElmanCell", lambda c: (_arr(c.h0),), _xw)
def _elman(g: Graph, cell, states, xw):
    (h,) = states
    hu = g.op("MatMul", h, g.const(_arr(cell.U)))
    z = hu if xw is None else g.op("Add", xw, hu)
    h = g.act(g.op("Add", z, g.const(_arr(cell.b))), cell.activation)
    return (h,), h


@cell_step("LSTMCell", lambda c: (_arr(c.h0), _arr(c.c0)), _xw)
def _lstm(g: Graph, cell, states, xw):
    h, c = states
    H = int(np.shape(cell.h0)[0])
    hu = g.op("MatMul", h, g.const(_arr(cell.U)))
    z = g.op("Add", hu if xw is None else g.op("Add", xw, hu), g.const(_arr(cell.b)))
    i, f, gg, o = g.op("Split", z, g.i64(H, H, H, H), axis=1, n_out=4)
    c = g.op("Add", g.op("Mul", g.op("Sigmoid", f), c),
             g.op("Mul", g.op("Sigmoid", i), g.op("Tanh", gg)))
    h = g.op("Mul", g.op("Sigmoid", o), g.op("Tanh", c))
    return (h, c), h


@cell_step("GRUCell", lambda c: (_arr(c.h0),), _xw_b)
def _gru(g: Graph, cell, states, xw):
    (h,) = states
    H = int(np.shape(cell.h0)[0])
    hu = g.op("MatMul", h, g.const(_arr(cell.U)))
    if xw is None:  # a decoder reads no inputs: x W + b is the bias
        xw = g.const(_arr(cell.b)[None])
    xr, xz, xn = g.op("Split", xw, g.i64(H, H, H), axis=-1, n_out=3)
    hr, hz, hn = g.op("Split", hu, g.i64(H, H, H), axis=1, n_out=3)
    r = g.op("Sigmoid", g.op("Add", xr, hr))
    zg = g.op("Sigmoid", g.op("Add", xz, hz))
    n = g.op("Tanh", g.op("Add", xn, g.op("Mul", r, hn)))
    h = g.op("Add", g.op("Mul", g.op("Sub", g.const(1.0), zg), n), g.op("Mul", zg, h))
    return (h,), h


def _cell_parts(cell):
    name = type(cell).__name__
    if name not in CELL_STEPS:
        raise ExportError(f"cell {name} has no ONNX form (exportable cells: "
                         f"{', '.join(CELL_STEPS)})")
    return CELL_STEPS[name]


def initial_states(g: Graph, cell, like: str) -> tuple[str, ...]:
    """The cell's learned initial state, one row per sequence of ``like``."""
    return tuple(g.batch_rows(s, like) for s in _cell_parts(cell)[2](cell))


def _gates(a: np.ndarray, order, H: int) -> np.ndarray:
    """The ``(n, k H)`` blocks of ``a`` in ``order``, transposed to ONNX's ``(1, k H, n)``."""
    return np.ascontiguousarray(np.concatenate([a[..., j * H:(j + 1) * H] for j in order],
                                               axis=-1).T[None])


def _native(cell):
    """``(op, attributes, W, R, B)`` of ONNX's own recurrent operator computing ``cell``,
    or None. Gate orders: ours ``i f g o`` (LSTM), ``r z n`` (GRU); ONNX's ``i o f c`` and
    ``z r h``. The GRU's ``linear_before_reset`` is ours: ``r`` multiplies ``h U_n``."""
    name = type(cell).__name__
    W, U, b = (np.asarray(a, np.float32) for a in (cell.W, cell.U, cell.b))
    H = U.shape[0]
    if W.shape[0] == 0:
        return None
    if name == "LSTMCell":
        order = (0, 3, 1, 2)
        B = np.concatenate([_gates(b[None], order, H)[0, :, 0], np.zeros(4 * H, np.float32)])
        return "LSTM", {}, _gates(W, order, H), _gates(U, order, H), B[None]
    if name == "GRUCell":
        order = (1, 0, 2)
        B = np.concatenate([_gates(b[None], order, H)[0, :, 0], np.zeros(3 * H, np.float32)])
        return ("GRU", {"linear_before_reset": 1}, _gates(W, order, H), _gates(U, order, H),
                B[None])
    if name == "ElmanCell" and cell.activation in ("tanh", "relu"):
        B = np.concatenate([b, np.zeros(H, np.float32)])
        return ("RNN", {"activations": [cell.activation.capitalize()]}, W.T[None], U.T[None],
                B[None])
    return None


def _run_native(g: Graph, cell, xs: str, lengths: str | None, outputs: bool):
    """``cell`` by ONNX's LSTM, GRU or RNN operator: its ``sequence_lens`` keeps the state
    past a sequence's length and zeroes the outputs there, as ``_masked_scan`` does."""
    op, attrs, W, R, B = _native(cell)
    H = R.shape[-1]
    seq = g.op("Transpose", xs, perm=[1, 0, 2])
    lens = "" if lengths is None else g.cast(lengths, TensorProto.INT32)
    init = [g.op("Unsqueeze", s, g.i64(0)) for s in initial_states(g, cell, xs)]
    outs = g.op(op, seq, g.const(W), g.const(R), g.const(B), lens, *init,
                n_out=1 + len(init), hidden_size=int(H), **attrs)
    finals = tuple(g.op("Squeeze", o, g.i64(0)) for o in outs[1:])
    if not outputs:
        return finals, None
    return finals, g.op("Transpose", g.op("Squeeze", outs[0], g.i64(1)), perm=[1, 0, 2])


def run_cell(g: Graph, cell, xs: str, lengths: str | None, *, outputs: bool = True):
    """Run ``cell`` over ``xs`` ``(N, L, d)``; steps at or past ``lengths`` (None: every
    step counts) keep the state and output zero (the ``_masked_scan`` of
    :mod:`hiddenstate.nn._classifier`). Returns ``(final states, outputs (N, L, H) or
    None when not ``outputs``)``. ONNX's own operator where one computes the cell
    (:func:`_native`), else the cell's step in a ``Scan``."""
    if _native(cell) is not None:
        return _run_native(g, cell, xs, lengths, outputs)
    project, step, _ = _cell_parts(cell)
    on = None if lengths is None else g.steps_mask(lengths, xs)
    states = initial_states(g, cell, xs)
    body = g.body(g.fresh("cell"))
    s_in = [body.input(g.fresh("s"), F32, None) for _ in states]
    x_t = body.input(g.fresh("x"), F32, None)
    m = None if on is None else body.input(g.fresh("m"), BOOL, None)
    new, y = step(body, cell, tuple(s_in), x_t)
    if m is not None:
        new = tuple(body.op("Where", m, a, b) for a, b in zip(new, s_in, strict=True))
        y = body.op("Where", m, y, body.const(0.0)) if outputs else None
    for v in new:
        body.output(v, g.fresh("so"), F32, None)
    if outputs:
        body.output(y, g.fresh("yo"), F32, None)
    scans = [project(g, cell, xs)]
    if on is not None:
        scans.append(g.op("Unsqueeze", on, g.i64(2)))
    outs = g.op("Scan", *states, *scans, n_out=len(states) + int(outputs), body=body.proto(),
                num_scan_inputs=len(scans), scan_input_axes=[1] * len(scans),
                **({"scan_output_axes": [1]} if outputs else {}))
    outs = outs if isinstance(outs, tuple) else (outs,)
    return (tuple(outs[:-1]), outs[-1]) if outputs else (outs, None)


def scan_loop(g: Graph, carries, ticks: str, fn):
    """A ``Scan`` over axis 1 of ``ticks`` (its values unread): ``fn(body, carries) ->
    (new carries, output)`` each step; returns the outputs ``(N, steps, ...)``."""
    body = g.body(g.fresh("loop"))
    c_in = [body.input(g.fresh("s"), F32, None) for _ in carries]
    body.input(g.fresh("tick"), F32, None)
    new, y = fn(body, tuple(c_in))
    for v in new:
        body.output(v, g.fresh("so"), F32, None)
    body.output(y, g.fresh("yo"), F32, None)
    outs = g.op("Scan", *carries, ticks, n_out=len(carries) + 1, body=body.proto(),
                num_scan_inputs=1, scan_input_axes=[1], scan_output_axes=[1])
    return outs[-1]


def run_free(g: Graph, cell, states, steps_like: str, readout):
    """Run ``cell`` without inputs from ``states`` for as many steps as axis 1 of
    ``steps_like`` has, each step's output read out by ``readout(body, y)``; returns the
    outputs ``(N, L, k)`` (the decoder of :class:`~hiddenstate.nn.SequenceAutoencoderNet`)."""
    step = _cell_parts(cell)[1]

    def one(body, carries):
        new, y = step(body, cell, carries, None)
        return new, readout(body, y)

    return scan_loop(g, states, steps_like, one)
