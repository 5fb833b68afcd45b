"""The estimator template: the one fit skeleton and the checks every estimator shares.

:class:`TrainingMixin._fit` is the training skeleton (in the shape of
scikit-learn's ``BaseMultilayerPerceptron._fit(X, y, incremental)``): seed and
Generator, checkpoints, validation split, batch plan, optimizer and its
schedule length, the call to :func:`hiddenstate.train.fit`, divergence
handling and the convergence warning. An estimator supplies only what is its
own:

- ``_prepare(X, y, *, reset, **fit_params) -> TrainingData``: validate and
  encode the data (with ``reset``, also learn what the data defines:
  ``n_features_in_``, an alphabet, a vocabulary, the classes);
- ``_new_model(key)``: a fresh network for the attributes ``_prepare`` set;
- ``_objective()``: the training loss (:mod:`hiddenstate.objectives`);
- optionally ``_check_settings()`` (cross-parameter checks),
  ``_after_train(data)`` (e.g. a classifier on the learned features) and
  ``_target_variance(data)`` (the variance of real-valued targets, for the warning
  when a fit ends with a mean squared error many times it).

Model files (save and load, and their hooks) are :class:`._files.ModelFileMixin`,
which :class:`TrainingMixin` inherits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from numbers import Integral
from typing import Any

import numpy as np

from .._errors import DivergenceError, InputError
from ..optim import make_optimizer
from ._files import ModelFileMixin
from ._params import TRAINING_CONSTRAINTS, check_cell_options

__all__ = ["TrainingMixin", "IncrementalMixin", "TrainingData", "check_finite",
           "TRAINING_CONSTRAINTS"]

#: Parameters that do not change what a run computes (left out of checkpoint settings).
_NOT_SETTINGS = {
    "verbose",
    "checkpoint_dir",
    "checkpoint_every",
    "resume",
    "warm_start",
    "devices",
}



def _same_on_every_process(seed: int) -> int:
    """``seed`` of process 0 on every process of a multi-process run (itself otherwise)."""
    import jax

    if jax.process_count() == 1:
        return int(seed)
    from jax.experimental import multihost_utils

    halves = np.array([seed & 0xFFFFFFFF, (seed >> 32) & 0xFFFFFFFF], np.uint32)
    got = np.asarray(multihost_utils.broadcast_one_to_all(halves)).astype(np.uint64)
    return int(got[0]) | (int(got[1]) << 32)


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning issued by the caller of this function
    point at the first frame outside hiddenstate and scikit-learn: the user's own call
    (``est.fit(X)``, ``pipeline.fit(X)``), whatever the chain of calls inside."""
    import sys

    inside = (os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,
              os.path.dirname(os.path.abspath(sys.modules["sklearn"].__file__)) + os.sep
              if "sklearn" in sys.modules else "\0")
    level, frame = 2, sys._getframe(2)  # level 1: the caller, which issues the warning
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        frame, level = frame.f_back, level + 1
    return level


def check_finite(
    X: np.ndarray, name: str = "X", columns=None, *, row_offset: int = 0, path=None
) -> None:
    """Raise :class:`InputError` naming the first row and column holding NaN or inf, or
    (float64 data) a finite value beyond float32's range, which training's cast would
    turn into inf.

    ``row_offset`` is added to the row (for blocks of a larger file, named by ``path``).
    """
    finite = np.isfinite(X)
    if finite.all():
        from .._limits import check_float32

        check_float32(X, name, path=path, row_offset=row_offset)
        return
    flat = int(np.flatnonzero(~finite.reshape(-1))[0])
    row, col = divmod(flat, X.shape[1]) if X.ndim == 2 else (flat, None)
    value = X.reshape(-1)[flat]
    what = "NaN" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    col_name = f" ({columns[col]!r})" if columns is not None and col is not None else ""
    raise InputError(
        f"{name} contains {what} at row {row + row_offset}, column {col}{col_name}; "
        "remove or impute non-finite values first (e.g. sklearn.impute.SimpleImputer)",
        path=path,
    )


