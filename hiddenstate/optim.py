"""Optimizers by name, learning-rate schedules and gradient clipping, all Optax.

The seeds' momentum update (``v <- mu*v - lr*g``, ``p <- p + v``) is a small
:class:`optax.GradientTransformation` of its own, so that it stays exactly the
seed's update even under a schedule.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["OPTIMIZERS", "SCHEDULES", "make_optimizer", "make_schedule", "seed_momentum"]

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop")
SCHEDULES = ("constant", "cosine", "exponential", "warmup_cosine", "inverse_time")


class SeedMomentumState(NamedTuple):
    """Velocity ``v`` of :func:`seed_momentum` and the step count."""

    count: jax.Array
    velocity: optax.Updates


def seed_momentum(learning_rate: float | optax.Schedule, momentum: float = 0.9):
    r"""Classical momentum exactly as the seeds write it.

    .. math:: v \leftarrow \mu v - \eta_t g, \qquad p \leftarrow p + v

    With a constant rate this equals ``optax.sgd(lr, momentum=mu)``; under a
    schedule it differs (Optax scales the accumulated trace by the current rate).
    """
    rate = learning_rate if callable(learning_rate) else (lambda count: learning_rate)

    def init_fn(params):
        return SeedMomentumState(
            count=jnp.zeros([], jnp.int32), velocity=jax.tree.map(jnp.zeros_like, params)
        )

    def update_fn(updates, state, params=None):
        del params
        lr = rate(state.count)
        velocity = jax.tree.map(lambda v, g: momentum * v - lr * g, state.velocity, updates)
        return velocity, SeedMomentumState(count=state.count + 1, velocity=velocity)

    return optax.GradientTransformation(init_fn, update_fn)


def make_schedule(
    name: str, learning_rate: float, total_steps: int, *, decay: float = 0.01, warmup: float = 0.05
) -> optax.Schedule | float:
    """A learning-rate schedule by name.

    ``constant``; ``cosine`` (to ``decay * lr`` at ``total_steps``);
    ``exponential`` (``lr * decay ** (t / total_steps)``); ``warmup_cosine``
    (linear warm-up over ``warmup * total_steps`` steps, then cosine);
    ``inverse_time`` (``lr / (1 + t / (0.1 * total_steps))``).
    """
    total_steps = max(int(total_steps), 1)
    if name == "constant":
        return learning_rate
    if name == "cosine":
        return optax.cosine_decay_schedule(learning_rate, total_steps, alpha=decay)
    if name == "exponential":
        return optax.exponential_decay(learning_rate, total_steps, decay)
    if name == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(
            0.0,
            learning_rate,
            max(1, int(warmup * total_steps)),
            total_steps,
            decay * learning_rate,
        )
    if name == "inverse_time":
        return optax.inverse_time_decay(learning_rate, max(1, total_steps // 10), 1.0)
    raise ValueError(f"unknown learning-rate schedule {name!r}; valid: {', '.join(SCHEDULES)}")


def make_optimizer(
    name: str,
    learning_rate: float,
    *,
    momentum: float = 0.9,
    schedule: str = "constant",
    total_steps: int = 1,
    clip_norm: float | None = None,
    beta1: float = 0.9,
    beta2: float = 0.999,
    epsilon: float = 1e-8,
) -> optax.GradientTransformation:
    """An Optax optimizer by name; equal arguments give the *same* object.

    Returning the same object for the same settings lets compiled training
    loops be reused across ``fit`` calls without recompiling (a constant rate
    ignores ``total_steps``, so runs of any length share one).

    Parameters
    ----------
    name : {'sgd', 'momentum', 'nesterov', 'adam', 'rmsprop'}
        ``momentum`` is the seeds' update (:func:`seed_momentum`).
    learning_rate : float
        Peak step size.
    momentum : float
        ``mu`` for ``momentum`` and ``nesterov``; the decay of ``rmsprop``.
    schedule : str
        One of :data:`SCHEDULES` (see :func:`make_schedule`).
    total_steps : int
        Number of updates the schedule spans.
    clip_norm : float or None
        Clip gradients to this global norm before the update.
    """
    if schedule == "constant":
        total_steps = 1
    return _make_optimizer(name, float(learning_rate), momentum, schedule,
                           max(int(total_steps), 1), clip_norm, beta1, beta2, epsilon)


@functools.lru_cache(maxsize=256)
def _make_optimizer(name, learning_rate, momentum, schedule, total_steps, clip_norm, beta1, beta2,
                    epsilon) -> optax.GradientTransformation:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    lr = make_schedule(schedule, float(learning_rate), total_steps)
    if name == "sgd":
        opt = optax.sgd(lr)
    elif name == "momentum":
        opt = seed_momentum(lr, momentum)
    elif name == "nesterov":
        opt = optax.sgd(lr, momentum=momentum, nesterov=True)
    elif name == "adam":
        opt = optax.adam(lr, b1=beta1, b2=beta2, eps=epsilon)
    else:
        opt = optax.rmsprop(lr, decay=momentum, eps=epsilon)
    if clip_norm is not None:
        opt = optax.chain(optax.clip_by_global_norm(float(clip_norm)), opt)
    return opt
