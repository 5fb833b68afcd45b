"""``hiddenstate.Autoencoder``: tied (or untied), stacked, denoising, sparse autoencoders."""

from __future__ import annotations

import dataclasses
from numbers import Integral, Real

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import _serialize, losses, train
from .._errors import DivergenceError, InputError, ModelFileError
from ..nn._activations import ACTIVATIONS
from ..nn._autoencoder import AutoencoderNet
from ._base import TRAINING_CONSTRAINTS, TrainingMixin, check_finite

__all__ = ["Autoencoder", "AutoencoderObjective"]

#: Rows per compiled call at inference; inputs are padded to a power of two up to this,
#: so inference compiles a bounded number of times whatever the input sizes.
_CHUNK = 8192


@dataclasses.dataclass(frozen=True)
class AutoencoderObjective:
    r"""Training loss of :class:`AutoencoderNet` for a minibatch (hashable, so it can be jitted).

    .. math::
        L = \frac{\sum_i w_i \ell(\tilde x_i, x_i)}{\sum_i w_i}
            + \frac{\alpha}{2} \sum_l \lVert W_l \rVert^2
            + \beta \sum_j \mathrm{KL}(\rho \,\Vert\, \hat\rho_j)

    with :math:`\ell` the squared error averaged over features (``mse``) or the
    binary cross-entropy summed over features from logits (``cross_entropy``),
    :math:`\tilde x` the reconstruction of the (optionally corrupted) input,
    and :math:`\hat\rho_j` the batch mean of code unit :math:`j`.
    """

    loss: str = "mse"
    alpha: float = 0.0
    sparsity: float = 0.0
    sparsity_target: float = 0.05
    noise: str | None = None
    noise_level: float = 0.0

    @property
    def uses_key(self) -> bool:
        """Only the denoising corruption draws random numbers."""
        return self.noise is not None and self.noise_level > 0

    def per_row(self, model: AutoencoderNet, x: jax.Array) -> jax.Array:
        """Reconstruction error of each row of ``x`` (no corruption, no penalty)."""
        z = jax.vmap(model.decode_logits)(jax.vmap(model.encode)(x))
        return self._error(model, z, x)

    def _error(self, model, z, x):
        if self.loss == "cross_entropy":
            return jnp.sum(losses.sigmoid_cross_entropy(z, x), axis=-1)
        pred = jax.nn.sigmoid(z) if model.output == "sigmoid" else z
        return jnp.mean(losses.squared_error(pred, x), axis=-1)

    def __call__(self, model: AutoencoderNet, x: jax.Array, weight: jax.Array, key) -> jax.Array:
        x_in = x
        if self.noise == "masking" and self.noise_level > 0:
            keep = jax.random.bernoulli(key, 1.0 - self.noise_level, x.shape)
            x_in = jnp.where(keep, x, 0.0)
        elif self.noise == "gaussian" and self.noise_level > 0:
            x_in = x + self.noise_level * jax.random.normal(key, x.shape, x.dtype)
        h = jax.vmap(model.encode)(x_in)
        z = jax.vmap(model.decode_logits)(h)
        err = self._error(model, z, x)
        total = jnp.sum(weight)
        loss = jnp.sum(weight * err) / total
        if self.alpha > 0:
            mats = list(model.weights) + list(model.decoder_weights or ())
            loss = loss + 0.5 * self.alpha * sum(jnp.sum(w * w) for w in mats)
        if self.sparsity > 0:
            rho = jnp.sum(weight[:, None] * h, axis=0) / total
            loss = loss + self.sparsity * jnp.sum(losses.kl_bernoulli(self.sparsity_target, rho))
        return loss


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
def _errors(model: AutoencoderNet, x, objective: AutoencoderObjective, per_feature: bool):
    z = jax.vmap(model.decode_logits)(jax.vmap(model.encode)(x))
    if not per_feature:
        return objective._error(model, z, x)
    if objective.loss == "cross_entropy":
        return losses.sigmoid_cross_entropy(z, x)
    pred = jax.nn.sigmoid(z) if model.output == "sigmoid" else z
    return losses.squared_error(pred, x)


def _chunked(fn, x: np.ndarray, *args) -> np.ndarray:
    """Apply ``fn(x_chunk, *args)`` over padded row chunks (bounded compilations)."""
    n = x.shape[0]
    outs = []
    for start in range(0, n, _CHUNK):
        part = x[start : start + _CHUNK]
        m = part.shape[0]
        size = min(_CHUNK, max(16, 1 << (m - 1).bit_length()))
        if size != m:
            part = np.concatenate([part, np.zeros((size - m, *part.shape[1:]), part.dtype)])
        outs.append(np.asarray(fn(jnp.asarray(part), *args))[:m])
    return np.concatenate(outs) if outs else np.zeros((0,), np.float32)


