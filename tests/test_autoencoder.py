"""hiddenstate.Autoencoder and the AutoencoderNet module."""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import hiddenstate as hs
from hiddenstate import Autoencoder, DivergenceError, InputError, ModelFileError
from hiddenstate.datasets import load_digits, make_donut
from hiddenstate.estimators import AutoencoderObjective
from hiddenstate.nn import AutoencoderNet

from .conftest import count_compiles

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# Every fit compiles a program per data shape and configuration: the tests that do not care
# about either fit the default Autoencoder on the default donut (1000 rows) and share its
# programs, and the networks below are built from the sizes (6, 4, 2) where they can be.


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# -- the module --------------------------------------------------------------------------


def test_shapes_and_deep_stack():
    net = AutoencoderNet((6, 4, 2), key=jax.random.key(0))
    x = jnp.ones(6)
    shape = jax.eval_shape  # shapes only: traced, not compiled (values: the tests below)
    assert shape(net.encode, x).shape == (2,)
    assert shape(net, x).shape == (6,)
    assert shape(jax.vmap(net), jnp.ones((5, 6))).shape == (5, 6)
    assert net.sizes == (6, 4, 2)


def test_tied_weights_are_one_parameter():
    def count(m):
        return sum(a.size for a in jax.tree.leaves(m))

    n, h = 6, 4
    tied = AutoencoderNet((n, h), key=jax.random.key(0), tied=True)
    untied = AutoencoderNet((n, h), key=jax.random.key(0), tied=False)
    assert count(tied) == n * h + h + n
    assert count(untied) == 2 * n * h + h + n
    # The gradient of the tied matrix collects both uses (encoder and decoder).
    obj = AutoencoderObjective()
    x = jax.random.uniform(jax.random.key(1), (4, n))
    g = jax.jit(jax.grad(lambda m: obj(m, x, jnp.ones(4), None)))(tied)  # one program
    assert g.weights[0].shape == (n, h) and g.decoder_weights is None


def test_forward_matches_numpy():
    net = AutoencoderNet((6, 4), key=jax.random.key(3), activation="sigmoid", output="linear")
    net = jax.tree.map(lambda a: a + 0.1 if isinstance(a, jax.Array) else a, net)
    W, b, c = (
        np.asarray(a) for a in (net.weights[0], net.encoder_biases[0], net.decoder_biases[0])
    )
    x = np.random.default_rng(0).uniform(size=(5, 6)).astype(np.float32)
    h = _sig(x @ W + b)
    xr = h @ W.T + c
    np.testing.assert_allclose(np.asarray(jax.vmap(net.encode)(x)), h, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(jax.vmap(net)(x)), xr, rtol=1e-5, atol=1e-6)
    sig = AutoencoderNet((6, 4), key=jax.random.key(3), activation="tanh", output="sigmoid")
    W2 = np.asarray(sig.weights[0])
    np.testing.assert_allclose(
        np.asarray(jax.vmap(sig)(x)), _sig(np.tanh(x @ W2) @ W2.T), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "settings",
    [
        dict(loss="mse", output="linear", activation="sigmoid"),
        dict(loss="cross_entropy", output="sigmoid", activation="tanh", alpha=0.1),
        dict(loss="mse", output="sigmoid", activation="sigmoid", sparsity=0.5, tied=False),
    ],
)
def test_gradients_match_finite_differences(settings):
    with jax.enable_x64(True):
        obj = AutoencoderObjective(
            loss=settings["loss"],
            alpha=settings.get("alpha", 0.0),
            sparsity=settings.get("sparsity", 0.0),
            sparsity_target=0.1,
        )
        net = AutoencoderNet(
            (5, 3, 2),
            key=jax.random.key(0),
            activation=settings["activation"],
            output=settings["output"],
            tied=settings.get("tied", True),
            dtype=jnp.float64,
        )
        x = jax.random.uniform(jax.random.key(1), (6, 5), jnp.float64)
        w = jnp.array([1.0, 1.0, 0.5, 1.0, 0.0, 1.0], jnp.float64)
        params, static = hs.nn.AutoencoderNet, None
        del params, static
        leaves, treedef = jax.tree.flatten(net)

        def f(*ls):
            return obj(jax.tree.unflatten(treedef, ls), x, w, None)

        # Jitted: one program for the loss and one for its gradient, where eager code
        # compiled every small operation.
        check_grads(jax.jit(f), tuple(leaves), order=1, modes=["rev"], eps=1e-6, atol=1e-6,
                    rtol=1e-5)


