"""The training core: optimizers, the compiled loop, guards and determinism."""

from __future__ import annotations

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from hiddenstate import DivergenceError, train
from hiddenstate.optim import make_optimizer, seed_momentum

from .conftest import count_compiles


class Linear(eqx.Module):
    w: jax.Array
    b: jax.Array

    def __call__(self, x):
        return x @ self.w + self.b


@dataclasses.dataclass(frozen=True)
class LeastSquares:
    """Weighted mean squared error of a linear model on (x, y) batches."""

    def __call__(self, model, batch, weight, key):
        x, y = batch
        err = jnp.sum((jax.vmap(model)(x) - y) ** 2, axis=-1)
        return jnp.sum(weight * err) / jnp.sum(weight)


def _problem(n=7, d=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x @ rng.normal(size=(d, k)) + 0.5).astype(np.float32)
    model = Linear(jnp.zeros((d, k)), jnp.zeros(k))
    return model, x, y


def _manual(model, batches, opt):
    """Reference loop: one optax step per batch, in Python."""
    params = model
    state = opt.init(params)
    losses = []
    def mse(m, x, y):
        return jnp.mean(jnp.sum((jax.vmap(m)(x) - y) ** 2, axis=-1))

    @jax.jit  # one program per batch size (eagerly, every small operation compiles)
    def step(params, state, x, y):
        loss, g = jax.value_and_grad(mse)(params, x, y)
        upd, state = opt.update(g, state, params)
        return optax.apply_updates(params, upd), state, loss

    for x, y in batches:
        params, state, loss = step(params, state, x, y)
        losses.append(float(loss))
    return params, losses


def test_seed_momentum_is_the_seeds_update():
    lr, mu = 0.1, 0.9
    opt = seed_momentum(lr, mu)
    p = {"w": jnp.array([1.0, -2.0])}
    state = opt.init(p)
    v = np.zeros(2)
    pn = np.array([1.0, -2.0])
    for _ in range(5):
        g = {"w": 2 * p["w"]}
        upd, state = opt.update(g, state, p)
        p = optax.apply_updates(p, upd)
        v = mu * v - lr * (2 * pn)
        pn = pn + v
        np.testing.assert_allclose(np.asarray(p["w"]), pn, rtol=1e-6)


def test_optimizers_by_name_are_cached_and_validated():
    assert make_optimizer("adam", 0.01) is make_optimizer("adam", 0.01)
    assert make_optimizer("adam", 0.01) is not make_optimizer("adam", 0.02)
    with pytest.raises(ValueError, match="valid: sgd, momentum, nesterov, adam, rmsprop"):
        make_optimizer("adagrad", 0.01)
    with pytest.raises(ValueError, match="schedule"):
        make_optimizer("sgd", 0.1, schedule="sawtooth")


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
def test_full_batch_scan_matches_python_loop(name):
    model, x, y = _problem()
    opt = make_optimizer(name, 0.01)
    res = train.fit(
        model,
        (x, y),
        objective=LeastSquares(),
        optimizer=opt,
        max_iter=25,
        rng=np.random.default_rng(0),
        key=jax.random.key(0),
    )
    ref, losses = _manual(model, [(x, y)] * 25, opt)
    np.testing.assert_allclose(res.history.loss, losses, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(res.model.w), np.asarray(ref.w), rtol=1e-5, atol=1e-6)
    assert res.history.steps == 25


def test_minibatches_in_order_with_a_ragged_last_batch():
    model, x, y = _problem(n=7)
    opt = make_optimizer("sgd", 0.05)
    res = train.fit(
        model,
        (x, y),
        objective=LeastSquares(),
        optimizer=opt,
        max_iter=3,
        rng=np.random.default_rng(0),
        key=jax.random.key(0),
        plan=train.BatchPlan.make(7, 3, shuffle=False),
    )
    batches = [(x[0:3], y[0:3]), (x[3:6], y[3:6]), (x[6:7], y[6:7])] * 3
    ref, losses = _manual(model, batches, opt)
    np.testing.assert_allclose(np.asarray(res.model.w), np.asarray(ref.w), rtol=1e-5, atol=1e-6)
    # Epoch loss: the minibatch losses weighted by their number of rows.
    first = (3 * losses[0] + 3 * losses[1] + 1 * losses[2]) / 7
    np.testing.assert_allclose(res.history.loss[0], first, rtol=1e-5)
    assert res.history.steps == 9