@_serialize.register
class Autoencoder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, TrainingMixin, BaseEstimator):
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
    sparsity : float, default=0.0
        Weight of the KL sparsity penalty on the mean code activation (sigmoid units).
    sparsity_target : float, default=0.05
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
    n_iter_no_change : int, default=10
    tol : float, default=1e-4
    random_state : int, RandomState or None, default=None
    verbose : bool or int, default=False
        Show a progress bar.
    warm_start : bool, default=False
        ``fit`` continues from the previous solution (and optimizer state).
    checkpoint_dir : path or None, default=None
        Write the whole training state there every ``checkpoint_every`` epochs
        and on Ctrl-C, atomically; the newest 3 are kept.
    checkpoint_every : int, default=10
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
        self.n_components = n_components
        self.tied = tied
        self.activation = activation
        self.output = output
        self.loss = loss
        self.noise = noise
        self.noise_level = noise_level
        self.sparsity = sparsity
        self.sparsity_target = sparsity_target
        self.alpha = alpha
        self.init = init
        self.init_scale = init_scale
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.learning_rate_schedule = learning_rate_schedule
        self.momentum = momentum
        self.clip_norm = clip_norm
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.devices = devices

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

    def _new_model(self, n_features: int, key) -> AutoencoderNet:
        return _init_net(
            key,
            sizes=(n_features, *self._hidden_sizes()),
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
        return np.asarray(X, np.float32)

    # -- training ----------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Train on ``X`` (n_samples, n_features); ``y`` is ignored. Returns ``self``."""
        self._check_settings()
        continuing = self.warm_start and hasattr(self, "model_")
        X = self._validate_X(X, reset=not continuing)
        return self._train(X, epochs=int(self.max_iter), continuing=continuing, append=False)

    def partial_fit(self, X, y=None):
        """One epoch over ``X``, continuing from the current parameters and optimizer state."""
        first = not hasattr(self, "model_")
        if first:
            self._check_settings()
        X = self._validate_X(X, reset=first)
        return self._train(X, epochs=1, continuing=not first, append=not first, partial=True)

    def _train(self, X, *, epochs: int, continuing: bool, append: bool, partial: bool = False):
        checkpointer = None
        if continuing:
            rng = self._rng
        else:
            seed = self._run_seed()
            checkpointer = self._checkpointer(X, seed, partial=partial)
            rng = np.random.default_rng(seed)
        init_key = self._key(rng)
        train_key = self._key(rng)
        if continuing:
            model, opt_state, step = self.model_, self._opt_state, self._step
        else:
            model, opt_state, step = self._new_model(X.shape[1], init_key), None, 0

        val = None
        if self.early_stopping and not partial:
            tr, va = train.split_validation(X.shape[0], self.validation_fraction, rng)
            X, val = X[tr], X[va]
        bsz = self._resolve_batch_size(X.shape[0])
        steps_per_epoch = 1 if bsz is None else -(-X.shape[0] // bsz)
        optimizer = self._optimizer(steps_per_epoch)
        try:
            result = train.fit(
                model,
                X,
                objective=self._objective(),
                optimizer=optimizer,
                max_iter=epochs,
                rng=rng,
                key=train_key,
                batch_size=bsz,
                shuffle=self.shuffle,
                opt_state=opt_state,
                step=step,
                validation_data=val,
                n_iter_no_change=self.n_iter_no_change,
                tol=self.tol,
                verbose=self.verbose,
                description=type(self).__name__,
                epochs_per_call=1 if partial else None,
                checkpointer=checkpointer,
                resume=bool(self.resume),
                devices=self.devices,
            )
        except DivergenceError as err:
            self._store(err.result, rng, append=append)  # type: ignore[attr-defined]
            raise
        self._store(result, rng, append=append)
        if not partial:
            self._warn_convergence(result.history)
        return self

    def fit_file(self, path, *, chunk_rows: int | None = None, header: bool | None = None):
        """Train on a ``.npy``, CSV or TSV file without loading it whole.

        Each of the ``max_iter`` epochs reads the file block by block (a memory
        map for ``.npy``, lines for text), and trains on each block with the rows
        shuffled inside it; the optimizer state, step count and learning-rate
        schedule run across blocks and epochs. Peak memory is about one block:
        ``chunk_rows`` rows (default: 64 MiB of float32), not the file.

        Returns ``self``. Early stopping and checkpoints are not used here.
        """
        from ..datasets import iter_table_chunks

        self._check_settings()
        if chunk_rows is None:
            first = next(iter_table_chunks(path, 1, header=header))
            chunk_rows = max(1024, (64 << 20) // (4 * first.shape[1]))
        n_rows, n_features = 0, None
        for block in iter_table_chunks(path, chunk_rows, header=header):
            n_rows += block.shape[0]
            n_features = block.shape[1]
        self.n_features_in_ = n_features
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        rng = np.random.default_rng(self._run_seed())
        model = self._new_model(n_features, self._key(rng))
        key = self._key(rng)
        bsz = self._resolve_batch_size(min(chunk_rows, n_rows))
        steps = sum(
            1 if bsz is None else -(-min(chunk_rows, n_rows - s) // bsz)
            for s in range(0, n_rows, chunk_rows)
        )
        optimizer = self._optimizer(steps)
        opt_state, step, curve = None, 0, []
        for _ in range(int(self.max_iter)):
            total, rows, offset = 0.0, 0, 0
            for block in iter_table_chunks(path, chunk_rows, header=header):
                check_finite(block, row_offset=offset, path=path)
                result = train.fit(
                    model, block, objective=self._objective(), optimizer=optimizer,
                    max_iter=1, rng=rng, key=key, batch_size=bsz, shuffle=self.shuffle,
                    opt_state=opt_state, step=step, epochs_per_call=1, devices=self.devices,
                )
                model, opt_state, step = result.model, result.opt_state, result.step
                total += result.history.loss[0] * block.shape[0]
                rows += block.shape[0]
                offset += block.shape[0]
            curve.append(total / rows)
        self.model_, self._opt_state, self._step, self._rng = model, opt_state, step, rng
        self.loss_curve_, self.validation_scores_ = curve, []
        self.n_iter_ = len(curve)
        self.best_loss_ = min(curve)
        return self

    def _store(self, result: train.FitResult, rng, *, append: bool) -> None:
        self.model_ = result.model
        self._opt_state = result.opt_state
        self._step = result.step
        self._rng = rng
        self._record(result.history, append=append)

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
        return self._out(_chunked(lambda a: _encode(self.model_, a), X), X_in)

    def inverse_transform(self, X):
        """Reconstruction ``(n_samples, n_features)`` from codes ``(n_samples, n_components)``."""
        check_is_fitted(self)
        codes = np.asarray(X)
        if codes.ndim != 2 or codes.shape[1] != self._n_features_out:
            raise InputError(
                f"codes must have shape (n_samples, {self._n_features_out}), got {codes.shape}"
            )
        codes = codes.astype(np.float32)
        check_finite(codes, name="codes")
        return _chunked(lambda a: _decode(self.model_, a), codes)

    def predict(self, X):
        """Reconstruction of ``X`` (encode, then decode)."""
        check_is_fitted(self)
        X_in = X
        X = self._validate_X(X, reset=False)
        return self._out(_chunked(lambda a: jax.vmap(self.model_)(a), X), X_in)

    def reconstruction_error(self, X, per_feature: bool = False):
        """Per-row reconstruction error ``(n_samples,)`` in the training loss's units.

        ``mse``: mean squared error over features; ``cross_entropy``: summed binary
        cross-entropy. With ``per_feature=True``, the ``(n_samples, n_features)`` terms.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        obj = self._objective()
        return _chunked(lambda a: _errors(self.model_, a, obj, bool(per_feature)), X)

    def score_samples(self, X):
        """Minus the per-row reconstruction error: higher is more normal."""
        return -self.reconstruction_error(X)

    def score(self, X, y=None):
        """Minus the mean reconstruction error."""
        return float(np.mean(self.score_samples(X)))

    @staticmethod
    def _out(result: np.ndarray, X_in) -> np.ndarray:
        dtype = getattr(X_in, "dtype", None)
        return result.astype(np.float64) if dtype == np.float64 else result

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- files -------------------------------------------------------------------------------
    def _to_file(self):
        params = self._file_params()
        if isinstance(params["n_components"], tuple):
            params["n_components"] = list(params["n_components"])
        config = {
            "params": params,
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": None
            if not hasattr(self, "feature_names_in_")
            else [str(c) for c in self.feature_names_in_],
            "loss_curve": [float(x) for x in self.loss_curve_],
            "n_iter": int(self.n_iter_),
        }
        return config, _serialize.module_to_tensors(self.model_)

    @classmethod
    def _from_file(cls, config: dict, tensors: dict, *, path) -> Autoencoder:
        params = dict(config["params"])
        known = set(cls().get_params())
        unknown = set(params) - known
        if unknown:
            raise ModelFileError(f"{path}: unknown settings {sorted(unknown)}")
        est = cls(**params)
        try:
            est._check_settings()
        except ValueError as exc:
            raise ModelFileError(f"{path}: invalid settings: {exc}") from None
        n_features = int(config["n_features_in"])
        if n_features < 1:
            raise ModelFileError(f"{path}: invalid n_features_in {n_features}")
        skeleton = est._new_model(n_features, jax.random.key(0))
        est.model_ = _serialize.tensors_to_module(skeleton, tensors, path=path)
        est.n_features_in_ = n_features
        if config.get("feature_names_in") is not None:
            est.feature_names_in_ = np.asarray(config["feature_names_in"], dtype=object)
        est.loss_curve_ = [float(x) for x in config.get("loss_curve", [])]
        est.validation_scores_ = []
        est.n_iter_ = int(config.get("n_iter", len(est.loss_curve_)))
        est.best_loss_ = float(np.nanmin(est.loss_curve_)) if est.loss_curve_ else float("nan")
        est._opt_state, est._step, est._rng = None, 0, est._numpy_rng()
        return est