# -- the estimator -----------------------------------------------------------------------


@parametrize_with_checks(
    [Autoencoder(max_iter=5, batch_size=16), Autoencoder([3, 2], tied=False, max_iter=3)]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_learns_the_donut():
    X, y = make_donut()
    ae = Autoencoder(n_components=2, max_iter=300, random_state=0).fit(X)
    assert -ae.score(X) < 1e-3
    codes = ae.transform(X)
    assert codes.shape == (1000, 2) and ae.predict(X).shape == (1000, 4)
    np.testing.assert_allclose(ae.inverse_transform(codes), ae.predict(X), rtol=1e-5, atol=1e-6)
    assert len(ae.loss_curve_) == ae.n_iter_ == 300


def test_seed_algorithm_on_the_donut_reaches_the_seed_error():
    X, _ = make_donut()
    ae = Autoencoder(
        optimizer="momentum",
        learning_rate=0.1,
        momentum=0.9,
        batch_size=None,
        learning_rate_schedule="constant",
        max_iter=3000,
        init="normal",
        init_scale=1 / np.sqrt(6),
        random_state=0,
    ).fit(X)
    assert -ae.score(X) < 4e-4


def test_linear_autoencoder_learns_the_pca_subspace():
    from scipy.linalg import subspace_angles
    from sklearn.decomposition import PCA

    # 600 of the 1797 rows (the subspace of PCA on the same rows): a third of the run's time.
    # All rows: largest angle 0.008 degrees (seeds 0-3: <= 0.008), 0.7 with 2000 epochs;
    # 600 rows: 0.0002 (seeds 0-2: <= 0.0005).
    X = load_digits()[0][:600]
    k = 5
    ae = Autoencoder(
        k,
        activation="linear",
        loss="mse",
        learning_rate=0.02,
        max_iter=2500,
        batch_size=None,
        random_state=0,
    ).fit(X)
    pca = PCA(k).fit(X)
    angles = np.degrees(subspace_angles(np.asarray(ae.model_.weights[0]), pca.components_.T))
    assert angles.max() < 1.0, angles


def test_identical_random_state_identical_model():
    X, _ = make_donut()
    a = Autoencoder(max_iter=20, random_state=3).fit(X)
    b = Autoencoder(max_iter=20, random_state=3).fit(X)
    assert np.array_equal(a.transform(X), b.transform(X))
    assert a.loss_curve_ == b.loss_curve_


def test_partial_fit_and_warm_start_continue_without_recompiling():
    X, _ = make_donut()
    ae = Autoencoder(max_iter=1, batch_size=32, random_state=0)
    ae.partial_fit(X)
    ae.partial_fit(X)
    ae.transform(X)
    with count_compiles() as compiles:
        for _ in range(5):
            ae.partial_fit(X)
        ae.transform(X)
    assert compiles() == 0
    assert ae.n_iter_ == 7 and len(ae.loss_curve_) == 7
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]

    warm = Autoencoder(max_iter=10, warm_start=True, random_state=0).fit(X)
    first = warm.loss_curve_[-1]
    warm.fit(X)
    assert warm.loss_curve_[-1] < first


def test_a_second_fit_with_the_same_shapes_does_not_recompile():
    X, _ = make_donut()
    Autoencoder(max_iter=30, random_state=0).fit(X)
    with count_compiles() as compiles:
        Autoencoder(max_iter=30, random_state=1).fit(X)
    assert compiles() == 0


