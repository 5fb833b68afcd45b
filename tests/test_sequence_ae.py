"""Dai & Le sequence autoencoder: cells vs NumPy, gradients, learning, buckets, errors, files."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from sklearn.base import clone

import hiddenstate
from hiddenstate import InputError, SequenceAutoencoder
from hiddenstate.nn import SequenceAutoencoderNet
from hiddenstate.objectives import SequenceAEObjective

from .conftest import count_compiles


def _sig(z):
    return 1 / (1 + np.exp(-z))


def _np_step(cell, m, h, x):
    W, U, b = (np.asarray(a, np.float64) for a in (m.W, m.U, m.b))
    if cell == "elman":
        h = np.tanh(x @ W + h @ U + b)
        return h, h
    if cell == "lstm":
        hh, c = h
        i, f, g, o = np.split(x @ W + hh @ U + b, 4)
        c = _sig(f) * c + _sig(i) * np.tanh(g)
        hh = _sig(o) * np.tanh(c)
        return (hh, c), hh
    H = h.size
    xw, hu = x @ W + b, h @ U
    r = _sig(xw[:H] + hu[:H])
    z = _sig(xw[H : 2 * H] + hu[H : 2 * H])
    n = np.tanh(xw[2 * H :] + r * hu[2 * H :])
    h = (1 - z) * n + z * h
    return h, h


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_encode_and_decode_match_numpy(cell):
    d, H, T, L = 3, 5, 4, 8
    m = SequenceAutoencoderNet(d, H, key=jax.random.key(0), cell=cell)
    xs = np.random.default_rng(0).normal(size=(L, d))
    enc = m.encoder
    h0 = np.asarray(enc.h0, np.float64)
    state = (h0, np.asarray(enc.c0, np.float64)) if cell == "lstm" else h0
    for x in xs[:T]:  # steps past the length are ignored
        state, y = _np_step(cell, m.encoder, state, x)
    code = np.asarray(m.encode(jnp.asarray(xs, jnp.float32), jnp.asarray(T)))
    np.testing.assert_allclose(code, y, atol=1e-5)
    state = (y, np.asarray(m.decoder.c0, np.float64)) if cell == "lstm" else y
    outs = []
    for _ in range(T):
        state, s = _np_step(cell, m.decoder, state, np.zeros(0))
        outs.append(s @ np.asarray(m.W_out) + np.asarray(m.b_out))
    rec = np.asarray(m(jnp.asarray(xs, jnp.float32), jnp.asarray(T)))
    np.testing.assert_allclose(rec[:T], np.stack(outs)[::-1], atol=1e-5)
    assert (rec[T:] == 0).all()


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_gradients_match_finite_differences(cell):
    with jax.enable_x64(True):
        m = SequenceAutoencoderNet(2, 3, key=jax.random.key(1), cell=cell, dtype=jnp.float64)
        xs = jnp.asarray(np.random.default_rng(1).normal(size=(2, 5, 2)))
        batch = (xs, jnp.asarray([5, 3]))
        w = jnp.ones(2, jnp.float64)
        check_grads(
            jax.jit(lambda mm: SequenceAEObjective()(jax.tree.map(jnp.asarray, mm), batch, w,
                                                     None)),
            (m,),
            order=1,
            modes=["rev"],
            atol=1e-5,
            rtol=1e-5,
        )


def _waves(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        T = int(rng.integers(3, 12))
        f, ph = rng.uniform(0.2, 0.8), rng.uniform(0, 6.28)
        t = np.arange(T)
        out.append(np.stack([np.sin(f * t + ph), np.cos(f * t + ph)], 1).astype(np.float32))
    return out


def test_learns_to_reconstruct_waves():
    X = _waves(200, 0)
    est = SequenceAutoencoder(12, cell="gru", max_iter=40, random_state=0).fit(X)
    Xt = _waves(50, 1)
    err = est.reconstruction_error(Xt)
    assert err.shape == (50,)
    assert err.mean() < 0.05 * np.mean([x.var() for x in Xt]) + 0.01
    codes = est.transform(Xt)
    assert codes.shape == (50, 12)
    rec = est.inverse_transform(codes, [len(x) for x in Xt])
    assert [r.shape for r in rec] == [x.shape for x in Xt]
    np.testing.assert_allclose(est.score_samples(Xt), -err)
    # predict = decode(encode)
    np.testing.assert_allclose(est.predict(Xt[:3])[1], rec[1], rtol=1e-5, atol=1e-6)


def test_anomalies_score_lower():
    X = _waves(150, 0)
    est = SequenceAutoencoder(8, cell="lstm", max_iter=30, random_state=0).fit(X)
    noise = [np.random.default_rng(i).normal(0, 1, (8, 2)).astype(np.float32) for i in range(20)]
    assert np.median(est.score_samples(noise)) < np.median(est.score_samples(_waves(20, 3)))


def test_bounded_compilations_and_no_refit_recompile():
    X = _waves(40, 0)
    est = SequenceAutoencoder(4, cell="elman", max_iter=2, random_state=0).fit(X)
    est.transform(X)
    with count_compiles() as n:
        SequenceAutoencoder(4, cell="elman", max_iter=2, random_state=1).fit(X)
        est.transform(X[::-1])  # other order, same buckets and chunk sizes
    assert n() == 0


def test_save_load_round_trip(tmp_path):
    X = _waves(30, 0)
    est = SequenceAutoencoder(4, cell="lstm", max_iter=2, random_state=0).fit(X)
    est.save(tmp_path / "s.hs")
    back = hiddenstate.load(tmp_path / "s.hs")
    np.testing.assert_allclose(back.transform(X), est.transform(X), rtol=1e-6)
    assert clone(est).get_params() == est.get_params()


def test_bad_input():
    X = _waves(10, 0)
    with pytest.raises(InputError, match="no sequences"):
        SequenceAutoencoder(max_iter=1).fit([])
    with pytest.raises(InputError, match="sequence 1: empty"):
        SequenceAutoencoder(max_iter=1).fit([X[0], np.zeros((0, 2))])
    with pytest.raises(InputError, match="sequence 2: has 3 features"):
        SequenceAutoencoder(max_iter=1).fit([X[0], X[1], np.zeros((4, 3))])
    with pytest.raises(InputError, match="sequence 0: non-finite"):
        SequenceAutoencoder(max_iter=1).fit([np.full((3, 2), np.nan)])
    with pytest.raises(InputError, match=r"\(T, d\)"):
        SequenceAutoencoder(max_iter=1).fit([np.zeros(4)])
    est = SequenceAutoencoder(4, max_iter=1, random_state=0).fit(X)
    with pytest.raises(InputError, match="the fitted width is 2"):
        est.transform([np.zeros((3, 5))])
    with pytest.raises(InputError, match=r"shape \(n, 4\)"):
        est.inverse_transform(np.zeros((2, 3)), [3, 3])
    with pytest.raises(InputError, match="one per code"):
        est.inverse_transform(np.zeros((2, 4)), [3])
    with pytest.raises(InputError, match=">= 1"):
        est.inverse_transform(np.zeros((2, 4)), [3, 0])
    with pytest.raises(ValueError, match="cell"):
        SequenceAutoencoder(cell="rnn").fit(X)
