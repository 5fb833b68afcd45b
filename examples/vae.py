"""A variational autoencoder, added to hiddenstate through its extension points.

The worked example of the README's "Adding a model" guide: each part below is
what one file of the package would hold if the model were added there (the
guide lists them), here in one file so that it runs as it is:

1. the network, a pure Equinox module that sees one example
   (``hiddenstate/nn/_vae.py``);
2. the objective, the negative evidence lower bound of each example
   (``hiddenstate/objectives.py``);
3. the estimator on the training template, registered with the model files,
   scorable by :class:`~hiddenstate.AnomalyDetector`
   (``hiddenstate/estimators/_vae.py``);
4. a command group (``hiddenstate/cli/vae.py``).

Kingma & Welling (2014), "Auto-Encoding Variational Bayes", section 3 and
appendix B (the Gaussian encoder's KL term in closed form), with a Gaussian
decoder of unit variance, so that the reconstruction term is half the squared
error.
"""

from __future__ import annotations

import dataclasses
from numbers import Integral
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from hiddenstate.estimators import (
    TRAINING_CONSTRAINTS,
    ScorableMixin,
    TrainingData,
    TrainingMixin,
    check_finite,
    register_model,
    store_params,
)
from hiddenstate.objectives import Objective

__all__ = ["VAENet", "NegativeELBO", "VariationalAutoencoder", "register"]


# -- 1. the network ----------------------------------------------------------------------------


class VAENet(eqx.Module):
    r"""Gaussian encoder and decoder with one tanh hidden layer each, for one row.

    .. math::
        h = \tanh(x W_1 + b_1),\quad \mu = h W_\mu + b_\mu,\quad
        \log\sigma^2 = h W_\sigma + b_\sigma,\quad
        \hat x = \tanh(z W_2 + b_2) W_3 + b_3

    Shapes: ``x (n_in,)``, ``z (n_code,)``. Weights are stored ``(n_in, n_out)`` and
    applied as ``x @ W``; each is drawn from N(0, 1/fan_in) (LeCun normal).
    """

    weights: tuple[jax.Array, ...]
    biases: tuple[jax.Array, ...]

    def __init__(self, n_in: int, n_hidden: int, n_code: int, *, key):
        shapes = [(n_in, n_hidden), (n_hidden, n_code), (n_hidden, n_code),
                  (n_code, n_hidden), (n_hidden, n_in)]
        keys = jax.random.split(key, len(shapes))
        self.weights = tuple(jax.random.normal(k, s) / np.sqrt(s[0])
                             for k, s in zip(keys, shapes, strict=True))
        self.biases = tuple(jnp.zeros(s[1]) for s in shapes)

    def encode(self, x):
        """``(mean (n_code,), log variance (n_code,))`` of q(z | x)."""
        w, b = self.weights, self.biases
        h = jnp.tanh(x @ w[0] + b[0])
        return h @ w[1] + b[1], h @ w[2] + b[2]

    def decode(self, z):
        """The mean of p(x | z), ``(n_in,)``."""
        w, b = self.weights, self.biases
        return jnp.tanh(z @ w[3] + b[3]) @ w[4] + b[4]


# -- 2. the objective --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NegativeELBO(Objective):
    r"""Minus the evidence lower bound of each row of a batch, ``(B,)``:

    .. math::
        \tfrac12 \lVert x - \hat x(z) \rVert^2
        + \tfrac12 \sum_j (\sigma_j^2 + \mu_j^2 - 1 - \log\sigma_j^2),
        \qquad z = \mu + \sigma \odot \epsilon,\ \epsilon \sim N(0, I)

    One sample of ``z`` per row while training (the reparameterisation trick: the
    training loop hands a fresh ``key`` to objectives with ``uses_key``); at inference
    (no key) ``z = mu``.
    """

    uses_key: ClassVar[bool] = True

    def per_example(self, model: VAENet, batch, key=None):
        mean, log_var = jax.vmap(model.encode)(batch)
        z = mean
        if key is not None:
            z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)
        reconstruction = 0.5 * jnp.sum((jax.vmap(model.decode)(z) - batch) ** 2, axis=-1)
        kl = 0.5 * jnp.sum(jnp.exp(log_var) + mean**2 - 1.0 - log_var, axis=-1)
        return reconstruction + kl


# -- 3. the estimator --------------------------------------------------------------------------


@eqx.filter_jit
def _means(model: VAENet, X):
    return jax.vmap(model.encode)(X)[0]


@eqx.filter_jit
def _feature_errors(model: VAENet, X):
    return 0.5 * (jax.vmap(model.decode)(jax.vmap(model.encode)(X)[0]) - X) ** 2


