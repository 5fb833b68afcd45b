"""The convolutional encoder of SequenceClassifier and SequenceRegressor (FCN, LSTM-FCN), the
settings resolved from ``"auto"`` by the kind of input, ``scale`` and ``missing``."""

from __future__ import annotations

from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from sklearn.base import clone

import hiddenstate
from hiddenstate import SequenceClassifier, SequenceRegressor
from hiddenstate.estimators._classifier import _real_valued_epochs
from hiddenstate.nn._classifier import (
    Conv1d,
    ConvEncoder,
    JointEncoder,
    SequenceClassifierNet,
)

from .conftest import count_compiles

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

TINY = dict(hidden_size=4, max_iter=3, random_state=0)


def _shapes(n: int, seed: int, lengths=(12, 20)):
    """Sequences ``(T, 2)`` of noise with a bump (class 0) or a step (class 1) of one
    channel at a random place: a task of local shapes, what convolutions find."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(n):
        T = int(rng.integers(*lengths))
        x = 0.3 * rng.standard_normal((T, 2))
        at = int(rng.integers(0, T - 5))
        x[at: at + 5, i % 2] += [0, 2, 3, 2, 0] if i % 4 < 2 else [2, 2, -2, -2, 0]
        xs.append(x.astype(np.float32))
        ys.append(int(i % 4 >= 2))
    return xs, np.array(ys)


# -- the network ---------------------------------------------------------------------------------


@pytest.mark.parametrize("encoder, width", [("conv", 5), ("conv+recurrent", 5 + 10)])
def test_conv_encoder_shapes(encoder, width):
    net = SequenceClassifierNet(3, 5, 4, key=jax.random.key(0), encoder=encoder,
                                bidirectional=True, pooling="mean")
    assert net.encoder.output_size == width
    xs = jnp.zeros((9, 3))
    shape = eqx.filter_eval_shape
    assert shape(net.encoder, xs, 6).shape == (width,) and shape(net, xs, 6).shape == (4,)
    assert shape(jax.vmap(net), jnp.zeros((2, 9, 3)), jnp.array([6, 9])).shape == (2, 4)
    convs = net.encoder.convs if encoder == "conv" else net.encoder.conv.convs
    # FCN's blocks: filters H, 2H, H (kernels 8, 5, 3) as (K * n_in, n_out) matrices
    assert [c.W.shape for c in convs] == [(8 * 3, 5), (5 * 5, 10), (3 * 10, 5)]


def test_conv_refuses_token_ids():
    with pytest.raises(ValueError, match="real-valued steps"):
        SequenceClassifierNet(3, 5, 2, key=jax.random.key(0), n_tokens=7, encoder="conv")


@pytest.mark.parametrize("encoder", ["conv", "conv+recurrent"])
def test_padding_does_not_change_the_result(encoder):
    """The unpadded sequence, and the same padded with zeros, sevens and noise in one
    batch: the same outputs."""
    net = SequenceClassifierNet(2, 4, 3, key=jax.random.key(2), encoder=encoder)
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((6, 2)).astype(np.float32)
    batch = np.stack([np.concatenate([xs, fill]) for fill in (
        np.zeros((10, 2)), np.full((10, 2), 7.0), rng.standard_normal((10, 2)))])
    out = eqx.filter_jit(lambda m, x, n: jax.vmap(m)(x, n))(
        net, jnp.asarray(batch, jnp.float32), jnp.full(3, 6))
    one = eqx.filter_jit(lambda m, x: m(x, 6))(net, xs)  # one program, not one per operation
    np.testing.assert_allclose(np.asarray(out), np.tile(np.asarray(one), (3, 1)),
                               rtol=1e-5, atol=1e-6)


def _np_conv(conv: Conv1d, x: np.ndarray) -> np.ndarray:
    """``y_t = sum_k x_{t+k-a} W_k + b``, zero outside the sequence."""
    K, (T, d) = conv.kernel_size, x.shape
    W = np.asarray(conv.W, np.float64).reshape(K, d, -1)
    a = (K - 1) // 2
    y = np.tile(np.asarray(conv.b, np.float64), (T, 1))
    for t in range(T):
        for k in range(K):
            if 0 <= t + k - a < T:
                y[t] += x[t + k - a] @ W[k]
    return y


def test_conv_encoder_against_numpy():
    """Each block (convolution, each filter normalised over the valid steps, ReLU) and the
    mean over the valid steps: a few lines of NumPy."""
    enc = ConvEncoder(2, 3, key=np.random.default_rng(4))
    enc = eqx.tree_at(lambda e: e.gains, enc, tuple(1 + 0.1 * g for g in enc.gains))
    x = np.random.default_rng(5).standard_normal((7, 2))
    T = 5
    h = x[:T]
    for conv, gain, offset in zip(enc.convs, enc.gains, enc.offsets, strict=True):
        z = _np_conv(conv, h)
        z = (z - z.mean(0)) / np.sqrt(z.var(0) + enc.eps)  # each filter over the steps
        h = np.maximum(z * np.asarray(gain) + np.asarray(offset), 0.0)
    out = eqx.filter_jit(lambda e, x: e(x, T))(enc, jnp.asarray(x, jnp.float32))  # one program
    np.testing.assert_allclose(np.asarray(out), h.mean(0), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("encoder", ["conv", "conv+recurrent"])
def test_gradients_against_finite_differences(encoder):
    with jax.enable_x64(True):
        net = SequenceClassifierNet(2, 3, 2, key=np.random.default_rng(3), encoder=encoder,
                                    cell="gru", pooling="max")
        net = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64)
                           if isinstance(a, jax.Array) else a, net)
        leaves, treedef = jax.tree.flatten(net)
        xs = jnp.asarray(np.random.default_rng(6).standard_normal((6, 2)))

        def f(*ls):
            return jnp.sum(jnp.sin(jax.tree.unflatten(treedef, ls)(xs, 5)))

        check_grads(jax.jit(f), tuple(leaves), order=1, modes=["rev"], eps=1e-6, atol=1e-5,
                    rtol=1e-4)


def test_joint_encoder_concatenates_its_two_parts():
    net = SequenceClassifierNet(2, 4, 2, key=jax.random.key(1), encoder="conv+recurrent")
    enc = net.encoder
    assert isinstance(enc, JointEncoder)
    xs = jnp.ones((5, 2))
    both, conv, recurrent = eqx.filter_jit(  # one program, not one per operation
        lambda e, x: (e(x, 4), e.conv(x, 4), e.recurrent(x, 4)))(enc, xs)
    np.testing.assert_allclose(both, jnp.concatenate([conv, recurrent]))


# -- the estimators ------------------------------------------------------------------------------


def test_learns_local_shapes_with_the_defaults_and_compiles_once():
    X, y = _shapes(120, seed=0)
    Xt, yt = _shapes(100, seed=1)
    clf = SequenceClassifier(hidden_size=8, max_iter=40, random_state=0).fit(X, y)
    assert clf.encoder_ == "conv" and clf.scaling_.kind == "standard"
    assert clf.get_params()["encoder"] == "auto" and clf.get_params()["scale"] == "auto"
    assert clf.score(Xt, yt) > 0.9
    clf.predict(Xt[:8])
    with count_compiles() as n:
        clf.predict(Xt[10:17])  # other rows and lengths, the same buckets
        clf.predict_proba(Xt[20:25])
    assert n() == 0


def test_dropout_rates_of_both_encoders_are_run_time_values():
    """LSTM-FCN's two encoders take ``dropout`` (and the recurrent one ``input_dropout``)
    from the objective: other rates compile nothing. Against the old path (the rates
    compiled in) the same model, bit for bit: the mean over the steps, dropped, takes its
    gradient's products in the order XLA gives a constant rate."""
    from hiddenstate.objectives import SequencePredictorObjective

    X, y = _shapes(24, seed=5)
    kw = dict(encoder="conv+recurrent", **TINY)
    first = SequenceClassifier(dropout=0.3, input_dropout=0.2, **kw).fit(X, y)
    with count_compiles() as n:
        second = SequenceClassifier(dropout=0.6, input_dropout=0.4, **kw).fit(X, y)
    assert n() == 0 and first.loss_curve_ != second.loss_curve_
    assert (second.model_.encoder.conv.dropout, second.model_.encoder.recurrent.dropout,
            second.model_.encoder.recurrent.input_dropout) == (0.6, 0.6, 0.4)
    old = SequenceClassifier(dropout=0.3, input_dropout=0.2, **kw)
    old._for_training = lambda model: model
    old._objective = lambda: SequencePredictorObjective(old._loss, dropout=True)
    old.fit(X, y)
    assert first.loss_curve_ == old.loss_curve_
    assert all(np.array_equal(a, b) for a, b in zip(
        jax.tree.leaves(eqx.filter(first.model_, eqx.is_array)),
        jax.tree.leaves(eqx.filter(old.model_, eqx.is_array)), strict=True))


