"""Bare JAX loops: the seed recipes without the library, to measure its overhead.

Each returns the seconds of its fastest run (data already on the device).
"""

from __future__ import annotations

import numpy as np

from ._timing import best_time

__all__ = ["bare_w1", "bare_w2", "bare_w3", "bare_w6", "elman_loss", "elman_params",
           "padded_one_hot"]


def bare_w1(X: np.ndarray, epochs: int) -> float:
    """Seconds for W1's seed algorithm as a hand-written jit + lax.scan (data already on device)."""
    import jax
    import jax.numpy as jnp

    X = jnp.asarray(X)
    p0 = (jax.random.normal(jax.random.key(0), (4, 2)) / np.sqrt(6), jnp.zeros(2), jnp.zeros(4))

    def loss(p):
        W, b, c = p
        return jnp.mean((jax.nn.sigmoid(X @ W + b) @ W.T + c - X) ** 2)

    @jax.jit
    def run(p):
        def step(carry, _):
            p, v = carry
            value, g = jax.value_and_grad(loss)(p)
            v = jax.tree.map(lambda v, g: 0.9 * v - 0.1 * g, v, g)
            return (jax.tree.map(lambda p, v: p + v, p, v), v), value

        return jax.lax.scan(step, (p, jax.tree.map(jnp.zeros_like, p)), None, length=epochs)

    return best_time(run, p0)


def bare_w2(X: np.ndarray, batch: int) -> float:
    """Seconds for one W2 epoch (SGD 0.1, minibatches in order) as a hand-written loop."""
    import jax
    import jax.numpy as jnp

    X = jnp.asarray(X)
    n, d = X.shape
    bound = 4 * np.sqrt(6 / (d + 500))
    W = jax.random.uniform(jax.random.key(0), (d, 500), minval=-bound, maxval=bound)
    p0 = (W, jnp.zeros(500), jnp.zeros(d))

    def loss(p, x):
        W, b, c = p
        z = jax.nn.sigmoid(x @ W + b) @ W.T + c
        return jnp.mean(jnp.sum(jnp.maximum(z, 0) - z * x + jnp.log1p(jnp.exp(-jnp.abs(z))), -1))

    @jax.jit
    def epoch(p):
        def step(p, i):
            x = jax.lax.dynamic_slice_in_dim(X, i * batch, batch)
            value, g = jax.value_and_grad(loss)(p, x)
            return jax.tree.map(lambda p, g: p - 0.1 * g, p, g), value

        return jax.lax.scan(step, p, jnp.arange(n // batch))

    return best_time(epoch, p0)


def elman_loss(p, x, y, m, output: str):
    """Masked mean per-step loss of one sequence through an Elman net (tanh)."""
    import jax
    import jax.numpy as jnp

    W, U, b, h0, V, c = p

    def f(h, xt):
        h = jnp.tanh(xt @ W + h @ U + b)
        return h, h

    _, hs = jax.lax.scan(f, h0, x)
    z = hs @ V + c
    if output == "sigmoid":
        per = jnp.mean(jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z))), -1)
    else:
        per = jnp.mean((z - y) ** 2, -1)
    return jnp.sum(per * m) / jnp.sum(m)


def elman_params(n_in: int, hidden: int, n_out: int):
    """(W, U, b, h0, V, c): weights uniform, scaled to spectral norm 1; zero biases."""
    rng = np.random.default_rng(0)

    def spectral(shape):
        w = rng.uniform(-1, 1, shape)
        return (w / np.linalg.norm(w, 2)).astype(np.float32)

    return (spectral((n_in, hidden)), spectral((hidden, hidden)), np.zeros(hidden, np.float32),
            np.zeros(hidden, np.float32), spectral((hidden, n_out)), np.zeros(n_out, np.float32))


def padded_one_hot(strings, targets, alphabet: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One-hot inputs ``X`` (every symbol but the last), ``targets`` ``Y`` and mask ``M``,
    all padded to the longest string: shapes (n, T, len(alphabet)), same, (n, T)."""
    longest = max(len(s) for s in strings) - 1
    k = len(alphabet)
    X = np.zeros((len(strings), longest, k), np.float32)
    Y, M = np.zeros_like(X), np.zeros((len(strings), longest), np.float32)
    for i, (s, y) in enumerate(zip(strings, targets, strict=True)):
        X[i, : len(s) - 1] = np.eye(k, dtype=np.float32)[[alphabet.index(ch) for ch in s[:-1]]]
        Y[i, : len(s) - 1], M[i, : len(s) - 1] = y, 1.0
    return X, Y, M


def bare_w3(X: np.ndarray, Y: np.ndarray, M: np.ndarray, epochs: int) -> float:
    """Seconds for W3's seed algorithm as a hand-written loop: every string padded to the
    longest, batch-1 SGD at 0.2 over random orders (the data already on the device)."""
    import jax
    import jax.numpy as jnp

    X, Y, M = jnp.asarray(X), jnp.asarray(Y), jnp.asarray(M)
    n = X.shape[0]
    rng = np.random.default_rng(0)
    order = jnp.asarray(np.concatenate([rng.permutation(n) for _ in range(epochs)]))
    p0 = tuple(jnp.asarray(a) for a in elman_params(X.shape[2], 10, Y.shape[2]))

    @jax.jit
    def run(p):
        def step(p, i):
            g = jax.grad(elman_loss)(p, X[i], Y[i], M[i], "sigmoid")
            return tuple(a - 0.2 * b for a, b in zip(p, g, strict=True)), None

        return jax.lax.scan(step, p, order)[0]

    return best_time(run, p0)


def bare_w6(S: np.ndarray, T: np.ndarray, steps: int) -> float:
    """Seconds for W6 (Elman 2-4-2, linear output, full-batch SGD 0.1) hand-written."""
    import jax
    import jax.numpy as jnp

    S, T = jnp.asarray(S), jnp.asarray(T)
    M = jnp.ones(S.shape[:2])
    p0 = tuple(jnp.asarray(a) for a in elman_params(2, 4, 2))

    def loss(p):
        return jnp.mean(jax.vmap(lambda x, y, m: elman_loss(p, x, y, m, "linear"))(S, T, M))

    @jax.jit
    def run(p):
        def step(p, _):
            g = jax.grad(loss)(p)
            return tuple(a - 0.1 * b for a, b in zip(p, g, strict=True)), None

        return jax.lax.scan(step, p, None, length=steps)[0]

    return best_time(run, p0)