def test_denoising_sparse_deep_and_untied_variants_train():
    X = load_digits()[0][:400]  # a few hundred rows and epochs show each variant training
    for kw in (
        dict(noise="masking", noise_level=0.3),
        dict(noise="gaussian", noise_level=0.1),
        dict(sparsity=0.1, sparsity_target=0.05),
        dict(n_components=[32, 8], tied=False, activation="relu"),
        dict(alpha=1e-4, output="sigmoid", loss="cross_entropy"),
    ):
        ae = Autoencoder(**{"n_components": 16, "max_iter": 8, "random_state": 0, **kw}).fit(X)
        assert ae.loss_curve_[-1] < ae.loss_curve_[0], kw
        assert ae.transform(X).shape[1] == np.atleast_1d(ae.n_components)[-1]


def test_early_stopping_keeps_the_best_epoch():
    X, _ = load_digits()
    ae = Autoencoder(
        16,
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=200,
        random_state=0,
        learning_rate=0.05,
        learning_rate_schedule="constant",
    ).fit(X)
    assert ae.n_iter_ < 200
    assert len(ae.validation_scores_) == ae.n_iter_


def test_anomaly_scores_rank_outliers_low():
    X, _ = make_donut()
    ae = Autoencoder(max_iter=100, random_state=0).fit(X)
    outliers = np.array([[0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 1.0]], np.float32)
    s_in = ae.score_samples(X)
    s_out = ae.score_samples(outliers)
    assert s_out.max() < np.percentile(s_in, 1)
    per = ae.reconstruction_error(X[:5], per_feature=True)
    assert per.shape == (5, 4)
    np.testing.assert_allclose(per.mean(axis=1), -s_in[:5], rtol=1e-5)


def test_pipeline_and_grid_search():
    X, _ = load_digits()
    X = X[:300] * 16
    # max_iter=60 as in the search: its refit (300 rows, 8 components) reuses these programs.
    pipe = make_pipeline(MinMaxScaler(), Autoencoder(8, max_iter=60, random_state=0))
    assert pipe.fit_transform(X).shape == (300, 8)
    search = GridSearchCV(Autoencoder(max_iter=60, random_state=0), {"n_components": [2, 8]}, cv=2)
    search.fit(X / 16)
    assert search.best_params_["n_components"] == 8


def test_pandas_input_keeps_feature_names(tmp_path):
    pd = pytest.importorskip("pandas")
    X, _ = make_donut()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    ae = Autoencoder(max_iter=3, random_state=0).fit(df)
    assert list(ae.feature_names_in_) == ["a", "b", "c", "d"]
    assert list(ae.get_feature_names_out()) == ["autoencoder0", "autoencoder1"]
    ae.save(tmp_path / "m.safetensors")
    back = hs.load(tmp_path / "m.safetensors")
    assert list(back.feature_names_in_) == ["a", "b", "c", "d"]
    bad = df.copy()
    bad.iloc[7, 2] = np.nan
    with pytest.raises(InputError, match=r"NaN at row 7, column 2 \('c'\)"):
        ae.transform(bad)


# -- bad input ---------------------------------------------------------------------------


def test_bad_input_gives_clear_errors():
    X, _ = make_donut(50)
    X = X.copy()
    X[3, 1] = np.inf
    with pytest.raises(InputError, match="inf at row 3, column 1"):
        Autoencoder().fit(X)
    with pytest.raises(ValueError, match="0 sample"):
        Autoencoder().fit(np.zeros((0, 4)))
    with pytest.raises(ValueError, match=r"'activation' parameter .* Got 'softplus'"):
        Autoencoder(activation="softplus").fit(X[:3, :])
    with pytest.raises(ValueError, match="cross_entropy.*output='sigmoid'"):
        Autoencoder(loss="cross_entropy").fit(np.ones((4, 2)))
    ae = Autoencoder(max_iter=2).fit(make_donut()[0])
    with pytest.raises(ValueError, match="X has 3 features, but Autoencoder is expecting 4"):
        ae.transform(np.ones((2, 3)))
    with pytest.raises(InputError, match=r"codes must have shape \(n_samples, 2\)"):
        ae.inverse_transform(np.ones((2, 3)))