def test_shuffled_minibatches_follow_the_generator():
    model, x, y = _problem(n=10)
    opt = make_optimizer("sgd", 0.05)
    res = train.fit(
        model,
        (x, y),
        objective=LeastSquares(),
        optimizer=opt,
        max_iter=2,
        rng=np.random.default_rng(5),
        key=jax.random.key(0),
        plan=train.BatchPlan.make(10, 5),
    )
    g = np.random.default_rng(5)
    batches = []
    for _ in range(2):
        p = g.permutation(10)
        batches += [(x[p[:5]], y[p[:5]]), (x[p[5:]], y[p[5:]])]
    ref, _ = _manual(model, batches, opt)
    np.testing.assert_allclose(np.asarray(res.model.w), np.asarray(ref.w), rtol=1e-5, atol=1e-6)


def test_identical_seeds_give_identical_results():
    model, x, y = _problem(n=50)
    opt = make_optimizer("adam", 0.01)
    kw = dict(objective=LeastSquares(), optimizer=opt, max_iter=7, plan=train.BatchPlan.make(50, 8))
    a = train.fit(model, (x, y), rng=np.random.default_rng(1), key=jax.random.key(1), **kw)
    b = train.fit(model, (x, y), rng=np.random.default_rng(1), key=jax.random.key(1), **kw)
    c = train.fit(model, (x, y), rng=np.random.default_rng(2), key=jax.random.key(1), **kw)
    assert np.array_equal(np.asarray(a.model.w), np.asarray(b.model.w))
    assert not np.array_equal(np.asarray(a.model.w), np.asarray(c.model.w))


def test_divergence_guard_keeps_last_finite_parameters():
    model, x, y = _problem(n=20)
    y = y * 1e3
    opt = make_optimizer("sgd", 1e6)
    with pytest.raises(DivergenceError, match=r"non-finite in epoch \d+") as info:
        train.fit(
            model,
            (x, y),
            objective=LeastSquares(),
            optimizer=opt,
            max_iter=500,
            rng=np.random.default_rng(0),
            key=jax.random.key(0),
        )
    err = info.value
    assert err.epoch is not None and err.epoch < 500
    kept = err.result
    assert np.all(np.isfinite(np.asarray(kept.model.w)))
    assert len(kept.history.loss) == err.epoch + 1
    assert np.isfinite(kept.history.loss[: err.epoch]).all()


def test_early_stopping_returns_best_validation_parameters():
    model, x, y = _problem(n=60)
    rng = np.random.default_rng(0)
    tr, va = train.split_validation(60, 0.25, rng)
    assert len(va) == 15 and len(np.intersect1d(tr, va)) == 0
    noisy = y + rng.normal(0, 3.0, y.shape).astype(np.float32)  # overfitting target
    res = train.fit(
        model,
        (x[tr], noisy[tr]),
        objective=LeastSquares(),
        optimizer=make_optimizer("adam", 0.3),
        max_iter=400,
        rng=rng,
        key=jax.random.key(0),
        early_stopping=train.EarlyStopping((x[va], y[va]), n_iter_no_change=5, tol=0.0),
    )
    h = res.history
    assert h.stopped_early and len(h.loss) < 400
    assert h.best_epoch == int(np.argmin(h.val_loss))
    val = float(LeastSquares()(res.model, (x[va], y[va]), jnp.ones(15), None))
    np.testing.assert_allclose(val, min(h.val_loss), rtol=1e-5)


def test_a_run_compiles_once_and_a_second_run_not_at_all():
    model, x, y = _problem(n=40)
    opt = make_optimizer("adam", 0.01)
    kw = dict(objective=LeastSquares(), optimizer=opt, plan=train.BatchPlan.make(40, 16),
              epochs_per_call=4)
    train.fit(model, (x, y), max_iter=5, rng=np.random.default_rng(0), key=jax.random.key(0), **kw)
    with count_compiles() as compiles:
        # 10 epochs = 3 calls of 4 epochs, the last one partly masked: same shapes.
        train.fit(
            model, (x, y), max_iter=10, rng=np.random.default_rng(0), key=jax.random.key(0), **kw
        )
    assert compiles() == 0


def test_progress_bar_runs(capsys):
    model, x, y = _problem()
    train.fit(
        model,
        (x, y),
        objective=LeastSquares(),
        optimizer=make_optimizer("sgd", 0.01),
        max_iter=3,
        rng=np.random.default_rng(0),
        key=jax.random.key(0),
        progress=train.Progress(verbose=True),
    )


class LastSteps(eqx.Module):
    """A toy sequence model: a weighted sum of each sequence's masked steps."""

    w: jax.Array

    def __call__(self, xs):
        return xs @ self.w