@register_model
class VariationalAutoencoder(ScorableMixin, TransformerMixin, TrainingMixin, BaseEstimator):
    """Variational autoencoder of rows (Kingma & Welling 2014), as a transformer.

    ``transform`` gives the mean of each row's code ``(n, n_components)``;
    ``item_errors`` the per-feature reconstruction error terms through that mean, so
    that :class:`~hiddenstate.AnomalyDetector` can wrap it. The training settings are
    those every hiddenstate estimator shares (see
    :class:`~hiddenstate.Autoencoder`).

    Parameters
    ----------
    n_components : int, default=2
        Size of the code z.
    hidden_size : int, default=32
        Units of the encoder's and the decoder's hidden layer.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        **TRAINING_CONSTRAINTS,
    }

    def __init__(self, n_components=2, *, hidden_size=32, optimizer="adam",
                 learning_rate=1e-2, learning_rate_schedule="constant", momentum=0.9,
                 clip_norm=None, batch_size="auto", max_iter=100, shuffle=True,
                 early_stopping=False, validation_fraction=0.1, n_iter_no_change=10,
                 tol=1e-4, random_state=None, verbose=False, warm_start=False,
                 checkpoint_dir=None, checkpoint_every=10, resume=False, devices=None):
        store_params(self, locals())

    # The template's hooks: the data, a new network, the objective.
    def _prepare(self, X, y=None, *, reset: bool) -> TrainingData:
        del y
        X = validate_data(self, X, reset=reset, dtype=[np.float32, np.float64],
                          ensure_all_finite=False)
        check_finite(X)
        return TrainingData(np.asarray(X, np.float32))

    def _new_model(self, key) -> VAENet:
        return VAENet(int(self.n_features_in_), int(self.hidden_size), int(self.n_components),
                      key=key)

    def _objective(self) -> NegativeELBO:
        return NegativeELBO()

    def fit(self, X, y=None):
        """Train on ``X`` (n_samples, n_features); ``y`` is ignored. Returns ``self``."""
        return self._fit(X)

    def _rows(self, X) -> jax.Array:
        check_is_fitted(self)
        return jnp.asarray(self._prepare(X, reset=False).data)

    def transform(self, X) -> np.ndarray:
        """The mean of q(z | x) of each row, ``(n, n_components)``."""
        return np.asarray(_means(self.model_, self._rows(X)))

    # The scoring protocol (hiddenstate.estimators.Scorable).
    item_unit = "feature"

    def item_errors(self, X) -> np.ndarray:
        """``0.5 (x_j - x_hat_j)**2`` of each feature of each row, ``(n, n_features)``."""
        return np.asarray(_feature_errors(self.model_, self._rows(X)), np.float64)

    # What a model file stores besides the parameters and the network's tensors.
    def _fitted_config(self) -> dict:
        return {"n_features_in": int(self.n_features_in_)}

    def _restore_fitted(self, config: dict, path) -> None:
        del path
        self.n_features_in_ = int(config["n_features_in"])


# -- 4. the command group ----------------------------------------------------------------------


def register(sub) -> None:
    """Add ``vae fit`` and ``vae transform`` to the ``hiddenstate`` command (a group
    module of ``hiddenstate/cli`` has this function, and ``cli.GROUPS`` lists it)."""
    sub.add_parser("vae", help="variational autoencoder of a table's rows", build=_build)


def _build(parser) -> None:
    from hiddenstate.cli._options import add_estimator_options

    actions = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    fit = actions.add_parser("fit", help="train on DATA (a CSV, TSV or .npy table), "
                             "write MODEL")
    fit.add_argument("data", metavar="DATA")
    fit.add_argument("--out", required=True, metavar="MODEL", help="model file to write")
    add_estimator_options(fit, VariationalAutoencoder)
    fit.set_defaults(func=_fit)
    transform = actions.add_parser("transform", help="the code of each row of DATA")
    transform.add_argument("model", metavar="MODEL")
    transform.add_argument("data", metavar="DATA")
    transform.add_argument("--out", metavar="FILE", help="write a table instead of printing")
    transform.set_defaults(func=_transform)


def _fit(args) -> int:
    from hiddenstate.cli._options import estimator_kwargs
    from hiddenstate.cli._outputs import check_out, fit_save_report
    from hiddenstate.datasets import read_table

    check_out(args.out, args.data)
    X, _ = read_table(args.data)
    est = VariationalAutoencoder(**estimator_kwargs(args, VariationalAutoencoder))
    fit_save_report(est, args.out, lambda: est.fit(X), inputs=f"{len(X)} rows")
    return 0


def _transform(args) -> int:
    from hiddenstate.cli._common import load_model
    from hiddenstate.cli._outputs import check_out, write_or_print
    from hiddenstate.datasets import read_table

    check_out(args.out, args.data, args.model, table=True)
    model = load_model(args.model, VariationalAutoencoder)
    codes = model.transform(read_table(args.data)[0])
    write_or_print(codes, args.out, [f"z{j}" for j in range(codes.shape[1])])
    return 0


if __name__ == "__main__":
    # python examples/vae.py: the digits' codes, and how well the detector around the
    # model tells held-out digits of the kinds it was trained on (0-4) from the others.
    from sklearn.metrics import roc_auc_score

    from hiddenstate import AnomalyDetector
    from hiddenstate.datasets import load_digits

    X, y = load_digits()
    X = X * 4.0  # pixels in [0, 4]: a spread the unit-variance decoder can see
    vae = VariationalAutoencoder(8, hidden_size=64, max_iter=100, random_state=0)
    odd = np.arange(len(X)) % 2 == 1  # held out
    detector = AnomalyDetector(vae, random_state=0).fit(X[~odd & (y < 5)])
    print("codes:", detector.model_.transform(X[:3]).round(2))
    print(f"ROC AUC, held-out digits 5-9 against 0-4: "
          f"{roc_auc_score(y[odd] >= 5, -detector.score_samples(X[odd])):.3f}")
