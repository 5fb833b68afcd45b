"""Recurrent cells with the scan signature ``cell(state, x) -> (state, y)``, found by name.

One example in, one out: ``x`` is ``(n_in,)``; ``jax.lax.scan`` runs time and
``jax.vmap`` adds a batch. Weights are stored ``(n_in, n_out)`` and applied as
``x @ W``. Each cell's initial state is a learned field.

Every cell is a :class:`RecurrentCell` (initial state, step, the hidden vector
read out of the state and written back) registered by name in :data:`CELLS`, so
code that uses a cell never asks which cell it is. Adding a cell is one class::

    @register_cell("mine")
    class MyCell(RecurrentCell):
        options = ("my_option",)  # cell-specific keywords make_cell passes on

        def __init__(self, n_in, hidden, *, key, init="glorot_uniform", my_option=1.0): ...
        def initial_state(self): ...
        def __call__(self, state, x): ...  # -> (state, y)

and :func:`make_cell`, ``SequenceNet``, ``SequenceAutoencoderNet`` and the
estimators' ``cell`` option accept ``"mine"``. A cell whose state is not just
its hidden vector also overrides :meth:`RecurrentCell.hidden` and
:meth:`RecurrentCell.with_hidden` (see :class:`LSTMCell`).

Initial weights are drawn on the host with NumPy from a generator seeded by the
``key`` (a JAX key or a ``numpy.random.Generator``), so creating a cell compiles
nothing; create cells outside ``jax.jit``.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ._activations import activation as get_activation
from ._init import glorot_uniform, host_rng, orthogonal, uniform_spectral

__all__ = ["RecurrentCell", "ElmanCell", "LSTMCell", "LSTMState", "GRUCell", "CELLS",
           "CELL_INITS", "register_cell", "make_cell", "cell_init"]

#: A cell's state: its hidden vector, or a pytree holding it (the LSTM's :class:`LSTMState`).
State = Any
Key = PRNGKeyArray | np.random.Generator
Initialiser = Callable[..., np.ndarray]

#: Weight schemes of the recurrent networks: name -> (input and readout, recurrent)
#: initialiser. ``glorot_uniform`` makes the recurrent matrices orthogonal (Saxe et
#: al. 2014); ``seed`` is seed 002's spectrally normalised uniform for both.
CELL_INITS: dict[str, tuple[Initialiser, Initialiser]] = {
    "glorot_uniform": (glorot_uniform, orthogonal),
    "seed": (uniform_spectral, uniform_spectral),
}


def cell_init(init: str) -> tuple[Initialiser, Initialiser]:
    """The ``(input and readout, recurrent)`` initialisers of the weight scheme ``init``."""
    try:
        return CELL_INITS[init]
    except KeyError:
        raise ValueError(f"unknown init {init!r}; valid: {', '.join(CELL_INITS)}") from None


def _split(key: Key, n: int) -> list[np.random.Generator]:
    return host_rng(key).spawn(n)


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n, np.float32)


class RecurrentCell(eqx.Module):
    """What every recurrent cell provides (the protocol of flax's ``RNNCellBase`` and
    haiku's ``RNNCore``, with the scan signature).

    A cell is built as ``Cell(n_in, hidden, *, key, init="glorot_uniform", **options)``
    (``init`` one of :data:`CELL_INITS`; ``options`` the names in :attr:`options`) and
    registered with :func:`register_cell`. Shapes: ``x`` ``(n_in,)``, the hidden
    vector and ``y`` ``(hidden,)``; the state is the hidden vector unless a cell
    says otherwise.
    """

    #: Names of the cell-specific keyword arguments of ``__init__`` that
    #: :func:`make_cell` passes on.
    options: ClassVar[tuple[str, ...]] = ()
    #: Weight blocks of ``(n_in + hidden + 1) x hidden`` parameters each (one per gate),
    #: for the memory estimate made before a network is built; None: not estimated.
    gates: ClassVar[int | None] = None

    @abc.abstractmethod
    def initial_state(self) -> State:
        """The state before the first step (learned)."""

    @abc.abstractmethod
    def __call__(self, state: State, x: Float[Array, " n_in"]
                 ) -> tuple[State, Float[Array, " hidden"]]:
        """One step: ``(state_{t-1}, x_t) -> (state_t, y_t)``."""

    def hidden(self, state: State) -> Float[Array, " hidden"]:
        """The hidden vector ``h`` held in ``state`` (by default the state itself)."""
        return state

    def with_hidden(self, state: State, h: Float[Array, " hidden"]) -> State:
        """``state`` with its hidden vector replaced by ``h``; the inverse of :meth:`hidden`."""
        del state
        return h


#: Registered cells by name, in registration order; :func:`register_cell` adds to it.
CELLS: dict[str, type[RecurrentCell]] = {}


def register_cell(name: str) -> Callable[[type[RecurrentCell]], type[RecurrentCell]]:
    """Class decorator: make a :class:`RecurrentCell` subclass buildable as ``name``."""

    def register(cls: type[RecurrentCell]) -> type[RecurrentCell]:
        if not (isinstance(cls, type) and issubclass(cls, RecurrentCell)):
            raise TypeError(f"cell {name!r} must be a RecurrentCell subclass, got {cls!r}")
        if name in CELLS:
            raise ValueError(f"a cell named {name!r} is already registered "
                             f"({CELLS[name].__qualname__})")
        params = inspect.signature(cls.__init__).parameters
        missing = [o for o in ("key", "init", *cls.options) if o not in params]
        if missing:
            raise TypeError(f"{cls.__qualname__}.__init__ does not take {', '.join(missing)}")
        CELLS[name] = cls
        return cls

    return register


@register_cell("elman")
class ElmanCell(RecurrentCell):
    r"""Elman (simple recurrent) cell, as in seed 002.

    .. math:: h_t = f(x_t W + h_{t-1} U + b), \qquad y_t = h_t

    ``f`` is tanh (default) or relu. The state is :math:`h`.
    """

    options = ("activation",)
    gates = 1

    W: Float[Array, "n_in hidden"]
    U: Float[Array, "hidden hidden"]
    b: Float[Array, " hidden"]
    h0: Float[Array, " hidden"]
    activation: str = eqx.field(static=True)

    def __init__(self, n_in: int, hidden: int, *, key: Key, activation: str = "tanh",
                 init: str = "glorot_uniform"):
        w_init, u_init = cell_init(init)
        k1, k2 = _split(key, 2)
        get_activation(activation)
        self.W = jax.device_put(w_init(k1, (n_in, hidden)))
        self.U = jax.device_put(u_init(k2, (hidden, hidden)))
        self.b = jax.device_put(_zeros(hidden))
        self.h0 = jax.device_put(_zeros(hidden))
        self.activation = activation

    def initial_state(self) -> Float[Array, " hidden"]:
        return self.h0

    def __call__(self, h, x):
        h = get_activation(self.activation)(x @ self.W + h @ self.U + self.b)
        return h, h


class LSTMState(NamedTuple):
    """Hidden output ``h`` and memory cell ``c`` of an LSTM."""

    h: Array
    c: Array


@register_cell("lstm")
class LSTMCell(RecurrentCell):
    r"""LSTM with a forget gate (Gers et al. 2000).

    .. math::
        [i, f, g, o] = x_t W + h_{t-1} U + b, \quad
        c_t = \sigma(f) c_{t-1} + \sigma(i) \tanh(g), \quad
        h_t = \sigma(o) \tanh(c_t)

    The forget gate's bias starts at ``forget_bias`` (1 by default: remember
    until learned otherwise, Jozefowicz et al. 2015). The state is
    :class:`LSTMState` ``(h, c)``; its hidden vector is ``h``.
    """

    options = ("forget_bias",)
    gates = 4

    W: Float[Array, "n_in four_hidden"]
    U: Float[Array, "hidden four_hidden"]
    b: Float[Array, " four_hidden"]
    h0: Float[Array, " hidden"]
    c0: Float[Array, " hidden"]

    def __init__(self, n_in: int, hidden: int, *, key: Key, forget_bias: float = 1.0,
                 init: str = "glorot_uniform"):
        w_init, u_init = cell_init(init)
        k1, k2 = _split(key, 2)
        self.W = jax.device_put(np.concatenate(
            [w_init(k, (n_in, hidden)) for k in k1.spawn(4)], axis=1))
        self.U = jax.device_put(np.concatenate(
            [u_init(k, (hidden, hidden)) for k in k2.spawn(4)], axis=1))
        b = _zeros(4 * hidden)
        b[hidden : 2 * hidden] = forget_bias
        self.b = jax.device_put(b)
        self.h0 = jax.device_put(_zeros(hidden))
        self.c0 = jax.device_put(_zeros(hidden))

    def initial_state(self) -> LSTMState:
        return LSTMState(self.h0, self.c0)

    def __call__(self, state: LSTMState, x):
        z = x @ self.W + state.h @ self.U + self.b
        i, f, g, o = jnp.split(z, 4)
        c = jax.nn.sigmoid(f) * state.c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return LSTMState(h, c), h

    def hidden(self, state: LSTMState) -> Float[Array, " hidden"]:
        return state.h

    def with_hidden(self, state: LSTMState, h: Float[Array, " hidden"]) -> LSTMState:
        return state._replace(h=h)


@register_cell("gru")
class GRUCell(RecurrentCell):
    r"""Gated recurrent unit (Cho et al. 2014).

    .. math::
        r = \sigma(x W_r + h U_r + b_r),\ z = \sigma(x W_z + h U_z + b_z),\
        n = \tanh(x W_n + r (h U_n) + b_n),\ h_t = (1 - z) n + z h_{t-1}

    The state is :math:`h`.
    """

    gates = 3
    W: Float[Array, "n_in three_hidden"]
    U: Float[Array, "hidden three_hidden"]
    b: Float[Array, " three_hidden"]
    h0: Float[Array, " hidden"]

    def __init__(self, n_in: int, hidden: int, *, key: Key, init: str = "glorot_uniform"):
        w_init, u_init = cell_init(init)
        k1, k2 = _split(key, 2)
        self.W = jax.device_put(np.concatenate(
            [w_init(k, (n_in, hidden)) for k in k1.spawn(3)], axis=1))
        self.U = jax.device_put(np.concatenate(
            [u_init(k, (hidden, hidden)) for k in k2.spawn(3)], axis=1))
        self.b = jax.device_put(_zeros(3 * hidden))
        self.h0 = jax.device_put(_zeros(hidden))

    def initial_state(self) -> Float[Array, " hidden"]:
        return self.h0

    def __call__(self, h, x):
        hid = h.shape[-1]
        xw = x @ self.W + self.b
        hu = h @ self.U
        r = jax.nn.sigmoid(xw[:hid] + hu[:hid])
        z = jax.nn.sigmoid(xw[hid : 2 * hid] + hu[hid : 2 * hid])
        n = jnp.tanh(xw[2 * hid :] + r * hu[2 * hid :])
        h = (1.0 - z) * n + z * h
        return h, h


def make_cell(kind: str, n_in: int, hidden: int, *, key: Key, init: str = "glorot_uniform",
              **options: Any) -> RecurrentCell:
    """The cell registered as ``kind`` (``elman``, ``lstm``, ``gru``, ...).

    ``options`` are cell-specific settings (``activation`` of the Elman cell,
    ``forget_bias`` of the LSTM). Each goes to the cells that declare it in
    :attr:`RecurrentCell.options` and is ignored by the others, so one call can
    carry every cell's settings; an option that no registered cell declares is
    an error.
    """
    try:
        cls = CELLS[kind]
    except KeyError:
        raise ValueError(f"unknown cell {kind!r}; valid: {', '.join(CELLS)}") from None
    known = {o for c in CELLS.values() for o in c.options}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"unknown cell option {', '.join(unknown)}; valid: "
                         f"{', '.join(sorted(known))}")
    own = {k: v for k, v in options.items() if k in cls.options}
    return cls(n_in, hidden, key=key, init=init, **own)
