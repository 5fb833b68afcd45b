"""W2 quality B: seed 003's tied sigmoid autoencoder on the 10,000 MNIST test images."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .. import plotting
from ..datasets import load_mnist
from ..report import ExperimentResult, ResultRow
from . import digits
from ._common import Timer, figure_path, image_figures, quiet

NAME = "mnist"
TITLE = "W2 MNIST: tied sigmoid autoencoder 784 -> 500 -> 784 (seed 003)"


@dataclasses.dataclass(frozen=True)
class Config:
    """WORKLOADS.md W2 quality B."""

    hidden: int = 500
    epochs: int = 20
    random_state: int = 0

    @classmethod
    def quick(cls) -> Config:
        """``reproduce --quick``: 5 epochs."""
        return cls(epochs=5)


def available(data_dir: Path | None) -> bool:
    return data_dir is not None and (Path(data_dir) / "mnist").is_dir()


def run(config: Config, out_dir: Path, *, data_dir: Path) -> ExperimentResult:
    X, _ = load_mnist(Path(data_dir) / "mnist", "t10k")
    epochs = config.epochs
    recipe = digits.Config(random_state=config.random_state)
    rows, figures, curves = [], {}, {}
    with Timer() as total:
        for variant, est in (
            ("seed algorithm", digits.seed_estimator(recipe, config.hidden, epochs)),
            ("hiddenstate default", digits.ours_estimator(recipe, config.hidden, epochs)),
        ):
            with quiet(), Timer() as t:
                est.fit(X)
            rows.append(ResultRow(NAME, f"mean cross-entropy, epoch {epochs}", None,
                                  est.loss_curve_[-1], t.seconds, variant,
                                  target="report (seed showed only pictures)"))
            curves[variant] = np.asarray(est.loss_curve_)
            figures.update(image_figures(est, X, out_dir=out_dir, prefix="mnist",
                                         label="MNIST", variant=variant,
                                         image_shape=(28, 28), close_up=100))
        path = figure_path(out_dir, "mnist_curves.png")
        plotting.learning_curves(curves, path=path, title="W2 MNIST learning curves",
                                 ylabel="cross-entropy")
        figures["MNIST learning curves"] = str(path)
    settings = {**dataclasses.asdict(config), "images": int(X.shape[0])}
    return ExperimentResult(NAME, rows, figures, settings, total.seconds)
