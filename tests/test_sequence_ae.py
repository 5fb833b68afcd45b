"""Dai & Le sequence autoencoder: cells vs NumPy, gradients, learning, buckets, errors, files."""

from __future__ import annotations

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

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
    # each compiled as one program (eagerly, each small operation would compile alone)
    code = np.asarray(eqx.filter_jit(m.encode)(jnp.asarray(xs, jnp.float32), jnp.asarray(T)))
    np.testing.assert_allclose(code, y, atol=1e-5)
    state = (y, np.asarray(m.decoder.c0, np.float64)) if cell == "lstm" else y
    outs = []
    for _ in range(T):
        state, s = _np_step(cell, m.decoder, state, np.zeros(0))
        outs.append(s @ np.asarray(m.W_out) + np.asarray(m.b_out))
    rec = np.asarray(eqx.filter_jit(m)(jnp.asarray(xs, jnp.float32), jnp.asarray(T)))
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


@pytest.fixture(scope="module")
def lstm_waves():
    """An LSTM trained on 150 waves (shared: do not modify it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SequenceAutoencoder(8, cell="lstm", max_iter=30, random_state=0).fit(
            _waves(150, 0))


@pytest.fixture(scope="module")
def small_elman():
    """``(est, X)``: a 2-epoch Elman autoencoder on 40 waves (shared: do not modify it)."""
    X = _waves(40, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SequenceAutoencoder(4, cell="elman", max_iter=2, random_state=0).fit(X), X


def test_anomalies_score_lower(lstm_waves):
    """Noise has twice the waves' energy, so an untrained model with small outputs scores
    it lower too: the bounds are set against that model's (this seed and data, 1 step at
    learning rate 1e-12): noise's median error 2.19 times the waves', the waves' error
    1.98 times their mean square. Trained: 17.8 times, and 0.25."""
    est = lstm_waves
    noise = [np.random.default_rng(i).normal(0, 1, (8, 2)).astype(np.float32) for i in range(20)]
    waves = _waves(20, 3)
    ratio = np.median(est.score_samples(noise)) / np.median(est.score_samples(waves))
    assert ratio > 6
    energy = np.mean([np.mean(x ** 2) for x in waves])
    assert est.reconstruction_error(waves).mean() < 0.6 * energy


def test_bounded_compilations_and_no_refit_recompile(small_elman):
    est, X = small_elman  # fitted with the settings below: its programs are compiled
    est.transform(X)
    with count_compiles() as n:
        SequenceAutoencoder(4, cell="elman", max_iter=2, random_state=1).fit(X)
        est.transform(X[::-1])  # other order, same buckets and chunk sizes
    assert n() == 0


def test_save_load_round_trip(tmp_path, lstm_waves):
    X, est = _waves(30, 0), lstm_waves
    est.save(tmp_path / "s.hs")
    back = hiddenstate.load(tmp_path / "s.hs")
    np.testing.assert_allclose(back.transform(X), est.transform(X), rtol=1e-6)
    assert clone(est).get_params() == est.get_params()


def test_bad_input(small_elman):
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
    est = small_elman[0]  # 4 components on waves of width 2
    with pytest.raises(InputError,
                       match="sequence 0: has 5 features per step, the model's width is 2"):
        est.transform([np.zeros((3, 5))])
    with pytest.raises(InputError, match=r"shape \(n, 4\)"):
        est.inverse_transform(np.zeros((2, 3)), [3, 3])
    with pytest.raises(InputError, match="one per code"):
        est.inverse_transform(np.zeros((2, 4)), [3])
    with pytest.raises(InputError, match=">= 1"):
        est.inverse_transform(np.zeros((2, 4)), [3, 0])
    with pytest.raises(ValueError, match="cell"):
        SequenceAutoencoder(cell="rnn").fit(X)


# -- token sequences (the SA-LSTM pretraining of Dai & Le 2015) -----------------------------


def _sentences(n, seed, words="a b c d"):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(words.split(), int(rng.integers(1, 5)))) for _ in range(n)]


@pytest.fixture(scope="module")
def token_ae():
    est = SequenceAutoencoder(16, cell="elman", embedding_dim=8, max_iter=25, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(_sentences(96, 0))


def test_token_encode_and_loss_match_numpy():
    """Embedding lookup, code and per-step softmax cross-entropy against NumPy."""
    E_, H, V, T = 3, 4, 6, 5
    m = SequenceAutoencoderNet(E_, H, key=jax.random.key(0), cell="elman", n_tokens=V)
    assert (m.embedding.shape, m.W_out.shape) == ((V, E_), (H, V))
    ids = np.array([2, 5, 0, 3, 1, 4, 4, 4])  # the last 3 are padding
    E = np.asarray(m.embedding, np.float64)
    state = np.asarray(m.encoder.h0, np.float64)
    for i in ids[:T]:
        state, code = _np_step("elman", m.encoder, state, E[i])
    jit = eqx.filter_jit  # one program each (eagerly, each small operation compiles alone)
    np.testing.assert_allclose(np.asarray(jit(m.encode)(jnp.asarray(ids), T)), code, atol=1e-5)
    state, outs = code, []
    for _ in range(T):
        state, s = _np_step("elman", m.decoder, state, np.zeros(0))
        outs.append(s @ np.asarray(m.W_out) + np.asarray(m.b_out))
    z = np.stack(outs)[::-1]  # newest first -> input order
    np.testing.assert_allclose(np.asarray(jit(m)(jnp.asarray(ids), T))[:T], z, atol=1e-5)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    want = -logp[np.arange(T), ids[:T]].mean()
    got = jit(SequenceAEObjective().per_example)(m, (jnp.asarray(ids[None]), jnp.asarray([T])))
    np.testing.assert_allclose(np.asarray(got), [want], rtol=1e-5)
    # length buckets cut only the ids, not the lengths
    cut = SequenceAEObjective.truncate((jnp.asarray(ids[None]), jnp.asarray([T])), 5)
    assert cut[0].shape == (1, 5) and int(cut[1][0]) == T


def test_token_gradients_match_finite_differences():
    with jax.enable_x64(True):
        m = SequenceAutoencoderNet(2, 3, key=jax.random.key(1), cell="elman",
                                   dtype=jnp.float64, n_tokens=5)
        batch = (jnp.asarray([[2, 4, 0, 3], [1, 3, 0, 0]]), jnp.asarray([4, 2]))
        w = jnp.ones(2, jnp.float64)
        check_grads(jax.jit(lambda mm: SequenceAEObjective()(mm, batch, w, None)), (m,),
                    order=1, modes=["rev"], atol=1e-5, rtol=1e-5)


def test_learns_to_reconstruct_tokens(token_ae):
    est = token_ae
    assert sorted(est.vocabulary_.tokens) == ["a", "b", "c", "d"] and est.n_features_in_ == 8
    test = _sentences(60, 1)
    pred = est.predict(test)
    assert [len(p) for p in pred] == [len(s.split()) for s in test]
    acc = np.mean([a == b for s, p in zip(test, pred, strict=True)
                   for a, b in zip(s.split(), p, strict=True)])
    # chance: 0.25; the untrained model (this seed and data, 1 step at learning rate
    # 1e-12): accuracy 0.16, error 1.78 nats (uniform: log 4 = 1.39); trained 0.87, 0.35
    assert acc > 0.7
    err = est.reconstruction_error(test)
    assert err.shape == (60,) and err.mean() < 0.6
    codes = est.transform(test)
    assert codes.shape == (60, 16)
    # whitespace-separated strings and token lists are the same input
    np.testing.assert_allclose(est.transform([s.split() for s in test[:5]]), codes[:5],
                               rtol=1e-5, atol=1e-6)
    rec = est.inverse_transform(codes[:3], [2, 3, 1])
    assert [len(r) for r in rec] == [2, 3, 1] and all(isinstance(t, str) for t in rec[0])
    # a token never seen is id 0 (<unk>), not an error
    assert len(est.predict([["a", "never-seen"]])[0]) == 2
    parts = est._encoder_parts()
    assert set(parts) == {"cell", "hidden_size", "cells", "embedding", "vocabulary",
                          "n_features_in", "tokenizer", "scaling"}
    assert parts["scaling"].kind == "none"  # tokens are not scaled
    assert (parts["cell"], parts["hidden_size"], parts["n_features_in"]) == ("elman", 16, 8)
    assert parts["tokenizer"] == "default"
    assert parts["cells"] == (est.model_.encoder,) and parts["embedding"].shape == (6, 8)
    assert parts["vocabulary"] is est.vocabulary_


def test_token_training_uses_length_buckets(token_ae):
    data = SequenceAutoencoder()._prepare(["a"] * 30 + ["a b c d e f g h i j"] * 2, reset=True)
    row_bucket, lengths = data.buckets
    assert lengths == (4, 12) and data.data[0].shape == (32, 12)
    assert data.data[0].dtype == np.int32 and list(np.bincount(row_bucket)) == [30, 2]


def test_token_save_load_round_trip(tmp_path, token_ae):
    from hiddenstate import ModelFileError, _serialize

    token_ae.save(tmp_path / "t.hs")
    back = hiddenstate.load(tmp_path / "t.hs")
    assert back.vocabulary_ == token_ae.vocabulary_
    X = _sentences(10, 2)
    np.testing.assert_array_equal(back.transform(X), token_ae.transform(X))
    assert back.predict(X) == token_ae.predict(X)
    config, tensors = token_ae._to_file()
    config["vocabulary"] = config["vocabulary"][:-1]
    _serialize.save(tmp_path / "bad.hs", "SequenceAutoencoder", config, tensors)
    with pytest.raises(ModelFileError, match="tensor 'model.W_out'"):
        hiddenstate.load(tmp_path / "bad.hs")


def test_old_files_without_a_vocabulary_load(tmp_path, small_elman):
    from hiddenstate import _serialize

    est = small_elman[0]
    config, tensors = est._to_file()
    assert config.pop("vocabulary") is None
    _serialize.save(tmp_path / "old.hs", "SequenceAutoencoder", config, tensors)
    back = hiddenstate.load(tmp_path / "old.hs")
    assert back.vocabulary_ is None
    X = _waves(1, 1)
    np.testing.assert_array_equal(back.transform(X), est.transform(X))
    parts = est._encoder_parts()
    assert parts["embedding"] is None and parts["vocabulary"] is None
    assert parts["n_features_in"] == 2 and parts["cells"][0].W.shape == (2, 4)
    with pytest.raises(InputError, match="trained on real-valued sequences"):
        est.transform(["a b"])


def test_token_bad_input(token_ae):
    with pytest.raises(InputError, match="sequence 1: empty sequence"):
        SequenceAutoencoder(max_iter=1).fit(["a b", "  "])
    with pytest.raises(InputError, match="sequence 0: token 1 is a int"):
        SequenceAutoencoder(max_iter=1).fit([["a", 3]])
    with pytest.raises(InputError, match="trained on token sequences .*not real-valued sequences"):
        token_ae.transform(_waves(2, 0))
    with pytest.raises(InputError, match="no sequences"):
        token_ae.predict([])
