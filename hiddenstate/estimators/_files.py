"""Model files of the training estimators: what ``save`` writes and ``load`` rebuilds.

:class:`ModelFileMixin` (inherited by :class:`._base.TrainingMixin`) turns a fitted
estimator into a model file's settings and tensors (:mod:`hiddenstate._serialize`
writes them) and back, checking every setting and tensor before anything is built.
An estimator stores what is its own through the hooks ``_fitted_config()`` /
``_restore_fitted(config, path)`` (what a model file stores beside the parameters)
and ``_extra_tensors()`` / ``_restore_extra_tensors(tensors, path)`` /
``_extra_tensors_expected()`` (tensors beside the network's).
"""

from __future__ import annotations

import os
from numbers import Integral

import numpy as np

from .. import _serialize
from .._errors import ModelFileError

__all__ = ["ModelFileMixin", "MACHINE_LOCAL"]


#: Settings that describe the machine a model was trained on, not the model: a model
#: file never sets them (they are reset to their defaults on loading).
MACHINE_LOCAL = ("checkpoint_dir", "resume", "devices", "init_from")
#: Settings that are sizes: a network with a dimension ``d`` has at least ``d`` parameters.
_SIZE_SETTINGS = ("n_components", "hidden_size", "embedding_dim")
#: Settings that count layers: each layer has at least one tensor.
_LAYER_SETTINGS = ("num_layers",)


def _check_sizes(params: dict, tensors: dict, path) -> None:
    """ModelFileError when a size or layer count in ``params`` cannot fit the tensors the
    file holds: checked before any network (even an abstract one) is built, so that the
    time and memory of loading are bounded by the file's size."""
    n_tensors = len(tensors)
    n_values = sum(int(np.size(t)) for t in tensors.values())
    for name in _LAYER_SETTINGS:
        value = params.get(name)
        if isinstance(value, Integral) and value > n_tensors:
            raise ModelFileError(f"{path}: setting {name}={value} needs at least {value} "
                                 f"tensors, the file holds {n_tensors}")
    for name in _SIZE_SETTINGS:
        value = params.get(name)
        sizes = list(value) if isinstance(value, list | tuple) else [value]
        if len(sizes) > n_tensors:
            raise ModelFileError(f"{path}: setting {name} lists {len(sizes)} layers, the file "
                                 f"holds {n_tensors} tensors")
        for size in sizes:
            if isinstance(size, Integral) and size > n_values:
                raise ModelFileError(f"{path}: setting {name}={size} needs at least {size} "
                                     f"parameters, the file holds {n_values}")


def _check_recurrent_sizes(est, tensors: dict, path) -> None:
    """ModelFileError unless the recurrent network the settings describe (``num_layers``
    recurrent ``h x h`` matrices, ``h x n_in`` inputs, ``h x n_out`` readout, a
    ``vocabulary x embedding`` table) can fit the values the file holds: then building
    it allocates no more than a few times the file's size."""
    n_values = sum(int(np.size(t)) for t in tensors.values())
    params = est.get_params(deep=False)
    hidden = params.get("hidden_size", params.get("n_components"))
    if not isinstance(hidden, Integral):
        return
    layers = params.get("num_layers", 1)
    layers = int(layers) if isinstance(layers, Integral) else 1
    vocabulary = getattr(est, "vocabulary_", None)
    width = params.get("embedding_dim") or getattr(est, "n_features_in_", 1)
    needs = {
        f"num_layers x hidden_size**2 = {layers} x {hidden}**2": layers * hidden * hidden,
        f"n_features_in x hidden = {getattr(est, 'n_features_in_', 1)} x {hidden}":
            int(getattr(est, "n_features_in_", 1)) * hidden,
        f"n_outputs x hidden = {getattr(est, 'n_outputs_', 1)} x {hidden}":
            int(getattr(est, "n_outputs_", 1) or 1) * hidden,
    }
    if vocabulary is not None:
        needs[f"vocabulary x width = {len(vocabulary)} x {width}"] = len(vocabulary) * int(width)
    for what, need in needs.items():
        if need > n_values:
            raise ModelFileError(f"{path}: the settings need at least {need} parameters "
                                 f"({what}), the file holds {n_values}")


