"""Optimizers by name, learning-rate schedules and gradient clipping, all Optax.

The seeds' momentum update (``v <- mu*v - lr*g``, ``p <- p + v``) is a small
:class:`optax.GradientTransformation` of its own, so that it stays exactly the
seed's update even under a schedule.

:func:`make_optimizer` returns an :class:`Optimizer`: its numbers (the learning
rate, the schedule's length and warm-up, momentum, Adam's betas and epsilon, the
clipping norm) are arrays, so a compiled training loop takes them as run-time
values and optimizers that differ only in them share one program. Derived numbers
(``1 - beta``, the warm-up's end ratio) are computed in float64 before they become
float32, as Optax computes them from Python floats: the updates are bit for bit
those of the Optax optimizers of the same settings.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

__all__ = ["OPTIMIZERS", "SCHEDULES", "Optimizer", "make_optimizer", "make_schedule",
           "seed_momentum"]

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
        return _schedule(name, {"lr": learning_rate, **_schedule_values(
            name, learning_rate, total_steps, decay, warmup)}, decay)
    raise ValueError(f"unknown learning-rate schedule {name!r}; valid: {', '.join(SCHEDULES)}")


_DECAY, _WARMUP = 0.01, 0.05  # the schedules' end ratio and warm-up fraction (fixed)


def _schedule_values(name: str, lr: float, total_steps: int, decay: float = _DECAY,
                     warmup: float = _WARMUP) -> dict[str, float]:
    """The numbers of schedule ``name`` that depend on the settings (as Optax derives them)."""
    total = max(int(total_steps), 1)
    if name == "cosine":
        return {"steps": float(total), "pi_over_steps": _pi_over(total)}
    if name == "exponential":  # XLA folds ``count / steps`` into ``count * (1 / steps)``
        return {"inv_steps": np.float32(np.float32(1) / np.float32(total))}
    if name == "inverse_time":
        return {"steps": float(max(1, total // 10))}
    if name == "warmup_cosine":
        steps = max(1, int(warmup * total))
        if not total - steps > 0:  # as optax.cosine_decay_schedule refuses it
            raise ValueError("The cosine_decay_schedule requires positive decay_steps, got"
                             f" decay_steps={total - steps}.")
        alpha = 0.0 if lr == 0.0 else decay * lr / lr
        return {"warmup": steps, "cos_steps": float(total - steps),
                "cos_pi_over_steps": _pi_over(total - steps), "alpha": alpha,
                "one_minus_alpha": 1 - alpha}
    return {}


def _pi_over(steps: int) -> np.float32:
    """``pi / steps`` as XLA folds Optax's ``pi * count / steps`` for a constant ``steps``:
    ``count * (pi * (1 / steps))`` in float32 (so the run-time value gives the same bits)."""
    return np.float32(np.float32(np.pi) * (np.float32(1) / np.float32(steps)))


def _schedule(name: str, v: dict, decay: float = _DECAY):
    """Schedule ``name`` from its values ``v`` (arrays or tracers), in the arithmetic of
    Optax's own schedules (``cosine_decay_schedule``, ``exponential_decay``,
    ``warmup_cosine_decay_schedule``); a constant rate is ``v["lr"]`` itself."""
    lr = v["lr"]
    if name == "constant":
        return lr

    def cosine(count, init, steps, pi_over_steps, alpha, one_minus_alpha):
        count = jnp.minimum(count, steps)
        cosine_decay = 0.5 * (1 + jnp.cos(count * pi_over_steps))
        return init * (one_minus_alpha * cosine_decay**1.0 + alpha)

    if name == "cosine":
        return lambda count: cosine(count, lr, v["steps"], v["pi_over_steps"], decay, 1 - decay)
    if name == "exponential":
        def exponential(count):
            decreased = count - 0
            p = decreased * v["inv_steps"]
            return jnp.where(decreased <= 0, lr, lr * jnp.power(decay, p))
        return exponential
    if name == "warmup_cosine":
        def warmup_cosine(count):
            warm = jnp.clip(count - 0, 0, v["warmup"])
            frac = 1 - warm / v["warmup"]
            output = (-lr) * (frac**1) + lr
            return jnp.where(count < v["warmup"], output,
                             cosine(count - v["warmup"], lr, v["cos_steps"],
                                    v["cos_pi_over_steps"], v["alpha"], v["one_minus_alpha"]))
        return warmup_cosine
    # inverse_time: lr / (1 + t / steps)
    return lambda count: lr / (1 + count / v["steps"])


def _scale_by_adam(v: dict) -> optax.GradientTransformation:
    """``optax.scale_by_adam`` with ``1 - b`` given (computed in float64, as Optax does
    from Python floats) so that the betas can be run-time values."""

    def init_fn(params):
        return optax.ScaleByAdamState(count=jnp.zeros([], jnp.int32),
                                      mu=optax.tree.zeros_like(params),
                                      nu=optax.tree.zeros_like(params))

    def update_fn(updates, state, params=None):
        del params
        mu = jax.tree.map(lambda g, t: v["one_minus_b1"] * (g**1) + v["b1"] * t, updates,
                          state.mu)
        nu = jax.tree.map(lambda g, t: v["one_minus_b2"] * (g**2) + v["b2"] * t, updates,
                          state.nu)
        count_inc = optax.safe_increment(state.count)
        mu_hat = optax.tree.bias_correction(mu, v["b1"], count_inc)
        nu_hat = optax.tree.bias_correction(nu, v["b2"], count_inc)
        updates = jax.tree.map(lambda m, n: m / (jnp.sqrt(n + 0.0) + v["eps"]), mu_hat, nu_hat)
        return updates, optax.ScaleByAdamState(count=count_inc, mu=mu,
                                               nu=optax.tree.cast_like(nu, state.nu))

    return optax.GradientTransformation(init_fn, update_fn)


def _scale_by_rms(v: dict) -> optax.GradientTransformation:
    """``optax.scale_by_rms`` (as ``optax.rmsprop`` uses it) with ``1 - decay`` given."""

    def init_fn(params):
        return optax.ScaleByRmsState(nu=optax.tree.full_like(params, 0.0))

    def update_fn(updates, state, params=None):
        del params
        nu = jax.tree.map(lambda g, t: v["one_minus_decay"] * (g**2) + v["decay"] * t, updates,
                          state.nu)
        updates = jax.tree.map(lambda n, g: jax.lax.rsqrt(n + v["eps"]) * g, nu, updates)
        return updates, optax.ScaleByRmsState(nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)


class Optimizer(eqx.Module):
    """An optimizer by name whose numbers are arrays (see the module docstring).

    It has ``init`` and ``update`` as an :class:`optax.GradientTransformation` has;
    :meth:`transformation` builds that transformation from the numbers, which inside a
    compiled function are its run-time values. Build it with :func:`make_optimizer`.
    """

    name: str = eqx.field(static=True)
    schedule: str = eqx.field(static=True)
    clipped: bool = eqx.field(static=True)
    values: dict

    def transformation(self) -> optax.GradientTransformation:
        v = self.values
        lr = _schedule(self.schedule, v)
        if self.name == "sgd":
            opt = optax.sgd(lr)
        elif self.name == "momentum":
            opt = seed_momentum(lr, v["momentum"])
        elif self.name == "nesterov":
            opt = optax.sgd(lr, momentum=v["momentum"], nesterov=True)
        elif self.name == "adam":
            opt = optax.chain(_scale_by_adam(v), optax.scale_by_learning_rate(lr))
        else:
            opt = optax.chain(_scale_by_rms(v), optax.scale_by_learning_rate(lr), optax.identity())
        if self.clipped:
            opt = optax.chain(optax.clip_by_global_norm(v["clip_norm"]), opt)
        return opt

    def init(self, params):
        return self.transformation().init(params)

    def init_on_host(self, params):
        """What :meth:`init` returns, built on the host: every state of these optimizers
        starts at zero (step counts, moments, velocities), so its leaves are NumPy zeros
        of the shapes and dtypes ``init`` gives (traced, never compiled). Staging it
        needs no compiled program, where ``init`` compiles one per model shape."""
        shapes = jax.eval_shape(self.init, params)
        if any(getattr(s, "weak_type", False) for s in jax.tree.leaves(shapes)):
            return self.init(params)  # not in these optimizers; kept exact if it happens
        return jax.tree.map(lambda s: np.zeros(s.shape, s.dtype), shapes)

    def update(self, updates, state, params=None):
        return self.transformation().update(updates, state, params)


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
) -> Optimizer:
    """An optimizer by name; equal arguments give the *same* object.

    Its numbers are run-time values of the compiled training loop (see the module
    docstring): optimizers that differ only in them (a constant rate ignores
    ``total_steps``) share one compiled program.

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
    return _make_optimizer(name, float(learning_rate), float(momentum), schedule,
                           max(int(total_steps), 1),
                           None if clip_norm is None else float(clip_norm), float(beta1),
                           float(beta2), float(epsilon))


@functools.lru_cache(maxsize=256)
def _make_optimizer(name, learning_rate, momentum, schedule, total_steps, clip_norm, beta1, beta2,
                    epsilon) -> Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid: {', '.join(OPTIMIZERS)}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; valid: "
                         f"{', '.join(SCHEDULES)}")
    values: dict = {"lr": learning_rate,
                    **_schedule_values(schedule, learning_rate, total_steps)}
    if name in ("momentum", "nesterov"):
        values["momentum"] = momentum
    elif name == "adam":
        values.update(b1=beta1, one_minus_b1=1 - beta1, b2=beta2, one_minus_b2=1 - beta2,
                      eps=epsilon)
    elif name == "rmsprop":
        values.update(decay=momentum, one_minus_decay=1 - momentum, eps=epsilon)
    if clip_norm is not None:
        values["clip_norm"] = clip_norm
    arrays = {k: np.asarray(x, np.int32 if isinstance(x, int) else np.float32)
              for k, x in values.items()}
    return Optimizer(name, schedule, clip_norm is not None, arrays)
