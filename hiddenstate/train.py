"""The one training loop every hiddenstate model uses, in small named pieces.

A model is an Equinox module; an *objective* is a hashable callable
``objective(model, batch, weight, key) -> scalar`` (see
:mod:`hiddenstate.objectives`) where ``batch`` is a pytree of arrays with a
leading batch axis, ``weight`` is ``(B,)`` with 1 for real rows and 0 for
padding, and ``key`` is a fresh PRNG key for this update.

The pieces:

- :class:`BatchPlan` (NumPy only): batch size, length buckets, curriculum and
  the steps per epoch (which estimators read for the schedule length); it
  draws each epoch's minibatch indices, weights and buckets from the run's
  Generator;
- :func:`train_step`: one pure update ``(model, opt_state, batch, key) ->
  (model, opt_state, loss)``; the compiled epoch loop (``_run_epochs``: a
  ``lax.scan`` over epochs of ``lax.scan`` over minibatches) calls it and adds
  the divergence guard and early stopping around it;
- :class:`Placement`: the device mesh and where every array goes;
- :class:`EarlyStopping`, :class:`Checkpointing`, :class:`Progress`: the
  settings of what happens between compiled calls;
- :func:`fit`: orchestrates them.

Compilation: several epochs run inside one compiled call, as many as the call is
given (a run-time count, up to a width set by the batch plan alone); the numbers
of the objective and the optimizer that are arrays (learning rate, schedule
length, momentum, weight decay, noise level, ...) are run-time values too. So a
run compiles exactly once, and a second run with the same shapes and the same
kind of objective and optimizer compiles not at all, whatever its ``max_iter``
and hyperparameters.

Safety: a non-finite loss leaves the parameters and optimizer state untouched
(the update is masked inside the compiled step) and freezes the run; parameters
that a non-finite gradient behind a finite loss made non-finite are rolled back
to the start of that epoch. Either way :func:`fit` raises
:class:`~hiddenstate.DivergenceError` carrying the last finite model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._errors import DivergenceError
from .distributed import device, host, put
from .optim import Optimizer

__all__ = [
    "History",
    "FitResult",
    "BatchPlan",
    "MiniBatch",
    "EarlyStopping",
    "Checkpointing",
    "Progress",
    "Placement",
    "train_step",
    "fit",
    "split_validation",
    "data_mesh",
    "STEPS_PER_CALL",
]

#: Target number of update steps per compiled call (progress granularity).
STEPS_PER_CALL = 4096


@dataclasses.dataclass
class History:
    """Per-epoch record of a run.

    Attributes
    ----------
    loss : list of float
        Mean training loss of each epoch (minibatch losses weighted by rows).
    val_loss : list of float
        Validation loss after each epoch (empty without validation data).
    best_epoch : int or None
        Epoch (0-based, within this run) whose parameters were kept when early
        stopping was on.
    stopped_early : bool
    diverged_at : int or None
        First epoch with a non-finite loss.
    initial_loss : float or None
        Loss of the untrained model on the run's first minibatch (computed before the
        first update): the start a blown-up run is measured against.
    steps : int
        Updates applied.
    seconds : float
        Wall time of the run, compilation included.
    """

    loss: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] = dataclasses.field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    diverged_at: int | None = None
    initial_loss: float | None = None
    steps: int = 0
    seconds: float = 0.0


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` returns: the trained model, optimizer state and history."""

    model: Any
    opt_state: Any
    history: History
    step: int


class _Carry(eqx.Module):
    params: Any
    opt_state: Any
    step: jax.Array
    bad: jax.Array
    best_params: Any
    best_val: jax.Array
    since_best: jax.Array
    stopped: jax.Array