def test_auto_settings_by_kind_of_input():
    X, y = _shapes(16, seed=2)
    clf = SequenceClassifier(hidden_size=4, random_state=0)
    clf._prepare(X, y, reset=True)  # what fit resolves (and puts back after the run)
    assert clf.max_iter == _real_valued_epochs(16, np.mean([len(x) for x in X]))
    assert clf.encoder_ == "conv"
    assert clf.scaling_.kind == "standard"
    short = SequenceClassifier(hidden_size=4, random_state=0)
    short._prepare(np.random.default_rng(0).random((10, 3)), [0, 1] * 5, reset=True)
    assert short.encoder_ == "recurrent"  # three features read as steps: no time series
    words = ["a b c", "b c", "c a a", "a"] * 4
    labels = [0, 1] * 8
    tok = SequenceClassifier(hidden_size=4, embedding_dim=3, random_state=0).fit(words, labels)
    assert tok.encoder_ == "recurrent" and tok.n_iter_ == 20
    assert tok.get_params()["max_iter"] == "auto" and not hasattr(tok, "scaling_")
    with pytest.raises(ValueError, match="scale='standard' applies to real-valued"):
        SequenceClassifier(scale="standard", **TINY).fit(words, labels)
    with pytest.raises(ValueError, match="encoder='conv' applies to real-valued"):
        SequenceClassifier(encoder="conv", **TINY).fit(words, labels)
    with pytest.raises(ValueError, match="missing='interpolate' applies to real-valued"):
        SequenceClassifier(missing="interpolate", **TINY).fit(words, labels)
    with pytest.raises(ValueError, match="init_from starts a recurrent encoder"):
        SequenceClassifier(encoder="conv", init_from=tok, **TINY).fit(X, y)


