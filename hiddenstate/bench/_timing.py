"""Timed runs: a first call (compilation included), then the fastest of identical repeats."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

__all__ = ["matmul_peak", "products_rate", "timed_runs", "timed_fits", "best_time"]


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    """This machine's fp32 matrix-multiply rate in GFLOP/s: best of ``repeats`` n x n products."""
    return products_rate([(n, n, n)], repeats=repeats)


def products_rate(shapes, repeats: int = 200) -> float:
    """GFLOP/s of the matrix products ``(m, k, n)`` in ``shapes`` each compiled and timed
    alone (fp32, best of ``repeats`` calls each): the rate a step made of exactly these
    products could reach on this machine, with nothing else to do and no fusion.

    The products of a small minibatch are skinny (20 rows), and XLA:CPU runs them far
    below :func:`matmul_peak`'s square ones; this is the ceiling to hold such a step
    against. Total FLOPs ``sum(2 m k n)`` over the sum of the best times.
    """
    import jax
    import jax.numpy as jnp

    dot = jax.jit(jnp.dot)
    flops = seconds = 0.0
    for i, (m, k, n) in enumerate(shapes):
        a = jax.random.normal(jax.random.key(2 * i), (m, k), jnp.float32)
        b = jax.random.normal(jax.random.key(2 * i + 1), (k, n), jnp.float32)
        seconds += best_time(dot, a, b, repeats=repeats)
        flops += 2.0 * m * k * n
    return flops / seconds / 1e9


def timed_runs(run: Callable[[], object], steps: int,
               repeats: int = 1) -> tuple[object, float, float, float]:
    """Call ``run`` (a fit) once to compile, then ``repeats`` more times:
    (the last result, compile_s, train_s, step_us), train_s the fastest repeat (as
    the bare loops it is compared with, which take the best of 3)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        run()
        first = time.perf_counter() - t0
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            est = run()
            best = min(best, time.perf_counter() - t0)
    return est, max(first - best, 0.0), best, best / steps * 1e6


def timed_fits(make, X, steps: int, repeats: int = 1) -> tuple[object, float, float, float]:
    """(estimator of the last fit, compile_s, train_s, step_us)."""
    return timed_runs(lambda: make().fit(X), steps, repeats)


def best_time(fn, *args, repeats: int = 3) -> float:
    """Seconds of the fastest of ``repeats`` calls of a compiled ``fn`` after a first one."""
    import jax

    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return best