@dataclasses.dataclass(frozen=True)
class MaskedSequenceLoss:
    def __call__(self, model, batch, weight, key):
        xs, ys, mask = batch
        err = jnp.sum((jax.vmap(model)(xs) - ys) ** 2, axis=-1) * mask
        per = jnp.sum(err, axis=1) / jnp.maximum(jnp.sum(mask, axis=1), 1.0)
        return jnp.sum(weight * per) / jnp.sum(weight)


def _sequences(n=12, length=9, d=2, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, length + 1, n)
    xs = rng.normal(size=(n, length, d)).astype(np.float32)
    ys = rng.normal(size=(n, length, 1)).astype(np.float32)
    mask = (np.arange(length)[None] < lengths[:, None]).astype(np.float32)
    return (xs * mask[..., None], ys * mask[..., None], mask), lengths


def test_bucket_minibatches_hold_one_bucket_and_cover_every_row_once():
    row_bucket = np.array([0, 2, 1, 0, 2, 2, 0, 1, 0, 2])
    idx, w, bucket = train._bucket_epoch_indices(row_bucket, 3, 3, 2, np.random.default_rng(0),
                                                 True)
    assert idx.shape == (2, 2 + 1 + 2, 3) and bucket.shape == (2, 5)
    for e in range(2):
        rows = idx[e][w[e] > 0]
        assert sorted(rows.tolist()) == list(range(10))
        for j in range(5):
            assert set(row_bucket[idx[e, j][w[e, j] > 0]]) == {bucket[e, j]}
    one, _, _ = train._bucket_epoch_indices(row_bucket, 3, 1, 1, np.random.default_rng(0), True)
    assert sorted(one[0, :, 0].tolist()) == list(range(10))


def test_buckets_give_the_padded_run_on_the_same_minibatches():
    """Cutting a bucket's minibatches to its length changes nothing but the speed."""
    data, lengths = _sequences()
    row_bucket = np.searchsorted([3, 6, 9], lengths).astype(np.int32)
    model = LastSteps(jnp.full((2, 1), 0.1))
    opt = make_optimizer("adam", 0.05)
    kw = dict(objective=MaskedSequenceLoss(), optimizer=opt, max_iter=3, key=jax.random.key(0))
    plan = train.BatchPlan.make(len(lengths), 2, buckets=(row_bucket, (3, 6, 9)))
    cut = train.fit(model, data, rng=np.random.default_rng(3), plan=plan, **kw)
    # The same minibatches on the padded data: sort the rows by bucket and replay the order.
    g = np.random.default_rng(3)
    order = [train._bucket_epoch_indices(row_bucket, 3, 2, 1, g, True) for _ in range(3)]
    batches = []
    for idx, w, _ in order:
        for b_idx, b_w in zip(idx[0], w[0], strict=True):
            batches.append(b_idx[b_w > 0])
    loss = MaskedSequenceLoss()

    @jax.jit  # one program per minibatch size (eagerly, every small operation compiles)
    def step(ref, state, batch):
        g_ = jax.grad(loss)(ref, batch, jnp.ones(len(batch[0])), None)
        upd, state = opt.update(g_, state, ref)
        return optax.apply_updates(ref, upd), state

    ref = model
    state = opt.init(ref)
    for rows in batches:
        ref, state = step(ref, state, tuple(jnp.asarray(a[rows]) for a in data))
    np.testing.assert_allclose(np.asarray(cut.model.w), np.asarray(ref.w), rtol=1e-5, atol=1e-6)


def test_bad_buckets_are_rejected():
    data, _ = _sequences()
    with pytest.raises(ValueError, match="one bucket"):
        train.BatchPlan.make(len(data[0]), 2, buckets=(np.full(12, 3), (3, 6, 9)))


def test_curriculum_epochs_go_from_easy_to_hard():
    row_bucket = np.array([1, 0, 1, 0, 1, 0, 1, 1])
    difficulty = np.array([9, 3, 7, 1, 8, 2, 6, 5])
    idx, w, bucket = train._bucket_epoch_indices(row_bucket, 2, 1, 1, np.random.default_rng(0),
                                                 True, difficulty)
    assert difficulty[idx[0, :, 0]].tolist() == sorted(difficulty.tolist())
    assert bucket[0].tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    data, lengths = _sequences(n=8)
    kw = dict(objective=MaskedSequenceLoss(), optimizer=make_optimizer("sgd", 0.1), max_iter=2,
              rng=np.random.default_rng(0), key=jax.random.key(0))
    rb = np.searchsorted([5, 9], lengths).astype(np.int32)
    a = train.fit(LastSteps(jnp.zeros((2, 1))), data, **kw,
                  plan=train.BatchPlan.make(8, 1, buckets=(rb, (5, 9)), curriculum=(1, lengths)))
    b = train.fit(LastSteps(jnp.zeros((2, 1))), data, **kw,
                  plan=train.BatchPlan.make(8, 1, buckets=(rb, (5, 9))))
    assert not np.allclose(np.asarray(a.model.w), np.asarray(b.model.w))
    with pytest.raises(ValueError, match="length buckets"):
        train.BatchPlan.make(8, 1, curriculum=(1, lengths))