def test_scale_and_missing_round_trip_through_a_file(tmp_path):
    # 13-16 steps: one length bucket, a compiled loop of one branch (12-19 steps: two)
    X, y = _shapes(24, seed=3, lengths=(13, 17))
    X = [100 + 5 * x for x in X]
    X[2][3, 1] = np.nan
    with pytest.raises(hiddenstate.InputError, match="missing"):
        SequenceClassifier(**TINY).fit(X, y)
    clf = SequenceClassifier(scale="standard", missing="interpolate", **TINY).fit(X, y)
    assert clf.scaling_.kind == "standard" and abs(clf.scaling_.loc[0] - 100) < 2
    clf.save(tmp_path / "c.hs")
    loaded = hiddenstate.load(tmp_path / "c.hs")
    assert loaded.scaling_.kind == "standard"
    assert np.array_equal(loaded.scaling_.loc, clf.scaling_.loc)
    assert np.array_equal(loaded.scaling_.scale, clf.scaling_.scale)
    assert loaded.encoder_ == "conv" and loaded.missing == "interpolate"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_regressor_scales_its_targets_and_undoes_it(tmp_path):
    """Targets near 1000 with inputs near 50: learned in standard units, predicted in the
    data's."""
    rng = np.random.default_rng(0)
    X = [50 + rng.standard_normal((int(n), 1)) for n in rng.integers(4, 9, 160)]
    y = np.array([1000 + 10 * x.mean() - 500 for x in X])
    reg = SequenceRegressor(hidden_size=8, max_iter=60, learning_rate=0.01,
                            random_state=0).fit(X[:120], y[:120])
    assert reg.scaling_.kind == "standard" and reg.target_scaling_.kind == "standard"
    assert reg.score(X[120:], y[120:]) > 0.5
    reg.save(tmp_path / "r.hs")
    loaded = hiddenstate.load(tmp_path / "r.hs")
    np.testing.assert_array_equal(loaded.predict(X[120:]), reg.predict(X[120:]))
    raw = SequenceRegressor(scale="none", **TINY).fit(X[:20], y[:20])
    assert raw.target_scaling_.kind == "none"