@dataclasses.dataclass
class TrainingData:
    """What an estimator's ``_prepare`` hands the template.

    ``data`` is a pytree of ``(n, ...)`` arrays (the rows the objective sees);
    ``buckets`` ``(row_bucket (n,), lengths)`` and ``difficulty`` ``(n,)`` (the
    curriculum's order) are optional; ``extra`` is anything the estimator's
    ``_after_train`` needs (it is not split for validation).
    """

    data: Any
    buckets: tuple[np.ndarray, tuple[int, ...]] | None = None
    difficulty: np.ndarray | None = None
    extra: Any = None

    @property
    def n(self) -> int:
        import jax

        return int(jax.tree.leaves(self.data)[0].shape[0])

    def rows(self, idx: np.ndarray) -> TrainingData:
        """The rows ``idx`` (data, buckets and difficulty alike)."""
        import jax

        buckets = None if self.buckets is None else (self.buckets[0][idx], self.buckets[1])
        return TrainingData(jax.tree.map(lambda a: a[idx], self.data), buckets,
                            None if self.difficulty is None else self.difficulty[idx], self.extra)

    def fingerprint(self) -> dict:
        """Shape and hash of the data, so a checkpoint of other data is refused."""
        import hashlib

        import jax

        leaves = [np.ascontiguousarray(a) for a in jax.tree.leaves(self.data)]
        digest = hashlib.blake2b(digest_size=16)
        for leaf in leaves:
            digest.update(leaf.view(np.uint8))
        return {"shape": list(leaves[0].shape), "blake2b": digest.hexdigest()}


