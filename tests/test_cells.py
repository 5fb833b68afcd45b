"""Recurrent cells: the protocol and registry, one step against NumPy, gradients."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from hiddenstate.nn import (
    CELLS,
    ElmanCell,
    GRUCell,
    LSTMCell,
    LSTMState,
    RecurrentCell,
    SequenceAutoencoderNet,
    SequenceNet,
    cell_init,
    host_rng,
    make_cell,
    register_cell,
)

from .conftest import count_compiles


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _np(*arrays):
    return [np.asarray(a, np.float64) for a in arrays]


def test_elman_step_matches_numpy():
    cell = ElmanCell(3, 4, key=jax.random.key(0))
    h, x = np.full(4, 0.3), np.array([0.1, -0.2, 0.5])
    W, U, b = _np(cell.W, cell.U, cell.b + 0.1)
    cell = jax.tree.map(lambda a: a, cell)
    new, y = cell(jnp.asarray(h, jnp.float32), jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(np.asarray(new), np.tanh(x @ W + h @ U + b - 0.1), rtol=1e-5)
    assert np.array_equal(np.asarray(new), np.asarray(y))


def test_lstm_step_matches_numpy_and_forget_bias():
    cell = LSTMCell(3, 2, key=jax.random.key(1), forget_bias=1.0)
    assert np.allclose(np.asarray(cell.b), [0, 0, 1, 1, 0, 0, 0, 0])
    W, U, b = _np(cell.W, cell.U, cell.b)
    h, c, x = np.array([0.2, -0.1]), np.array([0.5, 0.4]), np.array([1.0, 0.0, -1.0])
    z = x @ W + h @ U + b
    i, f, g, o = np.split(z, 4)
    c_new = _sig(f) * c + _sig(i) * np.tanh(g)
    h_new = _sig(o) * np.tanh(c_new)
    state, y = cell(cell.initial_state()._replace(h=jnp.asarray(h, jnp.float32),
                                                  c=jnp.asarray(c, jnp.float32)),
                    jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(np.asarray(state.c), c_new, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(y), h_new, rtol=1e-5)


def test_gru_step_matches_numpy():
    cell = GRUCell(2, 3, key=jax.random.key(2))
    W, U, b = _np(cell.W, cell.U, cell.b)
    h, x = np.array([0.1, 0.2, -0.3]), np.array([0.5, -0.5])
    xw, hu = x @ W + b, h @ U
    r = _sig(xw[:3] + hu[:3])
    z = _sig(xw[3:6] + hu[3:6])
    n = np.tanh(xw[6:] + r * hu[6:])
    new, _ = cell(jnp.asarray(h, jnp.float32), jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(np.asarray(new), (1 - z) * n + z * h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["elman", "lstm", "gru"])
def test_sequence_net_shapes_and_gradients(kind):
    net = SequenceNet(4, 5, 3, key=jax.random.key(0), cell=kind, num_layers=2)
    xs = jax.random.normal(jax.random.key(1), (6, 4))
    one, two = eqx.filter_jit(  # one program, not one per operation
        lambda net, xs: (net(xs), jax.vmap(net)(jnp.stack([xs, xs]))))(net, xs)
    assert one.shape == (6, 3) and two.shape == (2, 6, 3)
    with jax.enable_x64(True):
        net64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64) if isinstance(a, jax.Array)
                             else a, net)
        leaves, treedef = jax.tree.flatten(net64)
        x64 = jnp.asarray(xs, jnp.float64)

        def f(*ls):
            return jnp.sum(jnp.sin(jax.tree.unflatten(treedef, ls)(x64)))

        # Jitted: one program for the loss and one for its gradient, where eager code
        # compiled every small operation.
        check_grads(jax.jit(f), tuple(leaves), order=1, modes=["rev"], eps=1e-6, atol=1e-6,
                    rtol=1e-5)


def test_seed_initialiser_has_unit_spectral_norm():
    cell = ElmanCell(7, 10, key=jax.random.key(0), init="seed")
    for m in (cell.W, cell.U):
        np.testing.assert_allclose(np.linalg.norm(np.asarray(m), 2), 1.0, rtol=1e-5)


def test_elman_relu_and_learned_h0_are_used():
    cell = ElmanCell(2, 3, key=jax.random.key(3), activation="relu")
    cell = eqx.tree_at(lambda c: c.h0, cell, jnp.array([1.0, -2.0, 0.5]))
    W, U, b, h0 = _np(cell.W, cell.U, cell.b, cell.h0)
    x = np.array([0.3, -0.7])
    new, _ = cell(cell.initial_state(), jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(np.asarray(new), np.maximum(x @ W + h0 @ U + b, 0), rtol=1e-5,
                               atol=1e-7)
    with pytest.raises(ValueError, match="unknown cell"):
        make_cell("rnn", 2, 3, key=jax.random.key(0))


def test_stacked_lstm_scan_matches_a_python_loop():
    net = SequenceNet(3, 4, 2, key=jax.random.key(5), cell="lstm", num_layers=3)
    xs = jax.random.normal(jax.random.key(6), (5, 3))
    state, outs = net.initial_state(), []
    for x in xs:
        state, y = net.step(state, x)
        outs.append(y)
    assert isinstance(state[0], LSTMState) and len(state) == 3
    np.testing.assert_allclose(np.asarray(net(xs)), np.stack(outs), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["elman", "lstm", "gru"])
def test_no_recompilation_for_new_values(kind):
    net = SequenceNet(3, 4, 2, key=jax.random.key(0), cell=kind)
    f = eqx.filter_jit(lambda net, xs: jax.vmap(net)(xs))
    f(net, jnp.zeros((2, 8, 3)))
    other = SequenceNet(3, 4, 2, key=jax.random.key(1), cell=kind)
    with count_compiles() as compiles:
        f(other, jnp.ones((2, 8, 3))).block_until_ready()
    assert compiles() == 0


def test_cells_are_drawn_on_the_host_reproducibly_without_compiling():
    SequenceNet(3, 4, 2, key=jax.random.key(9), cell="gru")  # warm up eager helpers
    with count_compiles() as compiles:
        a = SequenceNet(3, 5, 2, key=jax.random.key(7), cell="lstm", num_layers=2)
        b = SequenceNet(3, 5, 2, key=jax.random.key(7), cell="lstm", num_layers=2)
    assert compiles() == 0
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    c = SequenceNet(3, 5, 2, key=jax.random.key(8), cell="lstm", num_layers=2)
    assert not np.array_equal(np.asarray(a.cells[0].W), np.asarray(c.cells[0].W))
    U = np.asarray(a.cells[0].U[:, :5])  # orthogonal recurrent blocks
    np.testing.assert_allclose(U.T @ U, np.eye(5), atol=1e-5)
    with pytest.raises(TypeError, match="outside jax.jit"):
        jax.jit(lambda k: SequenceNet(3, 4, 2, key=k).V)(jax.random.key(0))


# -- the protocol and the registry -----------------------------------------------------------


def _assert_tree_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def _check_protocol(cell, n_in: int, hidden: int):
    s0 = cell.initial_state()
    assert cell.hidden(s0).shape == (hidden,)
    x = jnp.linspace(-1.0, 1.0, n_in)
    s1, y = cell(s0, x)
    assert y.shape == (hidden,) and cell.hidden(s1).shape == (hidden,)
    assert jax.tree.structure(s1) == jax.tree.structure(s0)
    assert [a.shape for a in jax.tree.leaves(s1)] == [a.shape for a in jax.tree.leaves(s0)]
    # the scan signature: the cell is the loop body
    _, ys = jax.lax.scan(lambda s, x: cell(s, x), s0, jnp.ones((5, n_in)))
    assert ys.shape == (5, hidden)
    # with_hidden replaces the hidden vector and nothing else
    h = jnp.arange(hidden, dtype=jnp.float32)
    s2 = cell.with_hidden(s1, h)
    np.testing.assert_array_equal(np.asarray(cell.hidden(s2)), np.asarray(h))
    _assert_tree_equal(cell.with_hidden(s2, cell.hidden(s1)), s1)


def _check_sequence_autoencoder(kind: str):
    d, H, L, T = 3, 4, 6, 4
    net = SequenceAutoencoderNet(d, H, key=jax.random.key(0), cell=kind)
    assert isinstance(net.encoder, CELLS[kind]) and isinstance(net.decoder, CELLS[kind])
    xs = jnp.asarray(np.random.default_rng(0).normal(size=(L, d)), jnp.float32)

    @eqx.filter_jit
    def run(net, xs):
        state = net.encoder.initial_state()
        for x in xs[:T]:  # steps past the length leave the state unchanged
            state, _ = net.encoder(state, x)
        code = net.encode(xs, jnp.asarray(T))
        # the decoder starts from its initial state holding the code
        start = net.decoder.with_hidden(net.decoder.initial_state(), code)
        _, y = net.decoder(start, jnp.zeros((0,)))
        return (net.encoder.hidden(state), code, y @ net.W_out + net.b_out,
                net.decode_reversed(code, 3)[0], net(xs, jnp.asarray(T)))

    h_loop, code, first, decoded, out = run(net, xs)
    np.testing.assert_allclose(np.asarray(code), np.asarray(h_loop), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(decoded), np.asarray(first), rtol=1e-5, atol=1e-6)
    assert out.shape == (L, d) and np.all(np.isfinite(np.asarray(out)))
    assert not np.any(np.asarray(out[T:]))


def test_cells_are_registered_by_name_in_order():
    assert list(CELLS) == ["elman", "lstm", "gru"]
    assert CELLS["elman"] is ElmanCell and CELLS["lstm"] is LSTMCell and CELLS["gru"] is GRUCell
    assert "lstm" in CELLS and set(CELLS) == {"elman", "lstm", "gru"}
    assert ", ".join(CELLS) == "elman, lstm, gru"


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("init", ["glorot_uniform", "seed"])
def test_every_registered_cell_satisfies_the_protocol(kind, init):
    cell = make_cell(kind, 3, 4, key=jax.random.key(0), init=init)
    assert isinstance(cell, RecurrentCell) and isinstance(cell, CELLS[kind])
    _check_protocol(cell, 3, 4)


@pytest.mark.parametrize("kind", list(CELLS))
def test_sequence_autoencoder_net_works_for_every_registered_cell(kind):
    _check_sequence_autoencoder(kind)


def test_make_cell_passes_each_option_only_to_the_cells_that_take_it():
    key = jax.random.key(0)
    opts = {"forget_bias": 3.0, "activation": "relu"}
    assert make_cell("elman", 2, 3, key=key, **opts).activation == "relu"
    assert np.all(np.asarray(make_cell("lstm", 2, 3, key=key, **opts).b[3:6]) == 3.0)
    make_cell("gru", 2, 3, key=key, **opts)
    with pytest.raises(ValueError, match="unknown cell option forget_bais; valid: activation"):
        make_cell("lstm", 2, 3, key=key, forget_bais=3.0)
    with pytest.raises(ValueError, match="unknown init 'he'; valid: glorot_uniform, seed"):
        make_cell("gru", 2, 3, key=key, init="he")
    with pytest.raises(ValueError, match="unknown init"):
        cell_init("he")


@pytest.fixture
def tiny_cell():
    """A new cell, registered as 'tiny' for one test; its state also counts the steps."""

    class TinyCell(RecurrentCell):
        r""":math:`h_t = \tanh(x_t W + a \odot h_{t-1})`; state ``(h, steps)``."""

        options = ("decay",)
        W: jax.Array
        a: jax.Array
        h0: jax.Array

        def __init__(self, n_in, hidden, *, key, init="glorot_uniform", decay=0.5):
            w_init, _ = cell_init(init)
            self.W = jnp.asarray(w_init(host_rng(key), (n_in, hidden)))
            self.a = jnp.full((hidden,), decay, jnp.float32)
            self.h0 = jnp.zeros((hidden,), jnp.float32)

        def initial_state(self):
            return self.h0, jnp.zeros((), jnp.float32)

        def __call__(self, state, x):
            h, steps = state
            h = jnp.tanh(x @ self.W + self.a * h)
            return (h, steps + 1), h

        def hidden(self, state):
            return state[0]

        def with_hidden(self, state, h):
            return h, state[1]

    register_cell("tiny")(TinyCell)
    try:
        yield TinyCell
    finally:
        del CELLS["tiny"]


def test_a_new_registered_cell_is_used_without_any_other_change(tiny_cell):
    key = jax.random.key(0)
    cell = make_cell("tiny", 3, 4, key=key, decay=0.25, forget_bias=2.0, activation="relu")
    assert isinstance(cell, tiny_cell)
    np.testing.assert_array_equal(np.asarray(cell.a), np.full(4, 0.25, np.float32))
    assert isinstance(make_cell("elman", 3, 4, key=key, decay=0.25), ElmanCell)
    _check_protocol(cell, 3, 4)

    net = SequenceNet(3, 4, 2, key=key, cell="tiny", num_layers=2, forget_bias=2.0)
    assert all(isinstance(c, tiny_cell) for c in net.cells)
    xs = jax.random.normal(jax.random.key(1), (5, 3))
    state, outs = net.initial_state(), []
    for x in xs:
        state, z = net.step(state, x)
        outs.append(z)
    assert [float(s[1]) for s in state] == [5.0, 5.0]
    np.testing.assert_allclose(np.asarray(net(xs)), np.stack(outs), rtol=1e-5, atol=1e-6)
    assert jax.vmap(net)(jnp.stack([xs, xs])).shape == (2, 5, 2)

    _check_sequence_autoencoder("tiny")


def test_register_cell_rejects_duplicates_and_incomplete_cells():
    with pytest.raises(ValueError, match="already registered"):
        register_cell("lstm")(GRUCell)
    with pytest.raises(TypeError, match="RecurrentCell subclass"):
        register_cell("dense")(eqx.nn.Linear)

    class NoOption(ElmanCell):
        options = ("activation", "leak")

    with pytest.raises(TypeError, match="does not take leak"):
        register_cell("leaky")(NoOption)
    assert list(CELLS) == ["elman", "lstm", "gru"]

    class Stepless(RecurrentCell):
        def initial_state(self):
            return jnp.zeros(2)

    with pytest.raises(TypeError, match="abstract"):
        Stepless()