def test_divergence_raises_and_keeps_finite_parameters():
    X, _ = make_donut(200)
    ae = Autoencoder(
        optimizer="sgd",
        learning_rate=1e6,
        learning_rate_schedule="constant",
        activation="relu",
        max_iter=50,
        random_state=0,
    )
    with pytest.raises(DivergenceError, match="non-finite in epoch"):
        ae.fit(X * 1e4)
    assert all(np.isfinite(np.asarray(w)).all() for w in jax.tree.leaves(ae.model_))


# -- model files -------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    X, _ = make_donut(200)
    ae = Autoencoder([3, 2], tied=False, activation="tanh", max_iter=5, random_state=0).fit(X)
    path = tmp_path / "model.safetensors"
    ae.save(path)
    back = hs.load(path)
    assert isinstance(back, Autoencoder)
    assert back.get_params() == ae.get_params()
    np.testing.assert_array_equal(back.transform(X), ae.transform(X))
    assert back.loss_curve_ == ae.loss_curve_
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_bad_model_files_are_refused_cleanly(tmp_path):
    X, _ = make_donut()
    good = tmp_path / "good.safetensors"
    Autoencoder(max_iter=2, random_state=0).fit(X).save(good)
    blob = good.read_bytes()

    cases = {
        "truncated": blob[: len(blob) // 2],
        "tiny": blob[:5],
        "huge header": (2**40).to_bytes(8, "little") + blob[8:],
        "garbage": b"\x00" * 64,
        "foreign": (lambda h: len(h).to_bytes(8, "little") + h)(b'{"__metadata__": {"x": "y"}}'),
    }
    flipped = bytearray(blob)
    flipped[12] ^= 0xFF
    cases["bit flip in header"] = bytes(flipped)
    for name, data in cases.items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(data)
        with pytest.raises(ModelFileError):
            hs.load(p)
    with pytest.raises(ModelFileError, match="no such model file"):
        hs.load(tmp_path / "missing.safetensors")

    # A future format version is refused with a clear message.
    newer = blob.replace(b'"format_version":"2"', b'"format_version":"9"')
    assert newer != blob
    (tmp_path / "newer.safetensors").write_bytes(newer)
    with pytest.raises(ModelFileError, match="format version '9' is not supported"):
        hs.load(tmp_path / "newer.safetensors")

    # Settings edited by hand no longer match the file's digest.
    lying = blob.replace(b'\\"n_components\\": 2', b'\\"n_components\\": 3')
    assert lying != blob
    (tmp_path / "lying.safetensors").write_bytes(lying)
    with pytest.raises(ModelFileError, match="corrupted"):
        hs.load(tmp_path / "lying.safetensors")
    # Written with a valid digest, they do not match the tensors (a 3-unit code claimed
    # for 2-unit weights).
    from hiddenstate import _serialize

    _, config, tensors = _serialize.read(good)
    config["params"]["n_components"] = 3
    _serialize.save(tmp_path / "lying2.safetensors", "Autoencoder", config, tensors)
    with pytest.raises(ModelFileError, match="settings need|settings imply"):
        hs.load(tmp_path / "lying2.safetensors")


def test_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    X, _ = make_donut()
    ae = Autoencoder(max_iter=2, random_state=0).fit(X)
    path = tmp_path / "m.safetensors"
    ae.save(path)
    before = path.read_bytes()
    import hiddenstate._serialize as ser

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ser, "atomic_write_bytes", boom)
    with pytest.raises(OSError):
        ae.save(path)
    assert path.read_bytes() == before