class TrainingMixin(ModelFileMixin):
    """The fit skeleton (the files: :class:`ModelFileMixin`); subclasses keep the sklearn
    parameters listed in TRAINING_CONSTRAINTS and fill in the hooks named in the module
    docstring."""

    #: Whether ``tol`` compares absolute loss changes (a cross-entropy in nats, as
    #: scikit-learn's MLPClassifier does) rather than relative ones.
    _absolute_tol = False

    # -- hooks with defaults -------------------------------------------------------------------
    def _parameter_estimate(self) -> int | None:
        """The network's parameter count from the settings and what ``_prepare`` learned,
        before anything is built (None: not estimated here)."""
        return None

    def _check_model_memory(self) -> None:
        n = self._parameter_estimate()
        if n is not None:
            from .._limits import check_memory

            check_memory(n, f"this {type(self).__name__}")

    def _check_settings(self) -> None:
        self._validate_params()
        check_cell_options(self)

    def _after_train(self, data: TrainingData) -> None:
        """Called after training, also after a divergence (with the last finite model)."""

    def _curriculum(self) -> int:
        return 0

    def _for_training(self, tree):
        """The network, or the optimizer state of its parameters (a pytree of the same
        modules), as training gets it: settings that are static fields of the fitted
        network but run-time values of the compiled programs (dropout rates) replaced by
        stand-ins. ``_fitted_network`` turns the trained network back."""
        return tree

    def _fitted_network(self, model):
        return model

    def _description(self) -> str:
        return type(self).__name__

    # -- the skeleton --------------------------------------------------------------------------
    def _fit(self, X, y=None, *, incremental: bool = False, **fit_params):
        """Train: a fresh fit, a warm start (``warm_start``) or one epoch (``incremental``).

        All or nothing: if the call raises anything but the DivergenceError of a run
        stored whole (bad input found late, Ctrl-C, a refused checkpoint folder, a
        failing ``_after_train``), the estimator is left exactly as before the call.
        A run that diverges stores its last finite model (``_after_train`` included)
        and then raises DivergenceError; see :meth:`_check_blow_up` for a loss that
        stays finite but ends far above where it began.
        """
        before = dict(self.__dict__)
        rng = before.get("_rng")
        rng_state = rng.bit_generator.state if isinstance(rng, np.random.Generator) else None
        try:
            return self._fit_once(X, y, incremental=incremental, **fit_params)
        except DivergenceError as err:
            if getattr(err, "stored", False):
                raise
            self._restore_state(before, rng, rng_state)
            raise
        except BaseException:
            self._restore_state(before, rng, rng_state)
            raise

    def _restore_state(self, before: dict, rng, rng_state) -> None:
        self.__dict__.clear()
        self.__dict__.update(before)
        if rng_state is not None:  # the Generator is advanced in place by a continued run
            rng.bit_generator.state = rng_state

    def _fit_once(self, X, y=None, *, incremental: bool = False, **fit_params):
        fitted = hasattr(self, "model_")
        continuing = fitted and (incremental or bool(self.warm_start))
        self._check_settings()
        prepared = self._prepare(X, y, reset=not continuing, **fit_params)
        if continuing or incremental:
            self._no_checkpoints("continues a fitted model" if continuing else "is partial_fit")
        with contextlib.ExitStack() as stack:
            if continuing:
                rng, checkpointing = self._rng, None
                model, opt_state, step = self.model_, self._opt_state, self._step
            else:
                self._check_model_memory()
                seed = self._run_seed()
                rng = np.random.default_rng(seed)
                checkpointing = None if incremental else self._checkpointing(prepared, seed)
                model, opt_state, step = self._new_model(self._key(rng)), None, 0
            if not incremental:  # (a partial_fit's one epoch is checked when it is saved)
                self._check_file_sizes(model, int(self.max_iter), None if checkpointing is None
                                       else checkpointing.checkpointer.settings)
            if checkpointing is not None:
                self._claim(checkpointing.checkpointer, stack, model)
            train_key = self._key(rng)
            training, stopping = self._split(prepared, rng, incremental)
            plan = self._plan(training, curriculum=0 if continuing else self._curriculum())
            from .. import train

            diverged = None
            try:
                result = train.fit(
                    self._for_training(model), training.data, objective=self._objective(),
                    optimizer=self._optimizer(plan.steps_per_epoch),
                    max_iter=1 if incremental else int(self.max_iter), rng=rng, key=train_key,
                    plan=plan, early_stopping=stopping, checkpointing=checkpointing,
                    devices=self.devices,
                    progress=train.Progress(self.verbose, self._description()),
                    opt_state=self._for_training(opt_state), step=step,
                    epochs_per_call=1 if incremental else None)
            except DivergenceError as err:
                diverged, result = err, err.result  # type: ignore[attr-defined]
        try:
            self._store(result, rng, prepared, append=incremental and fitted)
        except Exception as exc:
            if diverged is not None:  # not stored whole: _fit puts the previous state back
                raise diverged from exc
            raise
        if diverged is None and not incremental:
            diverged = self._check_blow_up(result, self._target_variance(prepared))
        if diverged is not None:
            diverged.stored = True  # type: ignore[attr-defined]
            raise diverged
        if not incremental:
            self._warn_convergence(result.history)
            self._warn_loss_variance(result.history, prepared)
        return self

    #: A run whose last epoch's loss is more than this many times its start (the
    #: untrained model's loss on the first minibatch, or the first epoch's loss) has
    #: blown up: DivergenceError (see _check_blow_up).
    _BLOW_UP_RATIO = 1e3

    def _check_blow_up(self, result, variance: float | None = None) -> DivergenceError | None:
        """The documented rule for a loss that stayed finite but exploded: when this fit's
        last epoch loss exceeds :attr:`_BLOW_UP_RATIO` times its start - the smaller of
        the untrained model's loss on the first minibatch (before any update) and the
        first epoch's mean loss, each counted when finite and > 0 - the run is kept
        (stored whole, as after a non-finite divergence) and DivergenceError is raised.
        (A first epoch alone can hold the whole blow-up: Adam at a learning rate of 1e6
        reaches 1e24 within it.) A squared error still below 1/:attr:`_BLOW_UP_RATIO` of
        the targets' ``variance`` (:meth:`_target_variance`, when known) has not blown
        up, however small its start: a forecaster whose linear path starts it near 0
        (5e-14 on a smooth series) may move to 1e-7 and still predict almost exactly."""
        loss = [float(x) for x in result.history.loss]
        initial = getattr(result.history, "initial_loss", None)
        starts = [(x, what) for x, what in ((initial, "the untrained model's first minibatch"),
                                            (loss[0] if len(loss) > 1 else None, "epoch 1"))
                  if x is not None and np.isfinite(x) and x > 0]
        if not loss or not starts or not np.isfinite(loss[-1]):
            return None
        start, what = min(starts)
        if loss[-1] <= self._BLOW_UP_RATIO * start:
            return None
        if variance is not None and np.isfinite(variance) and \
                loss[-1] * self._BLOW_UP_RATIO <= variance:
            return None
        err = DivergenceError(
            f"training diverged: the loss grew from {start:.4g} ({what}) to "
            f"{loss[-1]:.4g} in epoch {len(loss)}, more than {self._BLOW_UP_RATIO:g} times "
            "its start; the parameters of the last epoch were kept. Lower the learning rate "
            "or set a gradient clip norm.", epoch=len(loss) - 1)
        err.result = result  # type: ignore[attr-defined]
        return err

    @staticmethod
    def _claim(checkpointer, stack: contextlib.ExitStack, model) -> None:
        """Hold the checkpoint folder for this run (one writing process of a run), before
        training: refused if another run holds it, if it holds another run's checkpoints,
        or if it has no room for two checkpoints (parameters and an optimizer state of
        up to twice their size)."""
        import equinox as eqx
        import jax

        if jax.process_index() != 0:
            return
        params = jax.tree.leaves(eqx.filter(model, eqx.is_inexact_array))
        size = sum(int(np.prod(p.shape)) * p.dtype.itemsize for p in params)
        checkpointer.acquire(expected_bytes=3 * size + 65536)
        stack.callback(checkpointer.release)

    def _no_checkpoints(self, why: str) -> None:
        if self.checkpoint_dir is not None:
            warnings.warn(
                f"{type(self).__name__}: checkpoint_dir applies to a fresh fit; this call {why} "
                "and writes no checkpoints (save() the model between calls instead)",
                UserWarning, stacklevel=4)

    def _split(self, prepared: TrainingData, rng, incremental: bool):
        """(training rows, EarlyStopping or None): hold out ``validation_fraction``."""
        if not self.early_stopping or incremental:
            return prepared, None
        from .. import train

        tr, va = train.split_validation(prepared.n, self.validation_fraction, rng)
        stopping = train.EarlyStopping(prepared.rows(va).data, int(self.n_iter_no_change),
                                       float(self.tol))
        return prepared.rows(tr), stopping

    def _plan(self, training: TrainingData, *, curriculum: int):
        from .. import train

        difficulty = training.difficulty
        return train.BatchPlan.make(
            training.n, self._resolve_batch_size(training.n), shuffle=bool(self.shuffle),
            buckets=training.buckets,
            curriculum=None if difficulty is None else (curriculum, difficulty))

    def _store(self, result, rng, prepared: TrainingData, *, append: bool) -> None:
        self.model_ = self._fitted_network(result.model)
        self._opt_state = result.opt_state
        self._step = result.step
        self._rng = rng
        self._record(result.history, append=append)
        self._after_train(prepared)

    # -- randomness, settings ------------------------------------------------------------------
    def _numpy_rng(self) -> np.random.Generator:
        """The Generator that drives this fit (kept across warm starts and partial_fit)."""
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            seed = int(rs.randint(0, 2**31 - 1))
        elif rs is None:
            seed = None
        else:
            seed = int(rs)
        return np.random.default_rng(seed)

    def _run_seed(self) -> int:
        """The integer seed of a fresh run (a resumed run reuses its checkpoint's).

        In a run of several processes (``jax.distributed``) every process must start
        from the same parameters and draw the same minibatches: a seed that is not a
        given integer (``random_state=None`` or a RandomState) is process 0's, sent to
        all the others.
        """
        rs = self.random_state
        if isinstance(rs, Integral) and not isinstance(rs, bool):
            return int(rs)
        return _same_on_every_process(self._drawn_seed())

    def _drawn_seed(self) -> int:
        rs = self.random_state
        if rs is None and self.checkpoint_dir is not None and self.resume:
            from ..checkpoint import Checkpointer

            state = Checkpointer(self.checkpoint_dir).peek()
            if state is not None and "seed" in state.get("settings", {}):
                return int(state["settings"]["seed"])
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        return int(np.random.SeedSequence().entropy % (2**32))  # a valid random_state

    def _checkpointing(self, prepared: TrainingData, seed: int):
        """Checkpoint settings for this run, or None (no checkpoint_dir)."""
        if self.checkpoint_dir is None:
            return None
        from ..checkpoint import Checkpointer
        from ..train import Checkpointing

        params = self._checkpoint_params()
        params["random_state"] = None  # the seed below stands for it
        settings = {
            "estimator": type(self).__name__,
            "params": params,
            "seed": seed,
            "data": prepared.fingerprint(),
        }
        checkpointer = Checkpointer(self.checkpoint_dir, every=self.checkpoint_every,
                                    settings=settings)
        return Checkpointing(checkpointer, resume=bool(self.resume))

    def _checkpoint_params(self) -> dict:
        """The settings a checkpoint records (JSON values): those that change what a run
        computes. A resumed run with other settings is refused."""
        return {k: v for k, v in self.get_params(deep=False).items()
                if k not in _NOT_SETTINGS}

    @staticmethod
    def _key(rng: np.random.Generator):
        import jax

        return jax.random.key(int(rng.integers(0, 2**31 - 1)))

    def _resolve_batch_size(self, n: int) -> int | None:
        if self.batch_size is None:
            return None
        if self.batch_size == "auto":
            return min(32, n)
        return min(int(self.batch_size), n)

    def _optimizer(self, steps_per_epoch: int):
        return make_optimizer(
            self.optimizer,
            float(self.learning_rate),
            momentum=float(self.momentum),
            schedule=self.learning_rate_schedule,
            total_steps=int(self.max_iter) * int(steps_per_epoch),
            clip_norm=None if self.clip_norm is None else float(self.clip_norm),
        )

    def _record(self, history, *, append: bool) -> None:
        if append and hasattr(self, "loss_curve_"):
            self.loss_curve_ = [*self.loss_curve_, *history.loss]
            self.validation_scores_ = [*self.validation_scores_, *(-v for v in history.val_loss)]
        else:
            self.loss_curve_ = list(history.loss)
            self.validation_scores_ = [-v for v in history.val_loss]
        self.n_iter_ = len(history.loss) if not append else self.n_iter_ + len(history.loss)
        finite = [x for x in self.loss_curve_ if np.isfinite(x)]
        self.best_loss_ = min(finite) if finite else float("nan")

    #: The least relative fall of the loss over the last ``n_iter_no_change`` epochs that
    #: counts as "still falling" for the ConvergenceWarning (or ``tol`` per epoch, if more).
    _STILL_FALLING = 0.01

    def _warn_convergence(self, history) -> None:
        """ConvergenceWarning when max_iter ended a run whose loss was still clearly falling.

        The rule: the run used all ``max_iter`` epochs (no early stop, no divergence), and
        its loss fell over its last ``m`` epochs by more than ``max(tol * m, 1%)`` of the
        loss ``m`` epochs before the end (an absolute amount for estimators whose loss is
        on an absolute scale), where ``m = n_iter_no_change`` when the run is long enough.
        A shorter run warns too: ``m`` is then its epochs after the first (the first
        epoch's mean loss holds the descent from the untrained model, so it would make
        any short run look as if it were still falling), a two-epoch run compares its two
        epochs and a one-epoch run its epoch with the untrained model's loss on its
        first minibatch. Smaller falls are noise or a slow tail that more epochs would
        not change much.
        """
        if history.stopped_early or history.diverged_at is not None:
            return
        curve = [float(x) for x in history.loss]
        if len(curve) < self.max_iter or not curve:
            return
        if len(curve) == 1:
            initial = getattr(history, "initial_loss", None)
            if initial is None or not np.isfinite(initial):
                return
            curve = [float(initial), *curve]
        k = min(int(self.n_iter_no_change), len(curve) - (1 if len(curve) <= 2 else 2))
        before, last = curve[-k - 1], curve[-1]
        scale = 1.0 if self._absolute_tol else max(abs(before), 1e-12)
        if before - last > max(self.tol * k, self._STILL_FALLING) * scale:
            from sklearn.exceptions import ConvergenceWarning

            n = len(history.loss)
            span = ("from the untrained model to epoch 1" if n == 1
                    else f"over the last {k} epochs" if k == int(self.n_iter_no_change)
                    else f"from epoch {n - k} to epoch {n}")
            warnings.warn(
                f"{type(self).__name__}: max_iter={self.max_iter} reached while the loss "
                f"was still falling ({before:.4g} -> {last:.4g} {span}, "
                f"{(before - last) / scale:.1%}); raise max_iter or learning_rate.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )

    # -- the loss against the targets' variance --------------------------------------------
    #: A fit whose last epoch's mean squared error is more than this many times the
    #: variance of its real-valued targets warns (see :meth:`_warn_loss_variance`).
    _LOSS_VARIANCE_RATIO = 10.0

    def _target_variance(self, data: TrainingData) -> float | None:
        """The hook of the loss-variance warning: the variance of the real-valued targets
        the loss compares the network's outputs with, in the units the loss is computed
        in (after any ``scale``), averaged over the channels as the mean squared error
        is (``mean_j var_j``), over the real steps only (padding left out). None (the
        default): the loss is not a squared error of real values, nothing is checked.

        An estimator opts in by returning the variance from ``data`` (what its
        ``_prepare`` returned): :class:`SequenceAutoencoder` returns that of its
        (scaled) input steps, a forecaster or regressor would return that of its
        (scaled) targets.
        """
        del data
        return None

    def _warn_loss_variance(self, history, data: TrainingData) -> None:
        """UserWarning when the last epoch's mean squared error is over
        :attr:`_LOSS_VARIANCE_RATIO` times the targets' variance (:meth:`_target_variance`):
        a model that predicted each channel's mean would do better, which mostly means the
        values are large or far from 0 and the network, whose outputs start near 0, has
        not reached them. The advice is ``scale='standard'`` (``--scale standard``) for an
        estimator with a ``scale`` setting."""
        if not history.loss or history.diverged_at is not None:
            return
        variance = self._target_variance(data)
        last = float(history.loss[-1])
        if variance is None or not np.isfinite(last) or not np.isfinite(variance):
            return
        if last <= self._LOSS_VARIANCE_RATIO * max(float(variance), 1e-12):
            return
        scaled = getattr(self, "scale", None)
        fitted = getattr(getattr(self, "scaling_", None), "kind", "none")
        advice = ("try scale='standard' (--scale standard), which stores the scaling in the "
                  "model and undoes it for every output" if scaled is not None
                  and fitted == "none" else "a lower learning rate or more epochs may help"
                  if scaled is not None
                  else "standardise the data first (mean 0, variance 1 per feature)")
        ratio = last / max(float(variance), 1e-12)
        warnings.warn(
            f"{type(self).__name__}: training ended with a mean squared error of {last:.4g}, "
            f"{ratio:.3g} times the targets' variance ({variance:.4g})"
            + (f" (scale={scaled!r})" if scaled is not None else "")
            + f": the values are large or far from 0 for the network; {advice}.",
            UserWarning, stacklevel=user_stacklevel())


class IncrementalMixin:
    """``partial_fit``: one epoch over new data, continuing the optimizer state."""

    def partial_fit(self, X, y=None, **fit_params):
        """One epoch over ``X`` (and ``y``), continuing from the current parameters and
        optimizer state (the first call starts a new model). Returns ``self``."""
        return self._fit(X, y, incremental=True, **fit_params)
