"""Recurrent cells: shapes, one step against NumPy, finite-difference gradients."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from hiddenstate.nn import ElmanCell, GRUCell, LSTMCell, LSTMState, SequenceNet, make_cell

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
    assert net(xs).shape == (6, 3)
    assert jax.vmap(net)(jnp.stack([xs, xs])).shape == (2, 6, 3)
    with jax.enable_x64(True):
        net64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64) if isinstance(a, jax.Array)
                             else a, net)
        leaves, treedef = jax.tree.flatten(net64)
        x64 = jnp.asarray(xs, jnp.float64)

        def f(*ls):
            return jnp.sum(jnp.sin(jax.tree.unflatten(treedef, ls)(x64)))

        check_grads(f, tuple(leaves), order=1, modes=["rev"], eps=1e-6, atol=1e-6, rtol=1e-5)


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
