"""W1..W6: each workload times the experiments' own recipes (``hiddenstate.experiments``)."""

from __future__ import annotations

import numpy as np

from ._bare import bare_w1, bare_w2, bare_w3, bare_w6, padded_one_hot
from ._registry import BenchRecord, register_workload
from ._timing import matmul_peak, products_rate, timed_fits, timed_runs

__all__ = ["w1", "w2", "w3", "w4", "w5", "w6"]


# -- W1 -------------------------------------------------------------------------------------


@register_workload("W1")
def w1(quick: bool, data_dir) -> list[BenchRecord]:
    """Donut tied autoencoder: seed algorithm (10,000 full-batch momentum epochs) vs defaults."""
    from ..datasets import make_donut
    from ..experiments import donut

    del quick, data_dir  # the full recipe takes about a second (the help says so)
    cfg = donut.Config()
    X, _ = make_donut(cfg.n_samples, rng=np.random.default_rng(cfg.data_seed))
    seed, c, t, us = timed_fits(lambda: donut.seed_estimator(cfg), X, cfg.seed_epochs, repeats=3)
    seed_mse = -seed.score(X)
    bare = bare_w1(X, cfg.seed_epochs)
    out = [BenchRecord("W1", "seed", c, t, us, seed.loss_curve_[-1], seed_mse, "final MSE",
                       {"target": "within 5% of 3.0e-4", "total_first_fit_s": c + t,
                        "bare_jax_s": bare, "library_overhead": t / bare - 1})]
    steps = cfg.ours_epochs * -(-X.shape[0] // 32)
    ours, c, t, us = timed_fits(lambda: donut.ours_estimator(cfg), X, steps)
    reached = np.flatnonzero(np.asarray(ours.loss_curve_) <= seed_mse)
    out.append(BenchRecord("W1", "ours", c, t, us, ours.loss_curve_[-1], -ours.score(X),
                           "final MSE", {
                               "epochs": cfg.ours_epochs,
                               "epochs_to_seed_quality": int(reached[0]) + 1 if reached.size
                               else None,
                               "seconds_to_seed_quality": t * (int(reached[0]) + 1)
                               / cfg.ours_epochs if reached.size else None,
                               "seed_seconds": out[0].train_s,
                           }))
    return out


# -- W2 -------------------------------------------------------------------------------------


def w2_products(batch: int, n_in: int = 784, n_hidden: int = 500) -> list[tuple]:
    """The matrix products ``(m, k, n)`` of one tied-autoencoder SGD step.

    Forward: encode ``X W`` and decode ``H W^T``. Backward: the decoder's error back to
    the code (``dZ W``) and W's two gradient terms (``dZ^T H`` from the decoder,
    ``X^T dH`` from the encoder); the data needs no gradient. Five products of
    ``2 B n h`` FLOPs each; the elementwise work is small beside them.
    """
    B, n, h = batch, n_in, n_hidden
    return [(B, n, h), (B, h, n), (B, n, h), (n, B, h), (n, B, h)]


def w2_flops(batch: int, n_in: int = 784, n_hidden: int = 500) -> float:
    """FLOPs of one tied-autoencoder SGD step: ``10 B n h`` (:func:`w2_products`).

    The one count the bench's GFLOP/s and ``benchmarks/scaling.py``'s assumed
    single-GPU step both use.

    Until December 2026 this counted six products (``12 B n h``), which overstated the
    step's rate and its fraction of the peak by a fifth.
    """
    return sum(2.0 * m * k * n for m, k, n in w2_products(batch, n_in, n_hidden))


def _w2_speed(cfg) -> list[BenchRecord]:
    """One epoch on 50,000 MNIST-shaped binary images, minibatches of 20 and of 2000."""
    import dataclasses

    from ..experiments import digits

    peak = matmul_peak()
    X = (np.random.default_rng(0).random((50000, 784)) < 0.2).astype(np.float32)
    out = []
    for variant, batch in (("seed", 20), ("seed-batch-2000", 2000)):
        steps = X.shape[0] // batch
        est, c, t, us = timed_fits(lambda b=batch: digits.seed_estimator(
            dataclasses.replace(cfg, seed_batch_size=b), 500, 1), X, steps, repeats=3)
        gflops = w2_flops(batch) / (us * 1e-6) / 1e9
        shape_peak = products_rate(w2_products(batch), repeats=200 if batch < 100 else 20)
        bare = bare_w2(X, batch)
        out.append(BenchRecord("W2", variant, c, t, us, est.loss_curve_[-1], float("nan"),
                               "digits loss (quality A)", {
                                   "batch": batch, "steps": steps, "step_gflops": gflops,
                                   "matmul_peak_gflops": peak, "fraction_of_peak": gflops / peak,
                                   "products_alone_gflops": shape_peak,
                                   "fraction_of_products_alone": gflops / shape_peak,
                                   "bare_jax_s": bare, "library_overhead": t / bare - 1,
                               }))
    return out


@register_workload("W2")
def w2(quick: bool, data_dir) -> list[BenchRecord]:
    """MNIST-shaped tied sigmoid autoencoder: one epoch's speed, digits and MNIST quality."""
    from pathlib import Path

    from ..datasets import load_digits
    from ..experiments import digits

    cfg = digits.Config()
    out = _w2_speed(cfg)
    # Quality A on the digits: seed algorithm (200 epochs, lr 0.1, batch 20, in order).
    D, _ = load_digits()
    epochs = 50 if quick else cfg.epochs
    steps = epochs * -(-D.shape[0] // cfg.seed_batch_size)
    est, c, t, us = timed_fits(lambda: digits.seed_estimator(cfg, epochs=epochs), D, steps)
    out[0].quality = est.loss_curve_[-1]
    out[0].extra.update({"quality_epochs": epochs, "quality_target": "<= 15.3 (200 epochs)",
                         "quality_train_s": t})
    out[1].quality = float("nan")
    ours_steps = epochs * -(-D.shape[0] // 32)
    ours, c, t, us = timed_fits(lambda: digits.ours_estimator(cfg, epochs=epochs), D, ours_steps)
    out.append(BenchRecord("W2", "ours", c, t, us, ours.loss_curve_[-1], ours.loss_curve_[-1],
                           "digits loss (quality A)", {"epochs": epochs}))
    # Quality B on the real MNIST test images, when present.
    if data_dir is not None and (Path(data_dir) / "mnist").is_dir():
        from ..datasets import load_mnist

        M, _ = load_mnist(Path(data_dir) / "mnist", "t10k")
        m_epochs = 3 if quick else 20
        steps = m_epochs * M.shape[0] // 20
        est, c, t, us = timed_fits(lambda: digits.seed_estimator(cfg, 500, m_epochs), M, steps)
        out.append(BenchRecord("W2", "seed-mnist", c, t, us, est.loss_curve_[-1],
                               est.loss_curve_[-1], "MNIST loss (quality B)",
                               {"epochs": m_epochs}))
    for rec in out:
        rec.extra.setdefault("quick", quick)
    return out


# -- W3, W4, W6: recurrent networks ---------------------------------------------------------


@register_workload("W3")
def w3(quick: bool, data_dir) -> list[BenchRecord]:
    """Reber grammar: seed algorithm (Elman, batch-1 SGD) vs the default LSTM."""
    from ..datasets import REBER_ALPHABET, in_reber_grammar, make_reber, reber_targets
    from ..experiments import reber
    from ..metrics import grammar_fraction, multi_hot_step_accuracy

    del quick, data_dir  # the full recipe takes seconds (the help says so)
    cfg = reber.Config()
    train = make_reber(cfg.n_train, np.random.default_rng(cfg.random_state))
    targets = [reber_targets(s) for s in train]
    test = make_reber(cfg.n_test, np.random.default_rng(cfg.random_state + 1))

    steps = cfg.seed_epochs * cfg.n_train
    est, c, t, us = timed_runs(
        lambda: reber.seed_estimator(cfg).fit(train, targets, alphabet=REBER_ALPHABET), steps,
        repeats=3)
    acc = multi_hot_step_accuracy(est.predict_proba(test), [reber_targets(s) for s in test])
    frac = grammar_fraction(est.sample(1000, random_state=0), in_reber_grammar)
    bare = bare_w3(*padded_one_hot(train, targets, REBER_ALPHABET), cfg.seed_epochs)
    out = [BenchRecord("W3", "seed", c, t, us, est.loss_curve_[-1], frac,
                       "sampled strings in the grammar",
                       {"step_accuracy": acc, "bare_jax_s": bare,
                        "library_overhead": t / bare - 1})]
    est, c, t, us = timed_runs(
        lambda: reber.ours_estimator(cfg).fit(train, alphabet=REBER_ALPHABET),
        cfg.ours_epochs * cfg.n_train)
    frac = grammar_fraction(est.sample(1000, random_state=0), in_reber_grammar)
    out.append(BenchRecord("W3", "ours", c, t, us, est.loss_curve_[-1], frac,
                           "sampled strings in the grammar", {"epochs": cfg.ours_epochs}))
    return out


@register_workload("W4")
def w4(quick: bool, data_dir) -> list[BenchRecord]:
    """Embedded Reber: the seed's batch-1 SGD (Elman and LSTM) vs the default LSTM."""
    from ..datasets import (
        REBER_ALPHABET,
        in_embedded_reber_grammar,
        make_embedded_reber,
        reber_targets,
    )
    from ..experiments import embedded_reber
    from ..metrics import grammar_fraction, long_range_accuracy

    del data_dir
    cfg = embedded_reber.Config()
    rng = np.random.default_rng(cfg.random_state)
    test = make_embedded_reber(cfg.n_test, np.random.default_rng(cfg.random_state + 1),
                               cfg.min_length)
    train = make_embedded_reber(cfg.n_train_seed, rng, cfg.min_length)
    targets = [reber_targets(s, embedded=True) for s in train]
    epochs = embedded_reber.Config.quick().seed_epochs if quick else cfg.seed_epochs
    out = []
    for cell in ("elman", "lstm"):
        est, c, t, us = timed_runs(
            lambda cell=cell: embedded_reber.seed_estimator(cfg, cell, epochs).fit(
                train, targets, alphabet=REBER_ALPHABET), epochs * len(train))
        acc = long_range_accuracy(est.predict_proba(test), test, REBER_ALPHABET)
        out.append(BenchRecord("W4", f"seed {cell}", c, t, us, est.loss_curve_[-1], acc,
                               "long-range accuracy", {"epochs": epochs}))
    n = cfg.n_train_ours // 5 if quick else cfg.n_train_ours
    ours_train = make_embedded_reber(n, rng, cfg.min_length)
    est, c, t, us = timed_runs(
        lambda: embedded_reber.ours_estimator(cfg, "lstm").fit(
            ours_train, alphabet=REBER_ALPHABET), cfg.ours_epochs * n)
    acc = long_range_accuracy(est.predict_proba(test), test, REBER_ALPHABET)
    frac = grammar_fraction(est.sample(1000, n_stops=2, random_state=0),
                            in_embedded_reber_grammar)
    out.append(BenchRecord("W4", "ours", c, t, us, est.loss_curve_[-1], acc,
                           "long-range accuracy", {"strings": n, "epochs": cfg.ours_epochs,
                                                   "sampled_in_grammar": frac}))
    # Time to quality: online on fresh strings until long-range accuracy >= 0.99.
    stream = make_embedded_reber(cfg.stream_budget, rng, cfg.min_length)
    online = embedded_reber.strings_needed("lstm", stream, test, chunk=cfg.stream_chunk,
                                           random_state=cfg.random_state)
    seen = online.seen[-1]
    out.append(BenchRecord(
        "W4", "ours-online", float("nan"), online.train_seconds,
        online.train_seconds / seen * 1e6, float("nan"),
        float(online.solved_at) if online.solved_at else float("nan"),
        "fresh strings until long-range >= 0.99",
        {"seconds_to_quality": online.train_seconds if online.solved_at else None,
         "accuracy": online.accuracy[-1], "budget": cfg.stream_budget,
         "note": "training seconds, first call's compilation included, evaluations "
                 "excluded"}))
    return out


@register_workload("W5")
def w5(quick: bool, data_dir) -> list[BenchRecord]:
    """Recurrent autoencoder of 8 one-hot symbols: seed step loss + SGD vs our unroll loss."""
    from ..datasets import make_permutation_streams
    from ..experiments import recurrent_ae
    from ..nn import recall_per_position

    del data_dir
    cfg = recurrent_ae.Config()
    test = make_permutation_streams(
        cfg.test_orders, cfg.symbols, rng=np.random.default_rng(cfg.random_state + 10_000))
    out = []
    for variant, recipe in (
        ("seed", recurrent_ae.seed_recipe(cfg, steps=cfg.seed_steps // 10 if quick else None)),
        ("ours", recurrent_ae.ours_recipe(cfg)),
    ):
        result, c, t, us = timed_runs(
            lambda recipe=recipe: recurrent_ae.fit_recipe(seed=cfg.random_state, **recipe),
            recipe["steps"])
        recall = float(np.mean(np.asarray(recall_per_position(result.model, test))))
        out.append(BenchRecord("W5", variant, c, t, us, result.history.loss[-1], recall,
                               f"recall of {cfg.symbols} positions",
                               {"steps": recipe["steps"], "batch": recipe["batch"]}))
    return out


@register_workload("W6")
def w6(quick: bool, data_dir) -> list[BenchRecord]:
    """The nested-scan sin/cos exercise: Elman 2-4-2, linear output, 10,000 SGD steps
    (``quick``: the seed's 2,000, as ``reproduce --quick``)."""
    from ..datasets import make_sincos
    from ..experiments import scan_exercise

    del data_dir
    S, T = make_sincos()
    X, Y = list(S), list(T)
    cfg = scan_exercise.Config.quick() if quick else scan_exercise.Config()
    est, c, t, us = timed_runs(lambda: scan_exercise.seed_estimator(cfg).fit(X, Y),
                               cfg.seed_steps, repeats=3)
    mse = -est.score(X, Y)
    bare = bare_w6(S, T, cfg.seed_steps)
    out = [BenchRecord("W6", "seed", c, t, us, est.loss_curve_[-1], mse, "final MSE",
                       {"target": "<= 1.4e-4 (seed 1.3e-4)", "bare_jax_s": bare,
                        "library_overhead": t / bare - 1, "steps": cfg.seed_steps,
                        "quick": quick})]
    est, c, t, us = timed_runs(lambda: scan_exercise.ours_estimator(cfg).fit(X, Y),
                               cfg.ours_steps)
    out.append(BenchRecord("W6", "ours", c, t, us, est.loss_curve_[-1], -est.score(X, Y),
                           "final MSE", {"steps": cfg.ours_steps, "optimizer": "adam"}))
    return out
