"""The estimator template (estimators/_base.py), for each of the five estimators:
warm starts, early stopping, partial_fit, checkpoint resume, devices, the
convergence warning, a complete estimator after a divergence, the model-file
checks of the generic ``_from_file``, and sklearn's clone/get_params.

Everything is tiny (4 units, 48 rows, 1-6 epochs). A compiled epoch loop is
reused by every fit with the same data shapes, optimizer (the schedule length:
``max_iter``) and epochs per compiled call (``max_iter``, or ``checkpoint_every``,
or 1 for partial_fit), so the tests keep to :data:`BASE` and a few variants:
per estimator, the loops of 2 epochs, of 1 epoch (partial_fit, checkpoints every
epoch), of early stopping and of the divergence.
"""

from __future__ import annotations

import warnings

import jax
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

import hiddenstate
from hiddenstate import (
    Autoencoder,
    DivergenceError,
    ModelFileError,
    RecursiveAutoencoder,
    SequenceAutoencoder,
    SequenceClassifier,
    SequenceModel,
    _serialize,
)
from hiddenstate.checkpoint import Checkpointer
from hiddenstate.datasets import make_reber

from .crash_worker import make_sentences, make_sequences

KINDS = ("autoencoder", "sequence-model", "sequence-ae", "rae", "classifier")
CLASSES = {"autoencoder": Autoencoder, "sequence-model": SequenceModel,
           "sequence-ae": SequenceAutoencoder, "rae": RecursiveAutoencoder,
           "classifier": SequenceClassifier}
#: Shared by most fits below (a constant rate: a warm start continues the same schedule).
BASE = dict(max_iter=2, random_state=0, learning_rate_schedule="constant")


@pytest.fixture(scope="module", params=KINDS)
def kind(request) -> str:
    """The estimator under test. Module-scoped, so that pytest runs each estimator's tests
    together (and pytest-xdist tends to send them to one worker): they share its
    compiled loops."""
    return request.param


def make(kind: str, **kw):
    """A tiny estimator of ``kind`` with the :data:`BASE` settings and ``kw``."""
    kw = {**BASE, **kw}
    if kind == "autoencoder":
        return Autoencoder(4, batch_size=16, **kw)
    if kind == "sequence-model":
        return SequenceModel("elman", hidden_size=4, batch_size=8, **kw)
    if kind == "sequence-ae":
        return SequenceAutoencoder(4, cell="elman", batch_size=16, **kw)
    if kind == "classifier":
        return SequenceClassifier("elman", hidden_size=4, embedding_dim=3, batch_size=16, **kw)
    return RecursiveAutoencoder(4, batch_size=16, **kw)


def data(kind: str, n: int = 48) -> tuple:
    """``fit`` arguments of ``kind``: 48 rows of 6 features, Reber strings, sequences of
    3-8 steps of width 2, labelled sentences (the RAE and the classifier)."""
    if kind == "autoencoder":
        return (np.random.default_rng(1).random((n, 6)).astype(np.float32),)
    if kind == "sequence-model":
        return (make_reber(n, np.random.default_rng(1), min_length=0),)
    if kind == "sequence-ae":
        return (make_sequences(n, seed=1, width=2, lengths=(3, 8)),)
    return make_sentences(n, seed=1)


def outputs(est, kind: str, args: tuple) -> list[np.ndarray]:
    """What the fitted estimator computes on ``args``: codes, per-step outputs, probabilities."""
    if kind == "sequence-model":
        return list(est.predict_proba(args[0]))
    if kind in ("rae", "classifier"):
        return [est.transform(args[0]), est.predict_proba(args[0])]
    return [est.transform(args[0])]


def leaves(est) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(est.model_)]


def same_params(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(leaves(a), leaves(b), strict=True))


def assert_same_fit(a, b, kind: str) -> None:
    """Every parameter, the loss curve and (RAE) the classifier, bit for bit."""
    assert same_params(a, b)
    assert a.loss_curve_ == b.loss_curve_ and a.n_iter_ == b.n_iter_
    if kind == "rae":
        assert np.array_equal(a.classifier_.coef_, b.classifier_.coef_)
        assert np.array_equal(a.classifier_.intercept_, b.classifier_.intercept_)


