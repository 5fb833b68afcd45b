"""Scaling of real-valued sequences, fitted with a model and stored in its file.

``scale`` is a setting of every sequence estimator:

- ``"standard"``: per channel, mean 0 and variance 1 over every step of the training
  sequences (the statistics are stored in the model file);
- ``"minmax"``: per channel, the training range to [0, 1] (stored);
- ``"series"``: each sequence to mean 0 and variance 1 per channel, by its own
  statistics (the z-normalisation the UEA & UCR archive uses; nothing is stored);
- ``"none"``: the values as given;
- ``"auto"``: what the estimator chooses for real-valued input (its docstring says which).

A channel that is constant (zero variance or range) is only shifted. Predictions in the
data's units (forecasts, reconstructions, regression targets) are mapped back with
:meth:`Scaling.inverse`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._errors import ModelFileError

__all__ = ["SCALES", "Scaling", "check_kept_scaling", "fit_scaling"]

#: What ``scale`` may be.
SCALES = ("auto", "standard", "minmax", "series", "none")

#: Below this spread a channel counts as constant and is only shifted.
_TINY = 1e-12


def _spread(values: np.ndarray) -> np.ndarray:
    return np.where(values > _TINY, values, 1.0)


@dataclass(frozen=True)
class Scaling:
    """A fitted scaling: ``x -> (x - loc) / scale`` per channel.

    For ``kind="series"`` the location and scale are each sequence's own; ``loc`` and
    ``scale`` are then None and :meth:`transform` returns them for :meth:`inverse`.
    """

    kind: str
    loc: np.ndarray | None = None
    scale: np.ndarray | None = None

    def statistics(self, seqs: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(loc, scale)`` of each sequence, each of shape ``(n_features,)``."""
        if self.kind == "series":
            return [(s.mean(axis=0, dtype=np.float64),
                     _spread(s.std(axis=0, dtype=np.float64))) for s in seqs]
        if self.kind == "none":
            return [(np.zeros(s.shape[1]), np.ones(s.shape[1])) for s in seqs]
        return [(self.loc, self.scale)] * len(seqs)

    def transform(self, seqs: list[np.ndarray]) -> list[np.ndarray]:
        """The sequences ``(T_i, d)`` scaled, as float32."""
        if self.kind == "none":
            return seqs
        return [((s - loc) / sc).astype(np.float32)
                for s, (loc, sc) in zip(seqs, self.statistics(seqs), strict=True)]

    def inverse(self, outputs, stats: list[tuple[np.ndarray, np.ndarray]]):
        """Map values predicted in scaled units back to the data's: ``outputs[i]`` (any
        shape whose last axis is the channels) with the statistics of sequence ``i``."""
        if self.kind == "none":
            return outputs
        return [(np.asarray(o, np.float64) * sc + loc).astype(np.float32)
                for o, (loc, sc) in zip(outputs, stats, strict=True)]

    # -- files ---------------------------------------------------------------------------------
    def to_config(self) -> dict:
        out: dict = {"kind": self.kind}
        if self.loc is not None:
            out["loc"] = [float(v) for v in self.loc]
            out["scale"] = [float(v) for v in self.scale]
        return out

    @classmethod
    def from_config(cls, config, n_features: int, path) -> Scaling:
        """Read :meth:`to_config`'s output back, checked; ``None`` (files written before
        scaling was stored) reads as ``"none"``."""
        if config is None:
            return cls("none")
        kind = config.get("kind") if isinstance(config, dict) else None
        if kind not in SCALES or kind == "auto":
            raise ModelFileError(f"{path}: unknown scaling {kind!r}")
        if kind in ("series", "none"):
            return cls(kind)
        try:
            loc = np.asarray(config["loc"], np.float64)
            scale = np.asarray(config["scale"], np.float64)
        except (KeyError, TypeError, ValueError):
            raise ModelFileError(f"{path}: scaling {kind!r} without its statistics") from None
        if (loc.shape != (n_features,) or scale.shape != (n_features,)
                or not np.isfinite(loc).all() or not (np.isfinite(scale) & (scale > 0)).all()):
            raise ModelFileError(f"{path}: scaling statistics do not match {n_features} "
                                 "features, or are not finite and positive")
        return cls(kind, loc, scale)


def fit_scaling(kind: str, seqs: list[np.ndarray]) -> Scaling:
    """Fit the scaling ``kind`` (never ``"auto"``: the estimator resolves it) on the
    training sequences ``seqs`` (each ``(T_i, d)``, finite)."""
    if kind not in SCALES or kind == "auto":
        raise ValueError(f"scale must be one of {', '.join(s for s in SCALES if s != 'auto')}, "
                         f"got {kind!r}")
    if kind in ("series", "none"):
        return Scaling(kind)
    steps = np.concatenate(seqs, axis=0).astype(np.float64)
    if kind == "standard":
        return Scaling(kind, steps.mean(axis=0), _spread(steps.std(axis=0)))
    low = steps.min(axis=0)
    return Scaling(kind, low, _spread(steps.max(axis=0) - low))


def check_kept_scaling(scale: str, fitted: Scaling, auto: str) -> None:
    """Refuse training on (``partial_fit``, ``warm_start``) with a ``scale`` other than the
    one the model was first fitted with: its weights belong to that scaling. ``auto``: what
    ``"auto"`` means for the model's input."""
    wanted = auto if scale == "auto" else scale
    if wanted != fitted.kind:
        raise ValueError(f"scale={scale!r} ({wanted}) differs from the scaling this model was "
                         f"fitted with ({fitted.kind!r}); continued training keeps the first "
                         "fit's scaling: set scale back, or fit anew (warm_start=False)")
