"""Hyperparameters are run-time values: fits that differ only in them share one program.

Compilations are counted with JAX's monitoring events (``backend_compile``: an XLA
compilation or the persistent-cache read that replaces it), by the compiled function's
name, as ``hiddenstate bench cache`` and ``benchmarks/grid_compiles.py`` count them.
"""

from __future__ import annotations

import collections
import warnings

import jax
import numpy as np
import pytest

from hiddenstate import Autoencoder, train
from hiddenstate.objectives import AutoencoderObjective, RAEObjective
from hiddenstate.optim import make_optimizer

_COMPILED: collections.Counter = collections.Counter()


def _listen(event: str, duration: float, **kwargs) -> None:
    del duration
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILED[str(kwargs.get("fun_name"))] += 1


jax.monitoring.register_event_duration_secs_listener(_listen)


def _compiles(name: str, fit) -> int:
    before = _COMPILED[name]
    fit()
    return _COMPILED[name] - before


def _data(n_features: int) -> np.ndarray:
    # A width no other test uses, so the first fit here compiles its programs.
    return np.random.default_rng(0).random((40, n_features)).astype(np.float32)


def _fit(X, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Autoencoder(n_components=3, batch_size=16, random_state=0, **params).fit(X)


def test_learning_rate_alpha_and_max_iter_share_the_epoch_program():
    X = _data(13)
    # (alpha > 0 throughout: a weight decay of 0 leaves its term out of the program)
    first = _compiles("jit(_run_epochs)",
                      lambda: _fit(X, learning_rate=0.05, alpha=1e-4, max_iter=2))
    assert first == 1
    settings = [dict(learning_rate=0.01, alpha=1e-4, max_iter=2),
                dict(learning_rate=0.05, alpha=1e-3, max_iter=2),
                dict(learning_rate=0.2, alpha=0.1, max_iter=3), dict(alpha=1e-4, max_iter=5)]
    fits = []
    for kw in settings:
        assert _compiles("jit(_run_epochs)", lambda kw=kw: fits.append(_fit(X, **kw))) == 0
        assert _compiles("jit(_opt_init_compiled)", lambda kw=kw: _fit(X, **kw)) == 0
    # The settings take effect: each fit trains a different model, and max_iter epochs.
    weights = [np.asarray(f.model_.weights[0]) for f in fits]
    assert all(not np.array_equal(a, b) for i, a in enumerate(weights) for b in weights[i + 1:])
    assert [f.n_iter_ for f in fits] == [2, 2, 3, 5]
    again = _fit(X, learning_rate=0.2, alpha=0.1, max_iter=3)
    np.testing.assert_array_equal(np.asarray(again.model_.weights[0]), weights[2])


def test_noise_level_and_sparsity_weight_share_the_epoch_program():
    X = _data(11)
    kw = dict(noise="gaussian", activation="sigmoid", sparsity=0.1, max_iter=2)
    assert _compiles("jit(_run_epochs)", lambda: _fit(X, noise_level=0.1, **kw)) == 1
    assert _compiles("jit(_run_epochs)", lambda: _fit(
        X, noise_level=0.3, sparsity_target=0.2, **{**kw, "sparsity": 0.5})) == 0


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
def test_optimizers_of_other_numbers_share_one_program(name):
    """The rate, its schedule's length, momentum and the clipping norm are arrays."""
    a = make_optimizer(name, 0.01, schedule="warmup_cosine", total_steps=40, clip_norm=1.0)
    b = make_optimizer(name, 0.03, momentum=0.5, schedule="warmup_cosine", total_steps=90,
                       clip_norm=2.0)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    assert all(isinstance(v, np.ndarray) for v in jax.tree.leaves(a))


def test_objectives_carry_their_numbers_as_leaves():
    a, b = AutoencoderObjective(alpha=0.1), AutoencoderObjective(alpha=0.5)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    assert [float(x) for x in jax.tree.leaves(b)] == [0.5]
    r = RAEObjective(alpha=0.3, l2=0.0)
    assert [float(x) for x in jax.tree.leaves(r)] == pytest.approx([0.3, 0.7, 1e-5])
    # On or off is the program's shape: a term of weight 0 is left out of it (the
    # programs of today's results, bit for bit).
    assert jax.tree.structure(AutoencoderObjective(alpha=0.0)) != jax.tree.structure(a)
    assert jax.tree.structure(AutoencoderObjective(alpha=0.1, sparsity=0.1)) != \
        jax.tree.structure(a)


def test_partial_fit_and_fit_share_the_epoch_program():
    X = _data(9)
    est = Autoencoder(n_components=2, batch_size=16, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _compiles("jit(_run_epochs)", lambda: est.fit(X)) == 1
        assert _compiles("jit(_run_epochs)", lambda: est.partial_fit(X)) == 0
    assert est.n_iter_ == 3
    assert train._call_width(train.BatchPlan.make(40, 16)) == train.STEPS_PER_CALL // 3


def test_inverse_time_schedule_is_the_documented_one():
    # (optax has no inverse_time_decay: the schedule raised AttributeError before)
    from hiddenstate.optim import make_schedule

    rate = make_schedule("inverse_time", 0.1, 100)
    counts = np.array([0, 5, 10, 55], np.int32)
    np.testing.assert_allclose(np.asarray(rate(counts)), 0.1 / (1 + counts / 10.0), rtol=1e-6)
    X = _data(6)
    est = _fit(X, learning_rate_schedule="inverse_time", max_iter=2)
    assert est.n_iter_ == 2 and np.isfinite(est.loss_curve_).all()


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_optimizer_state_is_built_on_the_host_as_init_builds_it(name, schedule):
    # train.fit stages the optimizer's initial state from NumPy zeros (no compiled program
    # per model shape): they must be init's values, leaf for leaf, shape and dtype.
    params = {"w": np.ones((3, 4), np.float32), "b": np.ones(4, np.float32),
              "n": [np.ones((2, 5), np.float32)]}
    for clip in (None, 1.0):
        opt = make_optimizer(name, 0.01, schedule=schedule, total_steps=50, clip_norm=clip)
        want, got = opt.init(params), opt.init_on_host(params)
        assert jax.tree.structure(got) == jax.tree.structure(want)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            assert isinstance(a, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_array_equal(a, np.asarray(b))
    X = _data(7)
    assert _compiles("jit(_opt_init_compiled)", lambda: _fit(X, max_iter=1)) == 0