_FITTED: dict = {}


def fitted(kind: str):
    """``make(kind).fit(*data(kind))``, fitted once per process (do not modify it)."""
    if kind not in _FITTED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _FITTED[kind] = make(kind).fit(*data(kind))
    return _FITTED[kind]


def quiet_fit(est, kind: str, args: tuple | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*(data(kind) if args is None else args))


# -- warm start ----------------------------------------------------------------------------------


def _one_more_epoch(est, args):
    """partial_fit (the RecursiveAutoencoder has none: the template's one-epoch step)."""
    if hasattr(est, "partial_fit"):
        return est.partial_fit(*args)
    return est._fit(*args, incremental=True)


def test_warm_start_continues_the_parameters_and_the_optimizer(kind):
    """A warm-started fit of 2 epochs after a fit of 2 continues the parameters, the
    optimizer state and its step count: it ends exactly where two one-epoch steps
    after the same first fit end (rows in order, a constant rate: nothing random in
    between). ``loss_curve_`` and ``n_iter_`` describe the last fit only."""
    args = data(kind)
    warm = quiet_fit(make(kind, shuffle=False), kind, args)
    first_curve, first_step = list(warm.loss_curve_), warm._step
    after_first = [x.copy() for x in leaves(warm)]
    warm.set_params(warm_start=True)
    quiet_fit(warm, kind, args)
    assert warm._step == 2 * first_step > 0
    assert warm.n_iter_ == 2 and len(warm.loss_curve_) == 2  # replaced, not appended
    assert warm.loss_curve_ != first_curve
    assert not all(np.array_equal(a, b) for a, b in zip(leaves(warm), after_first, strict=True))
    steps = quiet_fit(make(kind, shuffle=False), kind, args)
    _one_more_epoch(steps, args)
    _one_more_epoch(steps, args)
    assert same_params(warm, steps) and warm._step == steps._step
    assert steps.loss_curve_ == first_curve + warm.loss_curve_
    if kind == "rae":
        assert np.array_equal(warm.classifier_.coef_, steps.classifier_.coef_)


# -- early stopping ------------------------------------------------------------------------------


