"""The one training loop every hiddenstate model uses.

A model is an Equinox module; an *objective* is a hashable callable
``objective(model, batch, weight, key) -> scalar`` where ``batch`` is a pytree
of arrays with a leading batch axis, ``weight`` is ``(B,)`` with 1 for real
rows and 0 for padding, and ``key`` is a fresh PRNG key for this update.

Compilation: several epochs run inside one compiled call (``lax.scan`` over
epochs, each a ``lax.scan`` over minibatches; a full-batch epoch is one
step). The number of epochs per call is fixed for a run and surplus epochs of
the last call are masked off, so a run compiles exactly once, and a second run
with the same shapes, objective and optimizer compiles not at all.

Safety: a non-finite loss leaves the parameters and optimizer state untouched
(the update is masked inside the compiled step) and freezes the run; parameters
that a non-finite gradient behind a finite loss made non-finite are rolled back
to the start of that epoch. Either way :func:`fit` raises
:class:`~hiddenstate.DivergenceError` carrying the last finite model.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ._errors import DivergenceError
from .distributed import host, put

__all__ = ["History", "FitResult", "fit", "split_validation", "data_mesh", "STEPS_PER_CALL"]

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


def _all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.asarray(True)


def _where(cond, a, b):
    return jax.tree.map(lambda x, y: jnp.where(cond, x, y), a, b)


@eqx.filter_jit
def _opt_init(params, *, optimizer: optax.GradientTransformation):
    # One compiled call instead of one small compilation per state leaf.
    return optimizer.init(params)


@eqx.filter_jit
def _run_epochs(
    carry: _Carry,
    static,
    data,
    val_data,
    idx,
    weight,
    bucket,
    active,
    key_data,
    *,
    objective: Callable,
    optimizer: optax.GradientTransformation,
    full_batch: bool,
    patience: int,
    tol: float,
    precision: str | None,
    lengths: tuple[int, ...] | None,
):
    """Run ``active.shape[0]`` epochs; returns the new carry and per-epoch losses.

    ``idx``/``weight`` are ``(E, n_batches, B)`` (or ``(E, 1, 1)`` dummies for a
    full batch), ``bucket`` is ``(E, n_batches)``: minibatch ``j`` of epoch ``e``
    uses the first ``lengths[bucket[e, j]]`` steps (axis 1) of every data leaf
    with two or more axes (``lengths=None``: all of them). ``active`` is ``(E,)``
    bool: masked epochs change nothing and are skipped.
    """
    has_val = val_data is not None
    key = jax.random.wrap_key_data(key_data)

    def loss_of(params, batch, w, k):
        return objective(eqx.combine(params, static), batch, w, k)

    grad_fn = jax.value_and_grad(loss_of)

    def bucket_grad(length: int):
        def run(params, batch, w, k):
            batch = jax.tree.map(lambda a: a[:, :length] if a.ndim >= 2 else a, batch)
            return grad_fn(params, batch, w, k)

        return run

    def step(c: _Carry, xs):
        b_idx, b_w, b_bucket, on = xs
        if full_batch:
            batch = data
            w = jnp.ones(jax.tree.leaves(data)[0].shape[0], jnp.float32)
        else:
            batch = jax.tree.map(lambda a: a[b_idx], data)
            w = b_w
        # A fresh key per update only for objectives that draw (noise, dropout).
        k = jax.random.fold_in(key, c.step) if getattr(objective, "uses_key", True) else key
        if lengths is None:
            loss, grads = grad_fn(c.params, batch, w, k)
        else:
            # Only the chosen branch runs: a short minibatch costs short scans.
            branches = [bucket_grad(length) for length in lengths]
            loss, grads = jax.lax.switch(b_bucket, branches, c.params, batch, w, k)
        updates, new_opt = optimizer.update(grads, c.opt_state, c.params)
        new_params = eqx.apply_updates(c.params, updates)
        # Only the loss per update: a reduction over the gradients kept XLA from fusing the
        # backward pass into the update and cost a fifth of a W2 step. A non-finite gradient
        # behind a finite loss is caught at the end of the epoch (see ``epoch``).
        finite = jnp.isfinite(loss)
        live = on & ~c.bad & ~c.stopped
        ok = live & finite
        params = _where(ok, new_params, c.params)
        opt_state = _where(ok, new_opt, c.opt_state)
        c = dataclasses.replace(
            c,
            params=params,
            opt_state=opt_state,
            step=c.step + ok.astype(jnp.int32),
            bad=c.bad | (live & ~finite),
        )
        rows = jnp.sum(w) * live
        return c, (jnp.where(live, loss, 0.0) * rows, rows, live & ~finite)

    def epoch(c: _Carry, xs):
        e_idx, e_w, e_bucket, on = xs
        n_b = e_idx.shape[0]
        ons = jnp.broadcast_to(on, (n_b,))
        start = (c.params, c.opt_state)
        c, (wloss, rows, nonfinite) = jax.lax.scan(step, c, (e_idx, e_w, e_bucket, ons))
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
        if has_val:
            vw = jnp.ones(jax.tree.leaves(val_data)[0].shape[0], jnp.float32)
            val = loss_of(c.params, val_data, vw, jax.random.fold_in(key, 0x7FFFFFFF))
            improved = ran & ~c.bad & (val < c.best_val - tol)
            since = jnp.where(improved, 0, c.since_best + ran.astype(jnp.int32))
            c = dataclasses.replace(
                c,
                best_params=_where(improved, c.params, c.best_params),
                best_val=jnp.where(improved, val, c.best_val),
                since_best=since,
                stopped=c.stopped | (since >= patience),
            )
        else:
            val = jnp.nan
        return c, (jnp.where(ran, mean, jnp.nan), jnp.where(ran, val, jnp.nan), ran)

    def maybe_epoch(c: _Carry, xs):
        # The surplus epochs of a run's last call cost nothing.
        nan = jnp.asarray(jnp.nan, jnp.float32)
        return jax.lax.cond(xs[-1], epoch, lambda c, xs: (c, (nan, nan, jnp.asarray(False))),
                            c, xs)

    if precision is None:
        return jax.lax.scan(maybe_epoch, carry, (idx, weight, bucket, active))
    with jax.default_matmul_precision(precision):
        return jax.lax.scan(maybe_epoch, carry, (idx, weight, bucket, active))


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


def _batch_plan(n: int, batch_size: int | None) -> tuple[bool, int, int]:
    """(full_batch, batch size, batches per epoch)."""
    if batch_size is None or batch_size >= n:
        return True, n, 1
    return False, int(batch_size), math.ceil(n / batch_size)


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


def fit(
    model,
    data,
    *,
    objective: Callable,
    optimizer: optax.GradientTransformation,
    max_iter: int,
    rng: np.random.Generator,
    key: jax.Array,
    batch_size: int | None = None,
    shuffle: bool = True,
    opt_state=None,
    step: int = 0,
    validation_data=None,
    n_iter_no_change: int = 10,
    tol: float = 0.0,
    verbose: bool | int = False,
    description: str = "training",
    epochs_per_call: int | None = None,
    checkpointer=None,
    resume: bool = False,
    devices=None,
    buckets: tuple[np.ndarray, tuple[int, ...]] | None = None,
    curriculum: tuple[int, np.ndarray] | None = None,
) -> FitResult:
    """Train ``model`` on ``data`` for ``max_iter`` epochs.

    Parameters
    ----------
    model : eqx.Module
        Inexact-array leaves are trained; everything else is static.
    data : pytree of arrays, each ``(n, ...)``
        Rows are examples; minibatches gather the same rows from every leaf.
    objective : hashable callable ``(model, batch, weight, key) -> scalar``
        The loss of a minibatch; it must honour ``weight`` (0 marks padding).
    optimizer : optax.GradientTransformation
    max_iter : int
        Epochs. A full-batch epoch is one update.
    rng : numpy.random.Generator
        Draws the minibatch order of every epoch.
    key : jax PRNG key
        Base key; update ``t`` receives ``fold_in(key, t)`` (noise, dropout).
    batch_size : int or None
        ``None`` (or ``>= n``) trains full-batch.
    shuffle : bool
        Reshuffle the rows every epoch (else minibatches in order).
    opt_state, step : optional
        Resume from this optimizer state and global update count.
    validation_data : pytree or None
        With it, training stops once the validation loss has not improved by
        ``tol`` for ``n_iter_no_change`` epochs, and the best parameters are
        returned.
    verbose : bool or int
        Show a rich progress bar.
    epochs_per_call : int or None
        Epochs per compiled call (default: about :data:`STEPS_PER_CALL` updates).
    checkpointer : hiddenstate.checkpoint.Checkpointer or None
        Write the whole training state every ``checkpointer.every`` epochs and
        when interrupted (KeyboardInterrupt), atomically.
    resume : bool
        Continue from the newest checkpoint of ``checkpointer`` (same settings):
        the run then ends with the same parameters, bit for bit, as one that
        was never interrupted.
    devices : None, int or sequence of jax devices
        Data parallelism: every minibatch is split over a 1-D ``jax.sharding``
        mesh of these devices (``None``: all visible devices; an int: the first
        that many), parameters and data are replicated, and XLA all-reduces the
        gradients. The minibatches are the same as on one device, so results
        agree with a one-device run up to the order of float additions.
    buckets : (row_bucket, lengths) or None
        Length buckets for padded sequences: ``row_bucket`` ``(n,)`` gives each
        row's bucket and ``lengths`` each bucket's length. Every minibatch then
        holds rows of one bucket and sees only the first ``lengths[b]`` steps
        (axis 1) of each data leaf with two or more axes, so short sequences cost
        short scans. The whole epoch stays one compiled loop (a ``lax.switch``
        over the buckets). Ignored for full-batch training.
    curriculum : (epochs, difficulty) or None
        With ``buckets``: the first ``epochs`` epochs of the run go from the
        easiest rows to the hardest (``difficulty`` ``(n,)``, e.g. sequence
        lengths; ties in random order); later epochs as ``shuffle`` says.

    Returns
    -------
    FitResult

    Raises
    ------
    DivergenceError
        A non-finite loss or gradient appeared. ``err.result`` holds the
        :class:`FitResult` with the last finite parameters.
    """
    t0 = time.perf_counter()
    params, static = eqx.partition(model, eqx.is_inexact_array)
    if opt_state is None:
        opt_state = _opt_init(params, optimizer=optimizer)
    data = jax.tree.map(jnp.asarray, data)
    n = jax.tree.leaves(data)[0].shape[0]
    if n == 0:
        raise ValueError("cannot train on 0 examples")
    full, bsz, n_batches = _batch_plan(n, batch_size)
    lengths = None
    if buckets is not None and not full:
        row_bucket = np.asarray(buckets[0])
        lengths = tuple(int(x) for x in buckets[1])
        if row_bucket.shape != (n,) or not 0 <= row_bucket.min() <= row_bucket.max() < len(
                lengths):
            raise ValueError(f"buckets: need one bucket in [0, {len(lengths)}) per row of the {n}")
        n_batches = sum(-(-int(np.sum(row_bucket == b)) // bsz) for b in range(len(lengths)))
    if curriculum is not None and curriculum[0] > 0 and lengths is None and not full:
        raise ValueError("a curriculum needs length buckets")
    if validation_data is not None:
        validation_data = jax.tree.map(jnp.asarray, validation_data)
    mesh = data_mesh(devices)
    shard_pad = 0
    if mesh is not None:
        # The full batch becomes one minibatch of all rows; each minibatch is padded
        # (weight 0) to a multiple of the device count and split over the devices.
        shard_pad = -bsz % mesh.size
        replicated = NamedSharding(mesh, PartitionSpec())
        data = put(data, replicated)
        if validation_data is not None:
            validation_data = put(validation_data, replicated)
        params = put(params, replicated)
        opt_state = put(opt_state, replicated)
    key_data = jax.random.key_data(key)
    max_iter = int(max_iter)
    if epochs_per_call is None:
        per = max(1, STEPS_PER_CALL // n_batches)
        calls = max(1, math.ceil(max_iter / per))
        epochs_per_call = max(1, math.ceil(max_iter / calls))
    if checkpointer is not None:
        epochs_per_call = min(epochs_per_call, checkpointer.every)
    epochs_per_call = max(1, min(int(epochs_per_call), max(max_iter, 1)))

    carry = _Carry(
        params=params,
        opt_state=opt_state,
        step=np.asarray(step, np.int32),
        bad=np.asarray(False),
        best_params=params if validation_data is not None else None,
        best_val=np.asarray(np.inf, np.float32),
        since_best=np.asarray(0, np.int32),
        stopped=np.asarray(False),
    )
    history = History()
    done = 0
    if checkpointer is not None and resume:
        found = checkpointer.latest(carry)
        if found is not None:
            carry, state = found
            done = int(state["epoch"])
            history.loss = list(state["loss"])
            history.val_loss = list(state["val_loss"])
            rng.bit_generator.state = state["rng"]
            epochs_per_call = int(state["epochs_per_call"])
    saved_at = done
    if mesh is not None:
        carry = put(carry, replicated)
    progress = _progress(verbose, description, max_iter)
    if progress is not None and done:
        progress[0].update(progress[1], completed=done)

    def checkpoint() -> None:
        checkpointer.save(
            carry, epoch=done, history=history, rng=rng, epochs_per_call=epochs_per_call
        )

    try:
        while done < max_iter:
            todo = min(epochs_per_call, max_iter - done)
            rng_before = rng.bit_generator.state
            active = np.zeros(epochs_per_call, bool)
            active[:todo] = True
            bucket = np.zeros((epochs_per_call, n_batches), np.int32)
            if full and mesh is None:
                idx = np.zeros((epochs_per_call, 1, 1), np.int32)
                w = np.ones((epochs_per_call, 1, 1), np.float32)
            elif full:
                idx = np.broadcast_to(np.arange(n, dtype=np.int32), (epochs_per_call, 1, n))
                w = np.ones((epochs_per_call, 1, n), np.float32)
            else:
                if lengths is None:
                    idx, w = _epoch_indices(n, bsz, n_batches, todo, rng, shuffle)
                else:
                    idx, w = [], []
                    for e in range(todo):
                        easy = done + e < curriculum[0] if curriculum is not None else False
                        i_e, w_e, bucket[e] = _bucket_epoch_indices(
                            row_bucket, len(lengths), bsz, 1, rng, shuffle,
                            np.asarray(curriculum[1]) if easy else None)
                        idx.append(i_e)
                        w.append(w_e)
                    idx, w = np.concatenate(idx), np.concatenate(w)
                if todo < epochs_per_call:
                    pad = epochs_per_call - todo
                    idx = np.concatenate([idx, np.zeros((pad, *idx.shape[1:]), np.int32)])
                    w = np.concatenate([w, np.zeros((pad, *w.shape[1:]), np.float32)])
            if shard_pad:
                pad = ((0, 0), (0, 0), (0, shard_pad))
                idx, w = np.pad(idx, pad), np.pad(w, pad)
            idx, w = jnp.asarray(idx), jnp.asarray(w)
            if mesh is not None:
                split = NamedSharding(mesh, PartitionSpec(None, None, "data"))
                idx, w = put(idx, split), put(w, split)
            try:
                new_carry, (losses, vals, ran) = _run_epochs(
                    carry,
                    static,
                    data,
                    validation_data,
                    idx,
                    w,
                    jnp.asarray(bucket) if mesh is None else put(bucket, replicated),
                    jnp.asarray(active) if mesh is None else put(active, replicated),
                    key_data if mesh is None else put(key_data, replicated),
                    objective=objective,
                    optimizer=optimizer,
                    full_batch=full and mesh is None,
                    patience=int(n_iter_no_change),
                    tol=float(tol),
                    precision=matmul_precision(),
                    lengths=lengths,
                )
                ran = host(ran)
            except KeyboardInterrupt:
                # ``carry`` is still the state after the last finished call.
                if checkpointer is not None and done > saved_at:
                    rng.bit_generator.state = rng_before  # un-draw the lost call's orders
                    checkpoint()
                raise
            carry = new_carry
            losses = host(losses)[ran]
            history.loss.extend(float(x) for x in losses)
            if validation_data is not None:
                history.val_loss.extend(float(x) for x in host(vals)[ran])
            done += todo
            if progress is not None:
                last = history.loss[-1] if len(losses) else float("nan")
                progress[0].update(progress[1], completed=len(history.loss), loss=last)
            if bool(host(carry.bad)):
                bad = np.flatnonzero(~np.isfinite(np.asarray(history.loss)))
                history.diverged_at = int(bad[0]) if bad.size else len(history.loss) - 1
                break
            if checkpointer is not None and (
                done - saved_at >= checkpointer.every
                or done >= max_iter
                or bool(host(carry.stopped))
            ):
                checkpoint()
                saved_at = done
            if bool(host(carry.stopped)):
                history.stopped_early = True
                break
    finally:
        if progress is not None:
            progress[0].stop()

    if jax.process_count() > 1:
        # Hand back ordinary local arrays: inference after a multi-process fit is local.
        carry = jax.tree.map(lambda x: jnp.asarray(host(x)), carry)
    final_params = carry.params
    if validation_data is not None and history.val_loss and np.isfinite(float(carry.best_val)):
        final_params = carry.best_params
        history.best_epoch = int(np.nanargmin(np.asarray(history.val_loss)))
    history.steps = int(carry.step) - int(step)
    history.seconds = time.perf_counter() - t0
    result = FitResult(
        model=eqx.combine(final_params, static),
        opt_state=carry.opt_state,
        history=history,
        step=int(carry.step),
    )
    if history.diverged_at is not None:
        err = DivergenceError(
            f"training diverged: the loss became non-finite in epoch {history.diverged_at + 1} "
            f"(update {int(carry.step) + 1}); the parameters of the last finite update were "
            "kept. Lower the learning rate or set a gradient clip norm.",
            epoch=history.diverged_at,
        )
        err.result = result  # type: ignore[attr-defined]
        raise err
    return result


def _progress(verbose, description: str, total: int):
    if not verbose:
        return None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs  loss {task.fields[loss]:.4g}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    task = progress.add_task(description, total=total, loss=float("nan"))
    progress.start()
    return progress, task