@dataclasses.dataclass(frozen=True)
class NaNGradient:
    """A finite loss whose gradient is NaN: d sqrt(max(w - 1, 0)) = inf * 0."""

    def __call__(self, model, batch, weight, key):
        return LeastSquares()(model, batch, weight, key) + jnp.sqrt(
            jnp.maximum(model.w[0, 0] - 1.0, 0.0))


def test_a_nan_gradient_behind_a_finite_loss_rolls_back_to_the_epoch_start():
    model, x, y = _problem(n=7)
    kw = dict(optimizer=make_optimizer("sgd", 0.01), rng=np.random.default_rng(0),
              key=jax.random.key(0), plan=train.BatchPlan.make(7, 3))
    good = train.fit(model, (x, y), objective=LeastSquares(), max_iter=2, **kw)
    with pytest.raises(DivergenceError) as info:
        train.fit(good.model, (x, y), objective=NaNGradient(), max_iter=3, **kw)
    kept = info.value.result
    assert info.value.epoch == 0
    np.testing.assert_array_equal(np.asarray(kept.model.w), np.asarray(good.model.w))


def test_train_step_is_one_optax_update():
    model, x, y = _problem(n=5)
    opt = make_optimizer("adam", 0.1)
    state = opt.init(eqx.filter(model, eqx.is_inexact_array))
    batch = train.MiniBatch((jnp.asarray(x), jnp.asarray(y)), jnp.ones(5))
    step = eqx.filter_jit(train.train_step)  # one program, not one per operation
    new, new_state, loss = step(model, state, batch, None, objective=LeastSquares(), optimizer=opt)
    ref, losses = _manual(model, [(x, y)], opt)
    np.testing.assert_allclose(float(loss), losses[0], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(new.w), np.asarray(ref.w), rtol=1e-6)
    assert jax.tree.structure(new_state) == jax.tree.structure(state)


def test_batch_plan_counts_the_steps_the_loop_takes():
    full = train.BatchPlan.make(10, None)
    assert full.full and full.steps_per_epoch == 1
    assert train.BatchPlan.make(10, 32).full  # a batch as large as the data
    plain = train.BatchPlan.make(10, 3)
    assert plain.steps_per_epoch == 4
    # Buckets of 4 and 6 rows, minibatches of 3 from one bucket each: 2 + 2 steps.
    rb = np.array([0, 1] * 4 + [1, 1])
    bucketed = train.BatchPlan.make(10, 3, buckets=(rb, (4, 8)))
    assert bucketed.steps_per_epoch == 4
    idx, w, bucket = bucketed.draw(np.random.default_rng(0), 0, 2, 3)
    assert idx.shape == (3, 4, 3) and bucket.shape == (3, 4)
    assert w[2].sum() == 0  # the padding epoch
    for e in range(2):
        assert sorted(idx[e][w[e] > 0].tolist()) == list(range(10))
        for b_idx, b_w, b in zip(idx[e], w[e], bucket[e], strict=True):
            assert set(rb[b_idx[b_w > 0]]) == {b}
    with pytest.raises(ValueError, match="0 examples"):
        train.BatchPlan.make(0, 3)
    model, x, y = _problem(n=7)
    with pytest.raises(ValueError, match="for 10 rows"):
        train.fit(model, (x, y), objective=LeastSquares(), optimizer=make_optimizer("sgd", 0.1),
                  max_iter=1, rng=np.random.default_rng(0), key=jax.random.key(0), plan=plain)


def test_the_compile_counter_also_counts_persistent_cache_hits():
    """The suite runs with a throwaway persistent compilation cache (conftest.py): a program
    that the cache serves still counts, so "compiles nothing" cannot pass because of it."""
    x = jnp.ones(7)
    jax.jit(lambda a: jnp.sin(a) * 3.25 + 1)(x).block_until_ready()
    again = jax.jit(lambda a: jnp.sin(a) * 3.25 + 1)  # a new function, the same program
    with count_compiles() as compiles:
        again(x).block_until_ready()
    assert compiles() == 1