# -- settings ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stop once the loss on ``validation_data`` has not improved by ``tol`` for
    ``n_iter_no_change`` epochs, and return the best parameters."""

    validation_data: Any
    n_iter_no_change: int = 10
    tol: float = 0.0


@dataclasses.dataclass(frozen=True)
class Checkpointing:
    """Write the whole training state through ``checkpointer`` every
    ``checkpointer.every`` epochs and on Ctrl-C; ``resume`` continues from the
    newest one (the run then ends bit for bit as an uninterrupted one)."""

    checkpointer: Any
    resume: bool = False


@dataclasses.dataclass(frozen=True)
class Progress:
    """A rich progress bar when ``verbose``."""

    verbose: bool | int = False
    description: str = "training"

    def start(self, total: int, done: int):
        if not self.verbose:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        bar = Bar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("epochs  loss {task.fields[loss]:.4g}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        task = bar.add_task(self.description, total=total, loss=float("nan"), completed=done)
        bar.start()
        return bar, task


def split_validation(
    n: int, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, validation)`` with ``round(fraction * n)`` rows held out (at least 1)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {fraction}")
    n_val = max(1, int(round(fraction * n)))
    if n - n_val < 1:
        raise ValueError(
            f"validation_fraction={fraction} leaves no training rows out of {n}; "
            "use more data or turn early_stopping off"
        )
    perm = rng.permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


# -- the batch plan (NumPy only) -----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class BatchPlan:
    """How ``n`` rows become minibatches, epoch after epoch.

    Build it with :meth:`make`. ``steps_per_epoch`` is the number of updates
    an epoch makes (estimators size the learning-rate schedule with it);
    :meth:`draw` gives the minibatches of some epochs.

    With length buckets every minibatch holds rows of one bucket and sees only
    the first ``lengths[b]`` steps (axis 1) of each data leaf with two or more
    axes. With a curriculum the first ``curriculum_epochs`` epochs go from the
    easiest rows to the hardest (``difficulty``, e.g. sequence lengths).
    """

    n: int
    batch: int
    steps_per_epoch: int
    full: bool
    shuffle: bool = True
    row_bucket: np.ndarray | None = None
    lengths: tuple[int, ...] | None = None
    curriculum_epochs: int = 0
    difficulty: np.ndarray | None = None

    @classmethod
    def make(cls, n: int, batch_size: int | None = None, *, shuffle: bool = True,
             buckets: tuple[np.ndarray, tuple[int, ...]] | None = None,
             curriculum: tuple[int, np.ndarray] | None = None) -> BatchPlan:
        """``batch_size=None`` (or ``>= n``) trains full-batch (buckets and curriculum
        then do not apply). ``buckets = (row_bucket (n,), lengths)``;
        ``curriculum = (epochs, difficulty (n,))`` needs buckets."""
        n = int(n)
        if n == 0:
            raise ValueError("cannot train on 0 examples")
        if batch_size is None or batch_size >= n:
            return cls(n, n, 1, True, shuffle)
        bsz = int(batch_size)
        if buckets is None:
            if curriculum is not None and curriculum[0] > 0:
                raise ValueError("a curriculum needs length buckets")
            return cls(n, bsz, math.ceil(n / bsz), False, shuffle)
        row_bucket = np.asarray(buckets[0])
        lengths = tuple(int(x) for x in buckets[1])
        if row_bucket.shape != (n,) or not 0 <= row_bucket.min() <= row_bucket.max() < len(
                lengths):
            raise ValueError(f"buckets: need one bucket in [0, {len(lengths)}) per row of the {n}")
        steps = sum(-(-int(np.sum(row_bucket == b)) // bsz) for b in range(len(lengths)))
        epochs, difficulty = (0, None) if curriculum is None else curriculum
        return cls(n, bsz, steps, False, shuffle, row_bucket, lengths, int(epochs),
                   None if difficulty is None else np.asarray(difficulty))

    def draw(self, rng: np.random.Generator, first: int, count: int, width: int,
             *, gather_full: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Indices ``(width, steps, B)``, weights (same shape) and buckets ``(width, steps)``
        of epochs ``first .. first + count - 1``; epochs past ``count`` are padding.

        A full batch needs no indices (``(width, 1, 1)`` dummies) unless
        ``gather_full`` (a sharded full batch is gathered like a minibatch)."""
        bucket = np.zeros((width, self.steps_per_epoch), np.int32)
        if self.full:
            cols = self.n if gather_full else 1
            idx = np.broadcast_to(np.arange(cols, dtype=np.int32), (width, 1, cols))
            return (np.zeros((width, 1, 1), np.int32) if not gather_full else idx,
                    np.ones((width, 1, cols), np.float32), bucket)
        if self.lengths is None:
            idx, w = _epoch_indices(self.n, self.batch, self.steps_per_epoch, count, rng,
                                    self.shuffle)
        else:
            idx, w = [], []
            for e in range(count):
                easy = self.difficulty if first + e < self.curriculum_epochs else None
                i_e, w_e, bucket[e] = _bucket_epoch_indices(
                    self.row_bucket, len(self.lengths), self.batch, 1, rng, self.shuffle, easy)
                idx.append(i_e)
                w.append(w_e)
            idx, w = np.concatenate(idx), np.concatenate(w)
        pad = ((0, width - count), (0, 0), (0, 0))
        return np.pad(idx, pad), np.pad(w, pad), bucket