class ModelFileMixin:
    """``save`` and the model-file round trip (``_to_file`` / ``_from_file``) of an
    estimator with sklearn parameters (including those of TRAINING_CONSTRAINTS), a
    fitted ``model_`` and a ``loss_curve_``."""

    #: Prefix of the network's tensors in a model file.
    _tensor_prefix = ""

    def _file_params(self) -> dict:
        """``get_params()`` as a model file stores them: machine-specific settings dropped
        (device lists, checkpoint folders), a RandomState replaced by None."""
        params = self.get_params(deep=False)
        rs = params.get("random_state")
        is_int = isinstance(rs, Integral) and not isinstance(rs, bool)
        params["random_state"] = int(rs) if is_int else None
        if not isinstance(params["devices"], int):
            params["devices"] = None
        params["checkpoint_dir"], params["resume"] = None, False
        return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}

    def _fitted_config(self) -> dict:
        return {}

    def _restore_fitted(self, config: dict, path) -> None:
        del config, path

    def _extra_tensors(self) -> dict[str, np.ndarray]:
        return {}

    def _restore_extra_tensors(self, tensors: dict[str, np.ndarray], path) -> None:
        del tensors, path

    def _to_file(self):
        config = {
            "params": self._file_params(),
            **self._fitted_config(),
            "loss_curve": [float(x) for x in self.loss_curve_],
            "n_iter": int(self.n_iter_),
        }
        tensors = _serialize.module_to_tensors(self.model_, self._tensor_prefix)
        tensors.update(self._extra_tensors())
        return config, tensors

    @classmethod
    def _from_file(cls, config: dict, tensors: dict, *, path):
        """Rebuild a fitted estimator from a model file, checking every setting and tensor.

        Bounded: machine-local settings (:data:`MACHINE_LOCAL`) are reset to their
        defaults, the settings are validated, the sizes they name are checked against
        what the file holds, and the network is first built abstractly
        (``eqx.filter_eval_shape``: shapes only) and compared with the tensors; only a
        file that matches is turned into arrays.
        """
        import equinox as eqx
        import jax

        params = config.get("params")
        if not isinstance(params, dict):
            raise ModelFileError(f"{path}: the model settings hold no parameters")
        defaults = cls().get_params(deep=False)
        unknown = set(params) - set(defaults)
        if unknown:
            raise ModelFileError(f"{path}: unknown settings {sorted(unknown)}")
        params = {**params, **{k: defaults[k] for k in MACHINE_LOCAL if k in defaults}}
        est = cls(**params)
        try:
            est._check_settings()
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"{path}: invalid settings: {exc}") from None
        _check_sizes(params, tensors, path)
        est._restore_fitted(config, path)
        extra = est._extra_tensors_expected()
        model_tensors = {k: v for k, v in tensors.items() if k not in extra}
        try:
            skeleton = eqx.filter_eval_shape(est._new_model, jax.random.key(0))
        except TypeError:
            # Networks whose weights are drawn with NumPy on the host cannot be built
            # abstractly: bound what building one allocates by what the file holds first.
            _check_recurrent_sizes(est, tensors, path)
            skeleton = est._new_model(jax.random.key(0))
        n_params = sum(int(np.prod(x.shape)) for x in jax.tree.leaves(skeleton)
                       if isinstance(x, jax.ShapeDtypeStruct | jax.Array))
        if n_params > _serialize.MAX_PARAMETERS:
            raise ModelFileError(
                f"{path}: the settings imply {n_params} parameters, over the limit of "
                f"{_serialize.MAX_PARAMETERS} (MAX_PARAMETERS)")
        est.model_ = _serialize.tensors_to_module(skeleton, model_tensors, path=path,
                                                  prefix=est._tensor_prefix)
        leftover = sorted(set(model_tensors) - set(_serialize.module_to_tensors(
            est.model_, est._tensor_prefix)))
        if leftover:
            raise ModelFileError(f"{path}: unexpected tensors {leftover}")
        est._restore_extra_tensors({k: v for k, v in tensors.items() if k in extra}, path)
        curve = config.get("loss_curve", [])
        if not isinstance(curve, list):
            raise ModelFileError(f"{path}: loss_curve is not a list")
        est.loss_curve_ = [float(x) for x in curve]
        est.validation_scores_ = []
        n_iter = config.get("n_iter", len(est.loss_curve_))
        if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
            raise ModelFileError(f"{path}: n_iter {n_iter!r} is not a number of epochs")
        est.n_iter_ = n_iter
        finite = [x for x in est.loss_curve_ if np.isfinite(x)]
        est.best_loss_ = min(finite) if finite else float("nan")
        est._opt_state, est._step, est._rng = None, 0, est._numpy_rng()
        return est

    def _extra_tensors_expected(self) -> set[str]:
        """Names of the non-network tensors a model file of this estimator holds."""
        return set()

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted estimator to ``path`` (safetensors + JSON), atomically."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        config, tensors = self._to_file()
        _serialize.save(path, type(self).__name__, config, tensors)