def test_early_stopping_stops_with_one_validation_score_per_epoch(kind):
    est = make(kind, max_iter=3, early_stopping=True, validation_fraction=0.25,
               n_iter_no_change=1, tol=1e3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # stopped early: no warning
        est.fit(*data(kind))
    # Epoch 1 improves on +inf; epoch 2 cannot improve by tol=1000: patience 1 stops it.
    assert est.n_iter_ == 2 < est.max_iter
    assert len(est.validation_scores_) == len(est.loss_curve_) == est.n_iter_
    assert all(np.isfinite(est.validation_scores_)) and max(est.validation_scores_) <= 0


# -- partial_fit ---------------------------------------------------------------------------------


def test_partial_fit_runs_one_epoch_per_call(kind):
    if kind == "rae":
        assert not hasattr(RecursiveAutoencoder(), "partial_fit")
        return
    args = data(kind)
    est = make(kind)
    est.partial_fit(*args)  # unfitted: a new model
    assert est.n_iter_ == len(est.loss_curve_) == 1
    per_epoch = est._step
    assert per_epoch > 0
    first = list(est.loss_curve_)
    est.partial_fit(*args)
    assert est.n_iter_ == len(est.loss_curve_) == 2 and est.loss_curve_[:1] == first
    assert est._step == 2 * per_epoch
    # After a fit, partial_fit appends to its curve.
    est = make(kind)
    quiet_fit(est, kind, args)
    curve = list(est.loss_curve_)
    est.partial_fit(*args)
    assert est.loss_curve_[:-1] == curve and est.n_iter_ == len(curve) + 1


# -- checkpoints ---------------------------------------------------------------------------------


def test_checkpoint_resume_is_bit_exact(kind, tmp_path):
    """Checkpoints after epochs 1 and 2; without the newest, a resumed fit ends exactly
    where an uninterrupted fit without checkpoints ends."""
    quiet_fit(make(kind, checkpoint_dir=tmp_path, checkpoint_every=1), kind)
    assert [p.name for p in Checkpointer(tmp_path).paths()] == [
        "checkpoint-00000001.safetensors", "checkpoint-00000002.safetensors"]
    (tmp_path / "checkpoint-00000002.safetensors").unlink()
    resumed = quiet_fit(make(kind, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True),
                        kind)
    assert_same_fit(fitted(kind), resumed, kind)


def test_a_checkpoint_of_another_estimator_is_refused(kind, tmp_path):
    writer, reader = kind, KINDS[(KINDS.index(kind) + 1) % len(KINDS)]
    # Every epoch, as in the test above: its compiled one-epoch loop.
    quiet_fit(make(writer, checkpoint_dir=tmp_path, checkpoint_every=1), writer)
    est = make(reader, checkpoint_dir=tmp_path, checkpoint_every=1, resume=True)
    expected = (rf"written by a {CLASSES[writer].__name__}, not a "
                rf"{CLASSES[reader].__name__}; use another checkpoint_dir")
    with pytest.raises(ModelFileError, match=expected):
        quiet_fit(est, reader)


# -- devices -------------------------------------------------------------------------------------


def test_one_device_gives_the_same_fit_as_the_default(kind):
    if len(jax.devices()) != 1:
        pytest.skip("needs exactly one visible device")
    assert_same_fit(quiet_fit(make(kind, devices=1), kind), fitted(kind), kind)


# -- convergence warning -------------------------------------------------------------------------


def test_convergence_warning_when_max_iter_ends_a_falling_loss(kind):
    est = make(kind, n_iter_no_change=1)
    with pytest.warns(ConvergenceWarning, match=rf"{type(est).__name__}: max_iter=2 reached"):
        est.fit(*data(kind))
    assert len(est.loss_curve_) > est.n_iter_no_change
    # With tol=1 the loss would have to fall by more than itself: converged, no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        make(kind, n_iter_no_change=1, tol=1.0).fit(*data(kind))


def test_convergence_warning_rule_and_where_it_points():
    """Only a loss still clearly falling warns: more than max(tol * k, 1%) over the last
    k = n_iter_no_change epochs; and the warning points at the user's line."""
    from hiddenstate.train import History

    est = Autoencoder(max_iter=20, n_iter_no_change=10)
    for fall, warns in [(0.0015, False), (0.009, False), (0.011, True), (0.2, True)]:
        curve = list(np.linspace(2.0, 1.0, 9)) + list(np.linspace(1.0, 1.0 - fall, 11))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est._warn_convergence(History(loss=curve))
        assert (len(caught) == 1) == warns, (fall, caught)
    with pytest.warns(ConvergenceWarning) as record:  # BASE's loop: compiled once per file
        make("autoencoder", max_iter=20).fit(*data("autoencoder"))
    assert record[0].filename == __file__


# -- divergence ----------------------------------------------------------------------------------


def _diverging(kind: str):
    """(estimator, fit args) whose plain SGD at a huge rate diverges within 6 epochs."""
    kw = dict(optimizer="sgd", learning_rate=1e8, clip_norm=None, max_iter=6)
    if kind == "sequence-model":
        xs = [100 * s for s in make_sequences(48, seed=1, width=2, lengths=(3, 8))]
        return make(kind, output="linear", **kw), (xs, [2 * x for x in xs])
    if kind == "autoencoder":
        return make(kind, **kw), (100 * data(kind)[0],)
    if kind == "sequence-ae":
        return make(kind, **kw), ([100 * s for s in data(kind)[0]],)
    if kind == "classifier":  # relu units: nothing saturates
        xs = [100 * s for s in make_sequences(48, seed=1, width=2, lengths=(3, 8))]
        return make(kind, activation="relu", **kw), (xs, data(kind)[1])
    return make(kind, **kw), data(kind)


def test_after_a_divergence_the_estimator_is_complete_and_saveable(kind, tmp_path):
    est, args = _diverging(kind)
    with pytest.raises(DivergenceError):
        est.fit(*args)
    assert all(np.isfinite(x).all() for x in leaves(est))
    assert est.n_iter_ == len(est.loss_curve_) >= 1 and np.isnan(est.loss_curve_[-1])
    if kind == "rae":
        assert hasattr(est, "classifier_") and np.isfinite(est.classifier_.coef_).all()
    est.save(tmp_path / "diverged.hs")
    loaded = hiddenstate.load(tmp_path / "diverged.hs")
    assert type(loaded) is type(est) and same_params(loaded, est)
    for a, b in zip(outputs(loaded, kind, args), outputs(est, kind, args), strict=True):
        assert np.array_equal(a, b, equal_nan=True)


def test_a_recursive_autoencoder_whose_last_finite_model_gives_nan_features(tmp_path):
    """The last finite parameters can overflow the features: still a DivergenceError, and a
    whole estimator (its classifier fitted on the finite part) that saves and loads."""
    est = make("rae", optimizer="sgd", learning_rate=1e15, clip_norm=None, max_iter=6,
               word_scale=1.0)
    with pytest.raises(DivergenceError):
        est.fit(*data("rae"))
    assert np.all(np.isfinite(est.classifier_.coef_))
    est.save(tmp_path / "diverged.hs")
    assert isinstance(hiddenstate.load(tmp_path / "diverged.hs"), type(est))


def test_checkpoint_dir_on_a_warm_start_or_partial_fit_is_not_silently_dropped(tmp_path):
    est = make("autoencoder", warm_start=True, checkpoint_dir=tmp_path / "ck")
    X = data("autoencoder")[0]
    est.fit(X)  # a fresh fit: checkpoints
    assert list((tmp_path / "ck").iterdir())
    with pytest.warns(UserWarning, match="checkpoint_dir applies to a fresh fit"):
        est.fit(X)
    with pytest.warns(UserWarning, match="writes no checkpoints"):
        est.partial_fit(X)
    with pytest.warns(UserWarning, match="is partial_fit"):
        make("autoencoder", checkpoint_dir=tmp_path / "ck2").partial_fit(X)


# -- model files ---------------------------------------------------------------------------------


def _saved(kind: str, tmp_path):
    path = tmp_path / "model.hs"
    fitted(kind).save(path)
    return path, *_serialize.read(path)


def test_a_saved_model_loads_with_its_settings_and_outputs(kind, tmp_path):
    path, _, _, _ = _saved(kind, tmp_path)
    loaded, est = hiddenstate.load(path), fitted(kind)
    assert loaded.get_params() == est.get_params()
    assert loaded.loss_curve_ == est.loss_curve_ and loaded.n_iter_ == est.n_iter_
    args = data(kind)
    for a, b in zip(outputs(loaded, kind, args), outputs(est, kind, args), strict=True):
        assert np.array_equal(a, b)
    # A loaded estimator is complete enough to continue training (a fresh optimizer state).
    quiet_fit(loaded.set_params(warm_start=True), kind, args)
    assert loaded._step == est._step and not same_params(loaded, est)


def test_a_model_file_with_an_unknown_setting_is_refused(kind, tmp_path):
    _, cls_name, config, tensors = _saved(kind, tmp_path)
    config["params"]["bogus_setting"] = 1
    _serialize.save(tmp_path / "bad.hs", cls_name, config, tensors)
    with pytest.raises(ModelFileError, match=r"unknown settings \['bogus_setting'\]"):
        hiddenstate.load(tmp_path / "bad.hs")


@pytest.mark.parametrize("name", ["bogus", "model.bogus"])
def test_a_model_file_with_an_unexpected_tensor_is_refused(kind, name, tmp_path):
    _, cls_name, config, tensors = _saved(kind, tmp_path)
    tensors[name] = np.zeros(3, np.float32)
    _serialize.save(tmp_path / "bad.hs", cls_name, config, tensors)
    with pytest.raises(ModelFileError, match=rf"unexpected.*'{name}'"):
        hiddenstate.load(tmp_path / "bad.hs")


# -- sklearn -------------------------------------------------------------------------------------


def test_clone_and_get_params_round_trip(kind, tmp_path):
    est = make(kind, tol=0.5, n_iter_no_change=3, warm_start=True, checkpoint_dir=tmp_path,
               devices=1, verbose=0)
    params = est.get_params()
    assert type(est)(**params).get_params() == params
    copy = clone(est)
    assert copy is not est and copy.get_params() == params
    assert not hasattr(clone(fitted(kind)), "model_")
    assert clone(fitted(kind)).get_params() == fitted(kind).get_params()