def _epoch_indices(
    n: int, batch: int, n_batches: int, epochs: int, rng: np.random.Generator, shuffle: bool
) -> tuple[np.ndarray, np.ndarray]:
    total = batch * n_batches
    idx = np.zeros((epochs, total), np.int32)
    w = np.zeros((epochs, total), np.float32)
    for e in range(epochs):
        idx[e, :n] = rng.permutation(n) if shuffle else np.arange(n)
        w[e, :n] = 1.0
    return idx.reshape(epochs, n_batches, batch), w.reshape(epochs, n_batches, batch)


def _bucket_epoch_indices(
    row_bucket: np.ndarray, n_buckets: int, batch: int, epochs: int,
    rng: np.random.Generator, shuffle: bool, easy_first: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minibatches of rows from one bucket each, in random order: ``(idx, w, bucket)``.

    Each bucket's rows are shuffled and cut into minibatches of ``batch`` (the
    last one padded with weight 0); then the minibatches of all buckets are
    shuffled together. With ``batch == 1`` this is a plain permutation of the rows
    (without ``shuffle``: the rows in order). With ``easy_first`` (a difficulty per
    row, e.g. its length) every epoch goes from the easiest rows to the hardest,
    ties in random order.
    """
    members = [np.flatnonzero(row_bucket == b) for b in range(n_buckets)]
    counts = [-(-len(m) // batch) for m in members]
    n_batches = sum(counts)
    idx = np.zeros((epochs, n_batches, batch), np.int32)
    w = np.zeros((epochs, n_batches, batch), np.float32)
    bucket = np.repeat(np.arange(n_buckets, dtype=np.int32), counts)
    buckets = np.zeros((epochs, n_batches), np.int32)
    for e in range(epochs):
        parts_i, parts_w = [], []
        for m, k in zip(members, counts, strict=True):
            rows = rng.permutation(m) if shuffle or easy_first is not None else m
            if easy_first is not None:
                rows = rows[np.argsort(easy_first[rows], kind="stable")]
            pad = k * batch - len(rows)
            parts_i.append(np.pad(rows, (0, pad)).reshape(k, batch))
            parts_w.append(np.pad(np.ones(len(rows), np.float32), (0, pad)).reshape(k, batch))
        rows = np.concatenate(parts_i)
        if easy_first is not None:
            order = np.argsort(easy_first[rows[:, 0]], kind="stable")
        elif shuffle:
            order = rng.permutation(n_batches)
        else:
            # Minibatches in the order of their first rows (batch 1: the rows' order).
            order = np.argsort(rows[:, 0], kind="stable")
        idx[e] = rows[order]
        w[e] = np.concatenate(parts_w)[order]
        buckets[e] = bucket[order]
    return idx, w, buckets


# -- devices -------------------------------------------------------------------------------------


def data_mesh(devices=None) -> Mesh | None:
    """A 1-D ``("data",)`` mesh over ``devices``, or ``None`` when there is just one.

    ``devices``: ``None`` (every visible device), an int (the first that many),
    or a sequence of jax devices.
    """
    if devices is None:
        chosen = jax.devices()
    elif isinstance(devices, int):
        available = jax.devices()
        if not 1 <= devices <= len(available):
            raise ValueError(f"devices={devices}, but {len(available)} device(s) are visible")
        chosen = available[:devices]
    else:
        chosen = list(devices)
        if not chosen:
            raise ValueError("devices is an empty sequence")
    if len(chosen) == 1:
        return None
    return Mesh(np.asarray(chosen), ("data",))


class Placement:
    """Where the arrays of a run live: one device, or a 1-D data-parallel mesh.

    On a mesh, parameters, data and per-call inputs are replicated and every
    minibatch is padded (weight 0) to a multiple of the device count and split
    over the devices; XLA all-reduces the gradients. ``devices`` as
    :func:`data_mesh`.
    """

    def __init__(self, devices=None):
        self.mesh = data_mesh(devices)

    @property
    def sharded(self) -> bool:
        return self.mesh is not None

    def replicate(self, tree):
        """``tree`` on every device (unchanged on one device)."""
        if self.mesh is None:
            return tree
        return put(tree, NamedSharding(self.mesh, PartitionSpec()))

    def split_batches(self, idx: np.ndarray, w: np.ndarray) -> tuple[jax.Array, jax.Array]:
        """Minibatch indices and weights ``(E, steps, B)``, split along ``B``."""
        if self.mesh is None:
            return device(idx), device(w)
        pad = ((0, 0), (0, 0), (0, -idx.shape[2] % self.mesh.size))
        idx, w = np.pad(idx, pad), np.pad(w, pad)
        split = NamedSharding(self.mesh, PartitionSpec(None, None, "data"))
        return put(device(idx), split), put(device(w), split)

    def inputs(self, *arrays):
        """Small per-call inputs (buckets, active epochs, the key)."""
        if self.mesh is None:
            return tuple(device(a) for a in arrays)
        return tuple(self.replicate(a) for a in arrays)

    @staticmethod
    def local(tree):
        """Ordinary local arrays: inference after a multi-process fit is local."""
        if jax.process_count() == 1:
            return tree
        return jax.tree.map(lambda x: device(host(x)), tree)


# -- the compiled step and epoch loop ------------------------------------------------------------


class MiniBatch(NamedTuple):
    """One minibatch: the data rows, their weights ``(B,)`` and its length bucket."""

    data: Any
    weight: jax.Array
    bucket: jax.Array | int = 0


def _cut(data, length: int):
    return jax.tree.map(lambda a: a[:, :length] if a.ndim >= 2 else a, data)


def train_step(model, opt_state, batch: MiniBatch, key, *, objective: Callable,
               optimizer: optax.GradientTransformation,
               lengths: tuple[int, ...] | None = None):
    """One optimizer update: ``(model, opt_state, batch, key) -> (model, opt_state, loss)``.

    Pure. Inexact-array leaves of ``model`` are trained. With ``lengths`` the
    minibatch uses only the first ``lengths[batch.bucket]`` steps of its sequences
    (a ``lax.switch``: only the chosen branch runs, so a short minibatch costs
    short scans): the objective's ``truncate(data, length)`` cuts them, or, for an
    objective without one, every array of two or more axes is cut along axis 1.
    """
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def value_and_grad(length: int | None):
        def run(p, data):
            data = data if length is None else getattr(objective, "truncate", _cut)(
                data, length)
            return jax.value_and_grad(
                lambda q: objective(eqx.combine(q, static), data, batch.weight, key))(p)

        return run

    if lengths is None:
        loss, grads = value_and_grad(None)(params, batch.data)
    else:
        branches = [value_and_grad(length) for length in lengths]
        loss, grads = jax.lax.switch(batch.bucket, branches, params, batch.data)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return eqx.combine(eqx.apply_updates(params, updates), static), opt_state, loss


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _where(cond, a, b):
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


def _opt_init(params, *, optimizer: optax.GradientTransformation):
    """The optimizer's initial state: built on the host where the optimizer can
    (:meth:`~hiddenstate.optim.Optimizer.init_on_host`, no compiled program per model
    shape), else its ``init`` in one compiled call (not one small one per state leaf)."""
    if isinstance(optimizer, Optimizer):
        return optimizer.init_on_host(params)
    return _opt_init_compiled(params, optimizer=optimizer)


@eqx.filter_jit
def _opt_init_compiled(params, *, optimizer: optax.GradientTransformation):
    return optimizer.init(params)


@eqx.filter_jit
def _run_epochs(carry: _Carry, static, data, val_data, idx, weight, bucket, active, key_data, *,
                objective: Callable, optimizer: optax.GradientTransformation, full_batch: bool,
                patience: int, tol: float, precision: str | None,
                lengths: tuple[int, ...] | None):
    """Run the active epochs of ``active`` (``(E,)`` bool, a prefix); returns the new
    carry and per-epoch losses ``(E,)`` (NaN, and ``ran`` False, past the active ones).

    ``idx``/``weight`` are ``(E, n_batches, B)`` (or ``(E, 1, 1)`` dummies for a
    full batch), ``bucket`` is ``(E, n_batches)``. The numbers of ``objective`` and
    ``optimizer`` that are arrays (their hyperparameters) are run-time values.
    """
    has_val = val_data is not None
    key = jax.random.wrap_key_data(key_data)

    def guarded_step(c: _Carry, xs):
        # train_step, with the update masked out after a non-finite loss.
        b_idx, b_w, b_bucket, on = xs
        if full_batch:
            batch = MiniBatch(data, jnp.ones(jax.tree.leaves(data)[0].shape[0], jnp.float32))
        else:
            batch = MiniBatch(jax.tree.map(lambda a: a[b_idx], data), b_w, b_bucket)
        # A fresh key per update only for objectives that draw (noise, dropout).
        k = jax.random.fold_in(key, c.step) if getattr(objective, "uses_key", True) else key
        new_model, new_opt, loss = train_step(eqx.combine(c.params, static), c.opt_state, batch,
                                              k, objective=objective, optimizer=optimizer,
                                              lengths=lengths)
        # Only the loss per update: a reduction over the gradients kept XLA from fusing the
        # backward pass into the update and cost a fifth of a W2 step. A non-finite gradient
        # behind a finite loss is caught at the end of the epoch (see ``epoch``).
        finite = jnp.isfinite(loss)
        live = on & ~c.bad & ~c.stopped
        ok = live & finite
        c = dataclasses.replace(
            c,
            params=_where(ok, eqx.filter(new_model, eqx.is_inexact_array), c.params),
            opt_state=_where(ok, new_opt, c.opt_state),
            step=c.step + ok.astype(jnp.int32),
            bad=c.bad | (live & ~finite),
        )
        rows = jnp.sum(batch.weight) * live
        return c, (jnp.where(live, loss, 0.0) * rows, rows, live & ~finite)

    def validate(c: _Carry, ran):
        vw = jnp.ones(jax.tree.leaves(val_data)[0].shape[0], jnp.float32)
        val = objective(eqx.combine(c.params, static), val_data, vw,
                        jax.random.fold_in(key, 0x7FFFFFFF))
        improved = ran & ~c.bad & (val < c.best_val - tol)
        since = jnp.where(improved, 0, c.since_best + ran.astype(jnp.int32))
        return dataclasses.replace(
            c,
            best_params=_where(improved, c.params, c.best_params),
            best_val=jnp.where(improved, val, c.best_val),
            since_best=since,
            stopped=c.stopped | (since >= patience),
        ), val

    def epoch(c: _Carry, xs):
        e_idx, e_w, e_bucket, on = xs
        ons = jnp.broadcast_to(on, (e_idx.shape[0],))
        start = (c.params, c.opt_state)
        c, (wloss, rows, nonfinite) = jax.lax.scan(guarded_step, c, (e_idx, e_w, e_bucket, ons))
        # Parameters made non-finite by a gradient whose loss was finite: back to the
        # start of the epoch, and the run stops as diverged.
        sane = _all_finite((c.params, c.opt_state))
        c = dataclasses.replace(
            c,
            params=_where(sane, c.params, start[0]),
            opt_state=_where(sane, c.opt_state, start[1]),
            bad=c.bad | ~sane,
        )
        nonfinite = nonfinite | ~sane
        total = jnp.sum(rows)
        mean = jnp.where(jnp.any(nonfinite), jnp.nan, jnp.sum(wloss) / jnp.maximum(total, 1.0))
        ran = on & (total > 0)
        # The loss of the epoch's first minibatch, computed before its update.
        first = jnp.where(rows[0] > 0, wloss[0] / jnp.maximum(rows[0], 1.0), jnp.nan)
        c, val = validate(c, ran) if has_val else (c, jnp.nan)
        return c, (jnp.where(ran, mean, jnp.nan), jnp.where(ran, val, jnp.nan), ran,
                   first.astype(mean.dtype))

    nan = jnp.asarray(jnp.nan, jnp.float32)

    def maybe_epoch(c: _Carry, xs):
        return jax.lax.cond(xs[-1], epoch,
                            lambda c, xs: (c, (nan, nan, jnp.asarray(False), nan)), c, xs)

    def run_epoch(state):
        # A loop over the active epochs only (a run-time count, which XLA never unrolls):
        # how many epochs a call runs is not part of the compiled program.
        e, c, outs = state
        c, out = maybe_epoch(c, jax.tree.map(lambda a: a[e], (idx, weight, bucket, active)))
        return e + 1, c, tuple(o.at[e].set(v) for o, v in zip(outs, out, strict=True))

    width = active.shape[0]
    outs = (jnp.full(width, nan), jnp.full(width, nan), jnp.zeros(width, bool),
            jnp.full(width, nan))
    count = jnp.sum(active.astype(jnp.int32))
    with contextlib.nullcontext() if precision is None else jax.default_matmul_precision(
            precision):
        _, carry, outs = jax.lax.while_loop(lambda state: state[0] < count, run_epoch,
                                            (jnp.zeros((), jnp.int32), carry, outs))
    return carry, outs


def matmul_precision() -> str | None:
    """Precision of float32 matrix products in training: ``HIDDENSTATE_MATMUL_PRECISION``.

    Default ``"float32"``: full float32 on every backend, so a GPU (whose JAX
    default may round products to TF32 or bfloat16 passes) trains the same
    model as the CPU. ``"tensorfloat32"`` or ``"bfloat16"`` trade accuracy for
    speed on GPUs. XLA's CPU backend multiplies float32 in full float32 whatever
    the setting, so there it is not passed on (``None``).
    """
    value = os.environ.get("HIDDENSTATE_MATMUL_PRECISION", "float32")
    valid = ("float32", "tensorfloat32", "bfloat16", "highest", "high", "default")
    if value not in valid:
        raise ValueError(f"HIDDENSTATE_MATMUL_PRECISION={value!r}; valid: {', '.join(valid)}")
    if jax.default_backend() == "cpu":
        return None
    return value


# -- between compiled calls ----------------------------------------------------------------------


def _call_width(plan: BatchPlan) -> int:
    """Epochs one compiled call can run: about :data:`STEPS_PER_CALL` updates. A shape of
    the compiled loop, so it depends on the batch plan only, never on ``max_iter``."""
    return max(1, STEPS_PER_CALL // plan.steps_per_epoch)


def _epochs_per_call(plan: BatchPlan, wanted: int | None,
                     checkpointing: Checkpointing | None) -> int:
    wanted = _call_width(plan) if wanted is None else min(int(wanted), _call_width(plan))
    if checkpointing is not None:
        wanted = min(wanted, checkpointing.checkpointer.every)
    return max(1, int(wanted))


def _initial_carry(params, opt_state, step: int, validating: bool) -> _Carry:
    return _Carry(
        params=params,
        opt_state=opt_state,
        step=np.asarray(step, np.int32),
        bad=np.asarray(False),
        best_params=params if validating else None,
        best_val=np.asarray(np.inf, np.float32),
        since_best=np.asarray(0, np.int32),
        stopped=np.asarray(False),
    )


@dataclasses.dataclass
class _Run:
    """The mutable state of a run between compiled calls."""

    carry: _Carry
    history: History
    rng: np.random.Generator
    epochs_per_call: int
    checkpointing: Checkpointing | None
    done: int = 0
    saved_at: int = 0

    def resume(self) -> None:
        """Continue from the newest checkpoint, if asked and there is one."""
        if self.checkpointing is None or not self.checkpointing.resume:
            return
        found = self.checkpointing.checkpointer.latest(self.carry)
        if found is None:
            return
        self.carry, state = found
        self.done = self.saved_at = int(state["epoch"])
        self.history.loss = list(state["loss"])
        self.history.val_loss = list(state["val_loss"])
        initial = state.get("initial_loss")  # absent from checkpoints of earlier versions
        self.history.initial_loss = None if initial is None else float(initial)
        self.rng.bit_generator.state = state["rng"]
        self.epochs_per_call = int(state["epochs_per_call"])

    def checkpoint(self, *, force: bool = False) -> None:
        if self.checkpointing is None:
            return
        ckpt = self.checkpointing.checkpointer
        if force or self.done - self.saved_at >= ckpt.every:
            ckpt.save(self.carry, epoch=self.done, history=self.history, rng=self.rng,
                      epochs_per_call=self.epochs_per_call)
            self.saved_at = self.done

    def interrupted(self, rng_before) -> None:
        """Ctrl-C inside a call: save the state after the last finished call."""
        if self.checkpointing is not None and self.done > self.saved_at:
            self.rng.bit_generator.state = rng_before  # un-draw the lost call's orders
            self.checkpoint(force=True)

    def record(self, losses, vals, ran, firsts, validating: bool) -> None:
        ran = host(ran)
        if self.history.initial_loss is None and not self.history.loss and ran.any():
            self.history.initial_loss = float(host(firsts)[ran][0])
        self.history.loss.extend(float(x) for x in host(losses)[ran])
        if validating:
            self.history.val_loss.extend(float(x) for x in host(vals)[ran])


def _diverged_error(result: FitResult) -> DivergenceError:
    err = DivergenceError(
        f"training diverged: the loss became non-finite in epoch "
        f"{result.history.diverged_at + 1} (update {result.step + 1}); the parameters of the "
        "last finite update were kept. Lower the learning rate or set a gradient clip norm.",
        epoch=result.history.diverged_at,
    )
    err.result = result  # type: ignore[attr-defined]
    return err


def _finish(run: _Run, static, t0: float, step0: int, validating: bool) -> FitResult:
    carry, history = Placement.local(run.carry), run.history
    final = carry.params
    if validating and history.val_loss and np.isfinite(float(carry.best_val)):
        final = carry.best_params
        history.best_epoch = int(np.nanargmin(np.asarray(history.val_loss)))
    history.steps = int(carry.step) - int(step0)
    history.seconds = time.perf_counter() - t0
    result = FitResult(eqx.combine(final, static), carry.opt_state, history, int(carry.step))
    if history.diverged_at is not None:
        raise _diverged_error(result)
    return result


# -- the loop ------------------------------------------------------------------------------------


def fit(model, data, *, objective: Callable, optimizer: optax.GradientTransformation,
        max_iter: int, rng: np.random.Generator, key: jax.Array, plan: BatchPlan | None = None,
        early_stopping: EarlyStopping | None = None, checkpointing: Checkpointing | None = None,
        devices=None, progress: Progress | None = None, opt_state=None, step: int = 0,
        epochs_per_call: int | None = None) -> FitResult:
    """Train ``model`` on ``data`` (a pytree of ``(n, ...)`` arrays) for ``max_iter`` epochs.

    ``plan`` (default: full batch) says how rows become minibatches;
    ``rng`` draws their order, ``key`` is the base key (update ``t`` gets
    ``fold_in(key, t)``). ``opt_state``/``step`` continue a previous run.
    ``devices`` as :class:`Placement` (results agree with one device up to the
    order of float additions). ``epochs_per_call`` defaults to about
    :data:`STEPS_PER_CALL` updates. Returns a :class:`FitResult`; raises
    :class:`~hiddenstate.DivergenceError` whose ``result`` holds the last finite
    parameters when a loss or gradient became non-finite.
    """
    t0 = time.perf_counter()
    params, static = eqx.partition(model, eqx.is_inexact_array)
    if opt_state is None:
        opt_state = _opt_init(params, optimizer=optimizer)
    opt_state = device(opt_state)
    data = device(data)
    n = jax.tree.leaves(data)[0].shape[0]
    plan = BatchPlan.make(n) if plan is None else plan
    if plan.n != n:
        raise ValueError(f"the batch plan is for {plan.n} rows, the data has {n}")
    place = Placement(devices)
    val = None if early_stopping is None else place.replicate(
        device(early_stopping.validation_data))
    data = place.replicate(data)
    max_iter = int(max_iter)
    run = _Run(_initial_carry(place.replicate(params), place.replicate(opt_state), step,
                              val is not None),
               History(), rng, _epochs_per_call(plan, epochs_per_call, checkpointing),
               checkpointing)
    run.resume()
    run.carry = place.replicate(run.carry)
    bar = (progress or Progress()).start(max_iter, run.done)
    settings = dict(objective=objective, optimizer=optimizer,
                    full_batch=plan.full and not place.sharded,
                    patience=int(early_stopping.n_iter_no_change) if early_stopping else 10,
                    tol=float(early_stopping.tol) if early_stopping else 0.0,
                    precision=matmul_precision(), lengths=plan.lengths)
    key_data = jax.random.key_data(key)
    # Every call has room for the plan's width of epochs and runs ``todo`` of them (a
    # run-time count): runs of any length, checkpointed or not, and partial_fit's one
    # epoch share one compiled loop.
    width = max(_call_width(plan), run.epochs_per_call)
    try:
        while run.done < max_iter:
            todo = min(run.epochs_per_call, max_iter - run.done)
            rng_before = rng.bit_generator.state
            active = np.arange(width) < todo
            idx, w, bucket = plan.draw(rng, run.done, todo, width, gather_full=place.sharded)
            try:
                carry, (losses, vals, ran, firsts) = _run_epochs(
                    run.carry, static, data, val, *place.split_batches(idx, w),
                    *place.inputs(bucket, active, key_data), **settings)
                run.record(losses, vals, ran, firsts, val is not None)
            except KeyboardInterrupt:
                run.interrupted(rng_before)  # ``run.carry``: the state after the last call
                raise
            run.carry, run.done = carry, run.done + todo
            if bar is not None:
                bar[0].update(bar[1], completed=len(run.history.loss),
                              loss=run.history.loss[-1] if run.history.loss else float("nan"))
            if bool(host(carry.bad)):
                bad = np.flatnonzero(~np.isfinite(np.asarray(run.history.loss)))
                run.history.diverged_at = int(bad[0]) if bad.size else len(run.history.loss) - 1
                break
            stopped = bool(host(carry.stopped))
            run.checkpoint(force=run.done >= max_iter or stopped)
            if stopped:
                run.history.stopped_early = True
                break
    finally:
        if bar is not None:
            bar[0].stop()
    return _finish(run, static, t0, step, val is not None)
