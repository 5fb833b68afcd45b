"""The README's guide to extending: the variational autoencoder of examples/vae.py, a
model added from outside the package through its extension points (the training
template, the model-file registry, the scoring protocol, a command group), works as
every built-in model does."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from sklearn.exceptions import ConvergenceWarning

import hiddenstate as hs

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "vae.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("hiddenstate_example_vae", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


vae = _load_example()


MIXING = 3.0 * np.random.default_rng(100).normal(size=(2, 6))


def _data(n=400, seed=0):
    """Rows near one 2-D plane in 6 dimensions, of a spread (about 4 per feature) well
    above the decoder's unit variance, so that a 2-D code pays for its KL term."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    return (z @ MIXING + 0.1 * rng.normal(size=(n, 6))).astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    with warnings.catch_warnings():  # 60 epochs are enough here, not to converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        return vae.VariationalAutoencoder(2, hidden_size=16, max_iter=60, batch_size=32,
                                          random_state=0).fit(_data())


def test_shapes(fitted):
    X = _data(10, seed=1)
    assert fitted.transform(X).shape == (10, 2)
    assert fitted.item_errors(X).shape == (10, 6)
    assert fitted.item_errors(X).dtype == np.float64


def test_one_step_against_numpy():
    net = vae.VAENet(3, 4, 2, key=jax.random.key(0))
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    w = [np.asarray(a, np.float64) for a in net.weights]
    b = [np.asarray(a, np.float64) for a in net.biases]
    h = np.tanh(x @ w[0] + b[0])
    mean, log_var = h @ w[1] + b[1], h @ w[2] + b[2]
    x_hat = np.tanh(mean @ w[3] + b[3]) @ w[4] + b[4]
    want = (0.5 * ((x_hat - x) ** 2).sum(1)
            + 0.5 * (np.exp(log_var) + mean**2 - 1 - log_var).sum(1))
    # compiled as one program (eagerly, each of its small operations would compile alone)
    got = eqx.filter_jit(vae.NegativeELBO().per_example)(net, jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5)


def test_gradients_against_finite_differences():
    with jax.enable_x64(True):
        net = jax.tree.map(lambda a: a.astype(jnp.float64),
                           vae.VAENet(3, 4, 2, key=jax.random.key(1)))
        x = jnp.asarray(np.random.default_rng(1).normal(size=(4, 3)))
        key = jax.random.key(2)

        def loss(weights):
            model = vae.VAENet.__new__(vae.VAENet)
            object.__setattr__(model, "weights", weights)
            object.__setattr__(model, "biases", net.biases)
            return vae.NegativeELBO().per_example(model, x, key).mean()

        check_grads(jax.jit(loss), (net.weights,), order=1, modes=["rev"], atol=1e-6,
                    rtol=1e-6)


def test_learns_above_an_untrained_model(fitted):
    X = _data(200, seed=2)
    untrained = vae.VariationalAutoencoder(2, hidden_size=16, max_iter=1, batch_size=32,
                                           learning_rate=1e-9, random_state=0).fit(_data())
    trained_error = fitted.item_errors(X).sum(1).mean()
    untrained_error = untrained.item_errors(X).sum(1).mean()
    assert trained_error < 0.1 * untrained_error
    assert fitted.loss_curve_[-1] < 0.5 * fitted.loss_curve_[0]


def test_model_file_round_trip(fitted, tmp_path):
    fitted.save(tmp_path / "vae.hsm")
    back = hs.load(tmp_path / "vae.hsm")
    assert type(back) is vae.VariationalAutoencoder
    X = _data(20, seed=3)
    np.testing.assert_array_equal(back.transform(X), fitted.transform(X))


def test_anomaly_detector_wraps_it(tmp_path):
    X = _data(500)  # 400 to train on: the fixture's shapes (its compiled programs)
    det = hs.AnomalyDetector(vae.VariationalAutoencoder(2, hidden_size=16, max_iter=60,
                                                        batch_size=32, random_state=0),
                             contamination=0.05, random_state=0).fit(X)
    normal = _data(200, seed=4)
    off_plane = normal + np.random.default_rng(5).normal(scale=2.0, size=normal.shape)
    from sklearn.metrics import roc_auc_score

    scores = det.score_samples(np.vstack([normal, off_plane]))
    auc = roc_auc_score(np.r_[np.ones(200), np.zeros(200)], scores)
    assert auc > 0.95
    explained = det.explain(off_plane[:3], top=2)
    assert explained.kind == "feature" and explained.label.shape == (3, 2)
    np.testing.assert_array_equal(explained.index[:, 0], det.errors(off_plane[:3]).argmax(1))
    assert explained.label[0, 0] == f"x{explained.index[0, 0]}"
    det.save(tmp_path / "det.hsm")
    back = hs.load(tmp_path / "det.hsm")
    np.testing.assert_array_equal(back.score_samples(normal), det.score_samples(normal))


def test_command_group(tmp_path, monkeypatch, capsys):
    from hiddenstate import cli

    monkeypatch.setattr(cli, "GROUPS", (*cli.GROUPS, vae))
    data = tmp_path / "rows.csv"
    np.savetxt(data, _data(), delimiter=",")
    model = tmp_path / "vae.hsm"
    # the shapes and sizes of the fixture's fit: its compiled programs
    assert cli.main(["vae", "fit", str(data), "--out", str(model), "--max-iter", "3",
                     "--n-components", "2", "--hidden-size", "16", "--batch-size", "32",
                     "--random-state", "0"]) == 0
    assert "trained 3 epochs on 400 rows" in capsys.readouterr().err
    out = tmp_path / "codes.csv"
    assert cli.main(["vae", "transform", str(model), str(data), "--out", str(out)]) == 0
    codes = np.loadtxt(out, delimiter=",", skiprows=1)
    assert codes.shape == (400, 2)
    assert cli.main(["vae", "fit", str(data), "--out", str(model), "--hidden-size", "0"]) == 2