def test_continued_training_keeps_the_scaling_and_init_from_brings_its_own():
    xs, y = _shapes(24, seed=3, lengths=(13, 17))  # the data of the test above: its loop
    clf = SequenceClassifier(scale="minmax", **TINY).fit(xs, y)
    with pytest.raises(ValueError, match=r"scale='standard' \(standard\) differs from the "
                       r"scaling this model was fitted with \('minmax'\)"):
        clf.set_params(scale="standard").partial_fit(xs, y)
    clf.set_params(scale="minmax").partial_fit(xs, y)
    # An encoder pretrained on (1000 + 50 x) reads inputs in its own units: the classifier
    # started from it takes its scaling, fitted on the pretraining data, not its own.
    big = [1000 + 50 * x for x in xs]
    ae = hiddenstate.SequenceAutoencoder(4, max_iter=2, random_state=0).fit(big)
    started = SequenceClassifier(init_from=ae, **TINY).fit(big[:8], y[:8])
    assert started.scaling_ is ae.scaling_
    with pytest.raises(ValueError, match="init_from's encoder was trained on inputs scaled "
                       "'standard'"):
        SequenceClassifier(init_from=ae, scale="minmax", **TINY).fit(big, y)


def test_clone_keeps_auto():
    est = SequenceRegressor(encoder="conv+recurrent", scale="minmax", missing="interpolate")
    assert clone(est).get_params() == est.get_params()


# -- the archive ---------------------------------------------------------------------------------

_PANEL = Path(__file__).resolve().parents[2] / "shared/data/timeseries/classification"


def _read_univariate_ts(path: Path):
    """Sequences and labels of an equal-length univariate ``.ts`` file."""
    lines = [s for s in path.read_text().splitlines() if s and not s.startswith(("#", "@"))]
    rows = [s.rsplit(":", 1) for s in lines]
    return (np.array([[float(v) for v in r[0].split(",")] for r in rows], np.float32),
            np.array([r[1] for r in rows]))


@pytest.mark.slow
def test_defaults_reach_one_nn_dtw_on_italy_power_demand():
    """The defaults on the archive's official split: at least 1-NN DTW's 0.950."""
    if not (_PANEL / "ItalyPowerDemand_TRAIN.ts").exists():
        pytest.skip("the time series panel is not present")
    X, y = _read_univariate_ts(_PANEL / "ItalyPowerDemand_TRAIN.ts")
    Xt, yt = _read_univariate_ts(_PANEL / "ItalyPowerDemand_TEST.ts")
    clf = SequenceClassifier(random_state=0).fit(list(X[:, :, None]), y)
    assert clf.score(list(Xt[:, :, None]), yt) >= 0.950
