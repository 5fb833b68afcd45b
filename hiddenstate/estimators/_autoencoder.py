"""``hiddenstate.Autoencoder``: tied (or untied), stacked, denoising, sparse autoencoders."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import equinox as eqx
import jax
import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _serialize
from .._errors import InputError, ModelFileError
from .._limits import check_float32, check_memory
from ..distributed import device
from ..nn._activations import ACTIVATIONS
from ..nn._autoencoder import AutoencoderNet
from ..objectives import AutoencoderObjective
from ._base import IncrementalMixin, TrainingData, TrainingMixin, check_finite
from ._inference import apply_batched, pad_rows
from ._params import TRAINING_CONSTRAINTS, store_params

__all__ = ["Autoencoder", "AutoencoderObjective"]

#: Rows per compiled call at inference; inputs are padded to a power of two up to this,
#: so inference compiles a bounded number of times whatever the input sizes.
_CHUNK = 8192


@eqx.filter_jit
def _init_net(key, **settings) -> AutoencoderNet:
    # One compiled call instead of one small compilation per random draw.
    return AutoencoderNet(settings.pop("sizes"), key=key, **settings)


@eqx.filter_jit
def _encode(model: AutoencoderNet, x):
    return jax.vmap(model.encode)(x)


@eqx.filter_jit
def _decode(model: AutoencoderNet, h):
    return jax.vmap(model.decode)(h)


@eqx.filter_jit
def _reconstruct(model: AutoencoderNet, x):
    return jax.vmap(model)(x)


@eqx.filter_jit
def _errors(model: AutoencoderNet, x, objective: AutoencoderObjective, per_feature: bool):
    if not per_feature:
        return objective.per_example(model, x)
    z = jax.vmap(model.decode_logits)(jax.vmap(model.encode)(x))
    return objective.feature_errors(model, z, x)


def _rows(fn, model, X: np.ndarray) -> np.ndarray:
    """``fn(model, chunk)`` over padded row chunks of ``X`` (bounded compilations)."""
    return apply_batched(lambda a: fn(model, device(a)), X.shape[0],
                         lambda rows, size, _: (pad_rows(X[rows], size),),
                         chunk=_CHUNK, min_rows=16)


@_serialize.register
class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, IncrementalMixin,
                  TrainingMixin, BaseEstimator):
    r"""Autoencoder with tied weights by default (seeds 003 and 004), as a scikit-learn transformer.

    One hidden layer with ``n_components`` units learns
    :math:`h = f(x W + b)` and reconstructs :math:`\hat x = o(h W^\top + c)`;
    a list of sizes stacks layers into a deep autoencoder whose decoder mirrors
    the encoder. ``transform`` returns the code :math:`h`, ``inverse_transform``
    the reconstruction from a code, and ``score_samples`` minus the per-row
    reconstruction error (higher = more normal), for anomaly detection.

    Parameters
    ----------
    n_components : int or list of int, default=2
        Code size, or the sizes of the stacked hidden layers (the last is the code).
    tied : bool, default=True
        Use each encoder matrix ``W`` transposed as its decoder (one parameter).
    activation : {'sigmoid', 'tanh', 'relu', 'linear'}, default='sigmoid'
        Hidden units. ``linear`` with ``loss='mse'`` learns the PCA subspace.
    output : {'linear', 'sigmoid'}, default='linear'
        Output function of the reconstruction.
    loss : {'mse', 'cross_entropy'}, default='mse'
        ``mse``: squared error averaged over features; ``cross_entropy``: binary
        cross-entropy summed over features, computed from logits (needs
        ``output='sigmoid'`` and inputs in [0, 1]).
    noise : {None, 'masking', 'gaussian'}, default=None
        Corrupt training inputs (denoising autoencoder): zero each entry with
        probability ``noise_level``, or add N(0, ``noise_level``**2).
    noise_level : float, default=0.1
        Masking probability, or standard deviation of the Gaussian noise.
    sparsity : float, default=0.0
        Weight of the KL sparsity penalty on the mean code activation (sigmoid units).
    sparsity_target : float, default=0.05
        Target mean activation of each code unit for the sparsity penalty.
    alpha : float, default=0.0
        L2 weight decay, ``alpha/2 * sum ||W||^2``.
    init : {'glorot_uniform', 'normal'}, default='glorot_uniform'
        Weight initialiser (see :class:`~hiddenstate.nn.AutoencoderNet`).
    init_scale : float or None, default=None
        Gain of ``glorot_uniform`` (default 4 for sigmoid, 1 otherwise) or the
        standard deviation of ``normal`` (default 0.01).
    optimizer : {'adam', 'sgd', 'momentum', 'nesterov', 'rmsprop'}, default='adam'
        ``momentum`` is the seeds' update ``v <- mu v - lr g; p <- p + v``.
    learning_rate : float, default=0.02
        Step size (the schedule's initial value).
    learning_rate_schedule : str, default='cosine'
        One of ``constant``, ``cosine`` (to 1% of ``learning_rate`` over ``max_iter``
        epochs), ``exponential``, ``warmup_cosine``, ``inverse_time``.
    momentum : float, default=0.9
        ``mu`` of ``momentum``/``nesterov``; decay of ``rmsprop``.
    clip_norm : float or None, default=None
        Clip each gradient to this global norm.
    batch_size : int, 'auto' or None, default='auto'
        Minibatch size; ``'auto'`` is ``min(32, n_samples)``, ``None`` full batch.
    max_iter : int, default=200
        Epochs.
    shuffle : bool, default=True
        Reshuffle rows every epoch (``False``: minibatches in order, as seed 003).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows; stop when their loss has not
        improved by ``tol`` for ``n_iter_no_change`` epochs; keep the best parameters.
    validation_fraction : float, default=0.1
        Share of the rows held out for early stopping.
    n_iter_no_change : int, default=10
        Epochs without improvement before early stopping (and the window of the
        ConvergenceWarning).
    tol : float, default=1e-4
        Smallest improvement of the validation loss that counts.
    random_state : int, RandomState or None, default=None
        Seed of the initial weights, minibatch order and noise.
    verbose : bool or int, default=False
        Show a progress bar.
    warm_start : bool, default=False
        ``fit`` continues from the previous solution (and optimizer state).
    checkpoint_dir : path or None, default=None
        Write the whole training state there every ``checkpoint_every`` epochs
        and on Ctrl-C, atomically; the newest 3 are kept.
    checkpoint_every : int, default=10
        Epochs between checkpoints.
    resume : bool, default=False
        Continue ``fit`` from the newest checkpoint in ``checkpoint_dir`` (same
        settings and data); it ends with the same parameters, bit for bit on the
        CPU, as an uninterrupted run.
    devices : None, int or list of jax devices, default=None
        Data parallelism: each minibatch is split over these devices (``None``:
        all visible devices, so one CPU trains as before and 8 GPUs share each
        batch; an int: the first that many). Results match one device up to the
        order of float additions.

    Attributes
    ----------
    model_ : AutoencoderNet
        The trained network (an Equinox module).
    loss_curve_ : list of float
        Mean training loss per epoch.
    validation_scores_ : list of float
        Minus the validation loss per epoch (with ``early_stopping``).
    best_loss_ : float
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        When fitted on a DataFrame with string column names.

    Examples
    --------
    >>> from hiddenstate import Autoencoder
    >>> from hiddenstate.datasets import make_donut
    >>> X, y = make_donut()
    >>> ae = Autoencoder(n_components=2, max_iter=500, random_state=0).fit(X)
    >>> ae.transform(X).shape
    (1000, 2)
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), list, tuple],
        "tied": ["boolean"],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "output": [StrOptions({"linear", "sigmoid"})],
        "loss": [StrOptions({"mse", "cross_entropy"})],
        "noise": [StrOptions({"masking", "gaussian"}), None],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "sparsity": [Interval(Real, 0, None, closed="left")],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "init": [StrOptions({"glorot_uniform", "normal"})],
        "init_scale": [Interval(Real, 0, None, closed="neither"), None],
        **TRAINING_CONSTRAINTS,
    }

    def __init__(
        self,
        n_components=2,
        *,
        tied=True,
        activation="sigmoid",
        output="linear",
        loss="mse",
        noise=None,
        noise_level=0.1,
        sparsity=0.0,
        sparsity_target=0.05,
        alpha=0.0,
        init="glorot_uniform",
        init_scale=None,
        optimizer="adam",
        learning_rate=0.02,
        learning_rate_schedule="cosine",
        momentum=0.9,
        clip_norm=None,
        batch_size="auto",
        max_iter=200,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        random_state=None,
        verbose=False,
        warm_start=False,
        checkpoint_dir=None,
        checkpoint_every=10,
        resume=False,
        devices=None,
    ):
        store_params(self, locals())

    # -- settings ----------------------------------------------------------------------------
    def _hidden_sizes(self) -> tuple[int, ...]:
        sizes = (
            (self.n_components,)
            if isinstance(self.n_components, Integral)
            else tuple(self.n_components)
        )
        if not sizes or not all(isinstance(s, Integral) and s >= 1 for s in sizes):
            raise ValueError(
                f"n_components must be a positive int or a non-empty list of them, "
                f"got {self.n_components!r}"
            )
        return tuple(int(s) for s in sizes)

    def _check_settings(self) -> None:
        self._validate_params()
        self._hidden_sizes()
        if self.loss == "cross_entropy" and self.output != "sigmoid":
            raise ValueError(
                "loss='cross_entropy' needs output='sigmoid' (it is computed from logits)"
            )
        if self.sparsity > 0 and self.activation != "sigmoid":
            raise ValueError(
                "sparsity (a KL penalty on mean activations) needs activation='sigmoid'"
            )
        if self.noise == "masking" and not self.noise_level < 1:
            raise ValueError(
                f"noise_level for masking noise must be below 1, got {self.noise_level}"
            )

    def _objective(self) -> AutoencoderObjective:
        return AutoencoderObjective(
            loss=self.loss,
            alpha=float(self.alpha),
            sparsity=float(self.sparsity),
            sparsity_target=float(self.sparsity_target),
            noise=self.noise,
            noise_level=float(self.noise_level),
        )

    def _new_model(self, key) -> AutoencoderNet:
        return _init_net(
            key,
            sizes=(int(self.n_features_in_), *self._hidden_sizes()),
            tied=bool(self.tied),
            activation=self.activation,
            output=self.output,
            init=self.init,
            init_scale=None if self.init_scale is None else float(self.init_scale),
        )

    def _validate_X(self, X, *, reset: bool) -> np.ndarray:
        X = validate_data(
            self, X, reset=reset, dtype=[np.float32, np.float64], ensure_all_finite=False
        )
        check_finite(X, columns=getattr(self, "feature_names_in_", None))
        check_float32(X)  # finite in float64 is not enough: 1e39 is inf in float32
        return np.asarray(X, np.float32)

    def _n_parameters(self, n_features: int) -> int:
        """Parameters of the network for ``n_features`` inputs (Python ints: no overflow)."""
        sizes = (int(n_features), *self._hidden_sizes())
        weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        return weights * (1 if self.tied else 2) + sum(sizes[1:]) + sum(sizes[:-1])

    def _check_memory(self, n_features: int, n_rows: int) -> None:
        """Refuse sizes whose training cannot fit in this machine's memory (an estimate)."""
        batch = self._resolve_batch_size(n_rows) or n_rows
        sizes = (int(n_features), *self._hidden_sizes())
        check_memory(self._n_parameters(n_features), f"Autoencoder(n_components="
                     f"{self.n_components!r}) on {n_features} features",
                     activations=batch * 2 * sum(sizes))

    def _prepare(self, X, y=None, *, reset: bool) -> TrainingData:
        del y
        X = self._validate_X(X, reset=reset)
        self._check_memory(X.shape[1], X.shape[0])
        if reset:
            self._warn_output_range(X)
        return TrainingData(X)

    def _warn_output_range(self, X: np.ndarray) -> None:
        """Warn (once, at fit) when ``output='sigmoid'`` cannot produce the data: a sigmoid
        reconstructs only values in (0, 1), so the loss stays high whatever it learns."""
        if self.output != "sigmoid" or X.size == 0:
            return
        low, high = float(X.min()), float(X.max())
        if low >= 0 and high <= 1:
            return
        from ._base import user_stacklevel

        warnings.warn(
            f"Autoencoder(output='sigmoid') reconstructs values in (0, 1), but the training "
            f"data spans [{low:.4g}, {high:.4g}]: scale it into [0, 1] first (MinMaxScaler; "
            f"on the command line --scale minmax) or use output='linear'",
            UserWarning, stacklevel=user_stacklevel())

    # -- training ----------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Train on ``X`` (n_samples, n_features); ``y`` is ignored. Returns ``self``."""
        return self._fit(X)

    def fit_file(self, path, *, chunk_rows: int | None = None, header: bool | None = None):
        """Train on a ``.npy``, CSV or TSV file without loading it whole.

        Each of the ``max_iter`` epochs reads the file block by block (a memory
        map for ``.npy``, lines for text), and trains on each block with the rows
        shuffled inside it; the optimizer state, step count and learning-rate
        schedule run across blocks and epochs. Peak memory is about one block:
        ``chunk_rows`` rows (default: 64 MiB of float32), not the file.

        Returns ``self``. Early stopping, checkpoints and warm starts need the
        whole data at once and are refused here.
        """
        from .. import train
        from ..datasets import iter_table_chunks

        self._check_settings()
        for name in ("early_stopping", "warm_start"):
            if getattr(self, name):
                raise ValueError(f"fit_file does not support {name}=True (it streams the "
                                 "file block by block); use fit on data in memory")
        if self.checkpoint_dir is not None:
            raise ValueError("fit_file does not support checkpoint_dir (it streams the file "
                             "block by block); use fit on data in memory")
        if isinstance(chunk_rows, bool) or not (chunk_rows is None or (
                isinstance(chunk_rows, Integral) and chunk_rows >= 1)):
            raise ValueError(f"chunk_rows must be a positive integer or None, got {chunk_rows!r}")

        def first_width(path, header) -> int:
            return next(iter_table_chunks(path, 1, header=header)).shape[1]

        if chunk_rows is None:
            chunk_rows = max(1024, (64 << 20) // (4 * first_width(path, header)))
        self._check_memory(first_width(path, header), chunk_rows)
        sizes = [block.shape for block in iter_table_chunks(path, chunk_rows, header=header)]
        self.n_features_in_ = sizes[0][1]
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        rng = np.random.default_rng(self._run_seed())
        model, key = self._new_model(self._key(rng)), self._key(rng)
        plans = [train.BatchPlan.make(m, self._resolve_batch_size(m), shuffle=self.shuffle)
                 for m, _ in sizes]
        optimizer = self._optimizer(sum(p.steps_per_epoch for p in plans))
        opt_state, step, curve = None, 0, []
        for _ in range(int(self.max_iter)):
            total, offset = 0.0, 0
            blocks = iter_table_chunks(path, chunk_rows, header=header)
            for block, plan in zip(blocks, plans, strict=True):
                check_finite(block, row_offset=offset, path=path)
                result = train.fit(
                    model, block, objective=self._objective(), optimizer=optimizer,
                    max_iter=1, rng=rng, key=key, plan=plan, opt_state=opt_state, step=step,
                    epochs_per_call=1, devices=self.devices)
                model, opt_state, step = result.model, result.opt_state, result.step
                total += result.history.loss[0] * block.shape[0]
                offset += block.shape[0]
            curve.append(total / offset)
        self.model_, self._opt_state, self._step, self._rng = model, opt_state, step, rng
        self.loss_curve_, self.validation_scores_ = curve, []
        self.n_iter_ = len(curve)
        self.best_loss_ = min(curve)
        return self

    # -- inference ---------------------------------------------------------------------------
    @property
    def _n_features_out(self) -> int:
        return self._hidden_sizes()[-1]

    @property
    def components_(self) -> np.ndarray:
        """First-layer filters, ``(n_hidden_1, n_features)``: row ``j`` is unit ``j``'s weights."""
        check_is_fitted(self)
        return np.asarray(self.model_.weights[0]).T

    def transform(self, X):
        """Codes ``(n_samples, n_components)``."""
        check_is_fitted(self)
        X_in = X
        X = self._validate_X(X, reset=False)
        return self._out(_rows(_encode, self.model_, X), X_in)

    def inverse_transform(self, X):
        """Reconstruction ``(n_samples, n_features)`` from codes ``(n_samples, n_components)``."""
        check_is_fitted(self)
        codes = np.asarray(X)
        if codes.ndim != 2 or codes.shape[1] != self._n_features_out:
            raise InputError(
                f"codes must have shape (n_samples, {self._n_features_out}), got {codes.shape}"
            )
        check_float32(codes, name="codes")
        codes = codes.astype(np.float32)
        check_finite(codes, name="codes")
        return _rows(_decode, self.model_, codes)

    def predict(self, X):
        """Reconstruction of ``X`` (encode, then decode)."""
        check_is_fitted(self)
        X_in = X
        X = self._validate_X(X, reset=False)
        return self._out(_rows(_reconstruct, self.model_, X), X_in)

    def reconstruction_error(self, X, per_feature: bool = False):
        """Per-row reconstruction error ``(n_samples,)`` in the training loss's units.

        ``mse``: mean squared error over features; ``cross_entropy``: summed binary
        cross-entropy. With ``per_feature=True``, the ``(n_samples, n_features)`` terms.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        objective, per_feature = self._objective(), bool(per_feature)
        return _rows(lambda m, a: _errors(m, a, objective, per_feature), self.model_, X)

    def score_samples(self, X):
        """Minus the per-row reconstruction error: higher is more normal."""
        return -self.reconstruction_error(X)

    def score(self, X, y=None):
        """Minus the mean reconstruction error."""
        return float(np.mean(self.score_samples(X)))

    # -- anomaly scoring (the Scorable protocol of ._scoring) --------------------------------
    #: One error term per feature of a row.
    item_unit = "feature"

    def item_errors(self, X) -> np.ndarray:
        """float64 reconstruction error terms ``(n_samples, n_features)`` (those of
        :meth:`reconstruction_error` with ``per_feature=True``): what
        :class:`~hiddenstate.AnomalyDetector` scores and explains rows by."""
        return np.asarray(self.reconstruction_error(X, per_feature=True), np.float64)

    @staticmethod
    def _out(result: np.ndarray, X_in) -> np.ndarray:
        dtype = getattr(X_in, "dtype", None)
        return result.astype(np.float64) if dtype == np.float64 else result

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- files -------------------------------------------------------------------------------
    def _fitted_config(self) -> dict:
        return {
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None
            if not hasattr(self, "feature_names_in_")
            else [str(c) for c in self.feature_names_in_],
        }

    def _restore_fitted(self, config: dict, path) -> None:
        n_features = int(config["n_features_in"])
        if n_features < 1:
            raise ModelFileError(f"{path}: invalid n_features_in {n_features}")
        self.n_features_in_ = n_features
        names = config.get("feature_names_in")
        if names is not None:
            if len(names) != n_features or not all(isinstance(c, str) for c in names):
                raise ModelFileError(f"{path}: feature_names_in does not match n_features_in")
            self.feature_names_in_ = np.asarray(names, dtype=object)
