"""What every hiddenstate estimator shares: randomness, optimizers, checks, files."""

from __future__ import annotations

import os
import warnings
from numbers import Integral, Real

import jax
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions

from .. import _serialize
from .._errors import InputError
from ..optim import OPTIMIZERS, SCHEDULES, make_optimizer
from ..train import History

__all__ = ["TrainingMixin", "check_finite", "TRAINING_CONSTRAINTS"]

#: Constraints of the training settings every estimator shares.
TRAINING_CONSTRAINTS: dict = {
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "learning_rate_schedule": [StrOptions(set(SCHEDULES))],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "checkpoint_dir": [str, os.PathLike, None],
    "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
    "resume": ["boolean"],
    "devices": [Interval(Integral, 1, None, closed="left"), list, tuple, None],
}

#: Parameters that do not change what a run computes (left out of checkpoint settings).
_NOT_SETTINGS = {
    "verbose",
    "checkpoint_dir",
    "checkpoint_every",
    "resume",
    "warm_start",
    "devices",
}


def check_finite(
    X: np.ndarray, name: str = "X", columns=None, *, row_offset: int = 0, path=None
) -> None:
    """Raise :class:`InputError` naming the first row and column holding NaN or inf.

    ``row_offset`` is added to the row (for blocks of a larger file, named by ``path``).
    """
    finite = np.isfinite(X)
    if finite.all():
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


class TrainingMixin:
    """Shared plumbing; subclasses keep the sklearn parameters listed in TRAINING_CONSTRAINTS."""

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
        """The integer seed of a fresh run (a resumed run reuses its checkpoint's)."""
        rs = self.random_state
        if isinstance(rs, Integral) and not isinstance(rs, bool):
            return int(rs)
        checkpoint_dir = getattr(self, "checkpoint_dir", None)
        if rs is None and checkpoint_dir is not None and getattr(self, "resume", False):
            from ..checkpoint import Checkpointer

            state = Checkpointer(checkpoint_dir).peek()
            if state is not None and "seed" in state.get("settings", {}):
                return int(state["settings"]["seed"])
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        return int(np.random.SeedSequence().entropy % (2**63))

    def _checkpointer(self, X: np.ndarray, seed: int, *, partial: bool):
        """A Checkpointer for this run, or None (no checkpoint_dir, or partial_fit)."""
        if getattr(self, "checkpoint_dir", None) is None or partial:
            return None
        import hashlib

        from ..checkpoint import Checkpointer

        params = {k: v for k, v in self.get_params().items() if k not in _NOT_SETTINGS}
        params["random_state"] = None  # the seed below stands for it
        digest = hashlib.blake2b(np.ascontiguousarray(X).view(np.uint8), digest_size=16)
        settings = {
            "estimator": type(self).__name__,
            "params": params,
            "seed": seed,
            "data": {"shape": list(X.shape), "blake2b": digest.hexdigest()},
        }
        return Checkpointer(self.checkpoint_dir, every=self.checkpoint_every, settings=settings)

    @staticmethod
    def _key(rng: np.random.Generator) -> jax.Array:
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

    def _record(self, history: History, *, append: bool) -> None:
        if append and hasattr(self, "loss_curve_"):
            self.loss_curve_ = [*self.loss_curve_, *history.loss]
            self.validation_scores_ = [*self.validation_scores_, *(-v for v in history.val_loss)]
        else:
            self.loss_curve_ = list(history.loss)
            self.validation_scores_ = [-v for v in history.val_loss]
        self.n_iter_ = len(history.loss) if not append else self.n_iter_ + len(history.loss)
        finite = [x for x in self.loss_curve_ if np.isfinite(x)]
        self.best_loss_ = min(finite) if finite else float("nan")

    def _warn_convergence(self, history: History) -> None:
        """ConvergenceWarning when max_iter ended a run that was still improving."""
        if history.stopped_early or history.diverged_at is not None:
            return
        curve = np.asarray(history.loss)
        k = int(self.n_iter_no_change)
        if len(curve) < self.max_iter or len(curve) <= k:
            return
        before, last = curve[-k - 1], curve[-1]
        # Still improving by more than ``tol`` (relative) per epoch, on average.
        if before - last > self.tol * k * max(abs(before), 1e-12):
            warnings.warn(
                f"{type(self).__name__}: max_iter={self.max_iter} reached while the loss "
                f"was still falling ({before:.4g} -> {last:.4g} over the last {k} epochs); "
                "raise max_iter or learning_rate.",
                ConvergenceWarning,
                stacklevel=3,
            )

    # -- files -------------------------------------------------------------------------------
    def _file_params(self) -> dict:
        """``get_params()`` as a model file stores them: machine-specific settings dropped
        (device lists, checkpoint folders), a RandomState replaced by None."""
        params = self.get_params()
        if not isinstance(params.get("random_state"), int):
            params["random_state"] = None
        if "devices" in params and not isinstance(params["devices"], int):
            params["devices"] = None
        if "checkpoint_dir" in params:
            params["checkpoint_dir"], params["resume"] = None, False
        return params

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted estimator to ``path`` (safetensors + JSON), atomically."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        config, tensors = self._to_file()
        _serialize.save(path, type(self).__name__, config, tensors)
