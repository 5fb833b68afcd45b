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

import json
import os
import warnings
from numbers import Integral

import numpy as np

from .. import _serialize
from .._errors import InputError, ModelFileError, ModelSizeWarning

__all__ = ["ModelFileMixin", "MACHINE_LOCAL"]


#: Settings that describe the machine a model was trained on, not the model: a model
#: file never sets them (they are reset to their defaults on loading).
MACHINE_LOCAL = ("checkpoint_dir", "resume", "devices", "init_from")
#: Settings that are sizes: a network with a dimension ``d`` has at least ``d`` parameters.
_SIZE_SETTINGS = ("n_components", "hidden_size", "embedding_dim")
#: Settings that count layers: each layer has at least one tensor.
_LAYER_SETTINGS = ("num_layers",)


#: Header bytes a loss value takes at most: a float's repr (up to 24 characters, as in
#: ``-1.2345678901234567e-300``) and ``", "``.
_BYTES_PER_VALUE = 26
#: Header bytes for each tensor (name, dtype, shape, offsets), and for the rest.
_BYTES_PER_TENSOR = 200
_BYTES_OTHER = 4096


def _escaped_json_size(obj) -> int:
    """Bytes ``obj`` takes as JSON text stored as a string inside the JSON header."""
    return len(json.dumps(json.dumps(obj, sort_keys=True)))


def _header_error(what: str, need: int, parts: list[str], advice: str) -> str:
    from .._limits import format_bytes

    return (f"{what}'s header would need about {format_bytes(need)}, over its limit of "
            f"{format_bytes(_serialize.MAX_HEADER_BYTES)} (MAX_HEADER_BYTES): "
            f"{'; '.join(parts)}; {advice}")


def _check_magnitudes(params: dict, path) -> None:
    """ModelFileError for a setting (or an element of a list setting) no model takes:
    NaN, infinite, or of an absurd magnitude (the command line's limits)."""
    from .._limits import insane_number

    for name, value in sorted(params.items()):
        for v in value if isinstance(value, list) else [value]:
            why = insane_number(v)
            if why:
                shown = (f"{v:.6g}" if isinstance(v, float) else str(v)
                         if v.bit_length() < 64 else f"an integer of {v.bit_length()} bits")
                raise ModelFileError(f"{path}: setting {name} is {shown}: {why}")


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
        _check_magnitudes(params, path)
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

    def _check_file_sizes(self, model, epochs: int, checkpoint_settings=None) -> None:
        """Before training: warn (:class:`ModelSizeWarning`) when the model file of this
        run would pass :data:`~hiddenstate._serialize.MAX_HEADER_BYTES` (its settings,
        vocabulary and a loss curve of up to ``epochs`` values), and refuse
        (:class:`InputError`) when a checkpoint of it would (``checkpoint_settings``:
        the run's, when it writes checkpoints), with the numbers."""
        import equinox as eqx
        import jax

        from .._limits import format_bytes

        n_tensors = len(jax.tree.leaves(eqx.filter(model, eqx.is_array)))
        curve = _BYTES_PER_VALUE * int(epochs)
        limit = _serialize.MAX_HEADER_BYTES
        room = limit - _BYTES_OTHER - _BYTES_PER_TENSOR * n_tensors
        curve_part = (f"a loss curve of up to {int(epochs):,} values (max_iter) takes up to "
                      f"{format_bytes(curve)}")
        if checkpoint_settings is not None:
            # the loss and validation curves, the carry: parameters and optimizer state
            settings = _escaped_json_size(checkpoint_settings)
            need = settings + 2 * curve + 3 * _BYTES_PER_TENSOR * n_tensors + _BYTES_OTHER
            if need > limit:
                raise InputError(_header_error(
                    "a checkpoint", need, [f"two curves of up to {int(epochs):,} values "
                                           f"(max_iter) take up to {format_bytes(2 * curve)}"],
                    f"choose max_iter <= {max(room - settings, 0) // (2 * _BYTES_PER_VALUE):,}"
                    " or train without checkpoints"))
        try:
            fitted = self._fitted_config()
        except (AttributeError, TypeError):  # not everything is known before training
            fitted = {}
        settings = _escaped_json_size({"params": self._file_params(), **fitted})
        need = settings + curve + limit - room
        if need <= limit:
            return
        vocabulary = getattr(self, "vocabulary_", None)
        words = f" and a vocabulary of {len(vocabulary):,} tokens" if vocabulary else ""
        parts = [curve_part, f"the settings{words} take {format_bytes(settings)}"]
        if settings < room:
            advice = f"choose max_iter <= {(room - settings) // _BYTES_PER_VALUE:,}"
        else:
            advice = "keep fewer tokens (min_count, max_features)" if words else "choose "\
                "smaller settings"
        warnings.warn(_header_error("the model file", need, parts, advice + "; it could "
                                    "not be saved"), ModelSizeWarning, stacklevel=4)

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted estimator to ``path`` (safetensors + JSON), atomically.

        Raises :class:`InputError` naming the cause (the loss curve's and the settings'
        sizes) when the file's header would pass
        :data:`~hiddenstate._serialize.MAX_HEADER_BYTES`; nothing is written then."""
        from sklearn.utils.validation import check_is_fitted

        from .._limits import format_bytes

        check_is_fitted(self)
        config, tensors = self._to_file()
        curve = _escaped_json_size(config.get("loss_curve", []))
        need = (_escaped_json_size(config) + _BYTES_PER_TENSOR * len(tensors) + _BYTES_OTHER)
        if need > _serialize.MAX_HEADER_BYTES:
            parts = [f"its loss curve of {len(self.loss_curve_):,} values takes "
                     f"{format_bytes(curve)}", f"the rest (settings, vocabulary, tensors) takes "
                     f"{format_bytes(need - curve)}"]
            raise InputError(_header_error("the model file", need, parts,
                                           "it cannot be saved"), path=path)
        _serialize.save(path, type(self).__name__, config, tensors)
