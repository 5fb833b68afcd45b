"""Time series (issue 24): hiddenstate's SequenceClassifier with its defaults against 1-NN
Euclidean, 1-NN DTW and (where aeon is installed) ROCKET on the UEA & UCR panel's official
splits; and the rolling-origin forecasting table (hiddenstate against naive, seasonal naive
and an autoregression) where :func:`hiddenstate.forecasting.backtest` is available.

The 1-NN baselines are written here in NumPy (:func:`nn1_euclidean`, :func:`nn1_dtw`); the
library never needs aeon, which only adds the ROCKET column.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .. import plotting
from ..report import ExperimentResult, ResultRow
from ._common import Timer, figure_path, quick_note, quiet

__all__ = ["Config", "available", "run", "nn1_euclidean", "nn1_dtw", "dtw_distances",
           "euclidean_distances", "accuracy_figure", "REFERENCE", "FORECAST_SETS"]

NAME = "time-series"
TITLE = ("Time series: SequenceClassifier defaults vs 1-NN Euclidean, 1-NN DTW and ROCKET on "
         "the UEA & UCR panel; rolling-origin forecasts vs naive, seasonal naive and AR")

#: Test accuracies on the official splits measured with aeon and scikit-learn (the data
#: folder's README): ``problem -> (1-NN Euclidean, 1-NN DTW, ROCKET or None)``.
REFERENCE = {
    "GunPoint": (0.913, 0.907, 1.000),
    "ItalyPowerDemand": (0.955, 0.950, 0.970),
    "BasicMotions": (0.600, 0.975, 1.000),
    "JapaneseVowels": (0.916, 0.949, None),
}
METHODS = ("hiddenstate", "1-NN Euclidean", "1-NN DTW", "ROCKET")
#: The forecasting panel: ``name -> (horizon, test size)`` (issue 24's targets).
FORECAST_SETS = {"sunspots": (10, 30), "nile": (5, 20), "co2": (52, 104)}


@dataclasses.dataclass(frozen=True)
class Config:
    """Protocol. Classification: each problem's official ``_TRAIN.ts`` / ``_TEST.ts``
    split, the series as distributed; ``SequenceClassifier()`` with its defaults
    (``classifier_max_iter`` 0; else that many epochs) and ``random_state``; 1-NN with the
    Euclidean distance (unequal lengths zero-padded to the longest series of the problem)
    and with DTW (full window, squared differences summed over the channels, as aeon's
    ``dtw_distance``); ROCKET (aeon's ``RocketClassifier``, ``rocket_kernels`` kernels)
    when ``rocket`` and aeon is importable, on equal-length problems. Seconds: fit and test
    predictions. Forecasting (``forecasting``): :func:`hiddenstate.forecasting.backtest` on
    each of ``forecast_sets`` with the horizon and test size of :data:`FORECAST_SETS`
    (missing values of co2 interpolated first)."""

    problems: tuple[str, ...] = ("GunPoint", "ItalyPowerDemand", "BasicMotions",
                                 "JapaneseVowels")
    classifier_max_iter: int = 0
    rocket: bool = True
    rocket_kernels: int = 10000
    forecasting: bool = True
    forecast_sets: tuple[str, ...] = ("sunspots", "nile", "co2")
    check_targets: bool = True
    random_state: int = 0

    @classmethod
    def quick(cls) -> Config:
        """``reproduce --quick``: ItalyPowerDemand only (24 steps), 3 epochs, no ROCKET,
        no forecasting; targets reported, not checked."""
        return cls(problems=("ItalyPowerDemand",), classifier_max_iter=3, rocket=False,
                   forecasting=False, check_targets=False)


def _folder(data_dir: Path | None, sub: str) -> Path | None:
    """``data_dir/sub`` or ``data_dir/timeseries/sub`` (``--data`` may name the panel's
    folder or the folder above it), or None."""
    if data_dir is None:
        return None
    for base in (Path(data_dir), Path(data_dir) / "timeseries"):
        if (base / sub).is_dir():
            return base / sub
    return None


def available(data_dir: Path | None) -> bool:
    """When ``data_dir`` holds the panel's ``classification/`` folder."""
    return _folder(data_dir, "classification") is not None


# -- reading ---------------------------------------------------------------------------------
def _load_ts(path: Path):
    """``(list of (T_i, d) arrays, labels)`` of a ``.ts`` file
    (:func:`hiddenstate.datasets.load_ts`)."""
    from ..datasets import load_ts

    return load_ts(path)


# -- the 1-NN baselines ----------------------------------------------------------------------
def _padded(seqs: list[np.ndarray], length: int) -> np.ndarray:
    out = np.zeros((len(seqs), length, seqs[0].shape[1]), np.float64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


def euclidean_distances(test: list[np.ndarray], train: list[np.ndarray]) -> np.ndarray:
    """``(n_test, n_train)`` Euclidean distances between the series flattened, each
    zero-padded to the longest of both sets (``(T_i, d)`` arrays)."""
    length = max(len(s) for s in [*test, *train])
    a = _padded(test, length).reshape(len(test), -1)
    b = _padded(train, length).reshape(len(train), -1)
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def dtw_distances(test: list[np.ndarray], train: list[np.ndarray], *,
                  chunk_cells: int = 4_000_000) -> np.ndarray:
    r"""``(n_test, n_train)`` DTW distances with a full window: the least sum, over the
    warping paths from ``(0, 0)`` to ``(T_a - 1, T_b - 1)``, of
    :math:`c(i, j) = \sum_k (a_{ik} - b_{jk})^2` (aeon's ``dtw_distance``; no square root).

    Vectorised over every (test, train) pair at once: one pass over the cells ``(i, j)``,
    each an operation on ``(n_test, n_train)`` arrays, in blocks of test series that keep
    a row of costs under ``chunk_cells`` values. Series of different lengths are padded;
    the padding never reaches the cell read out for a pair.
    """
    la = np.array([len(s) for s in test])
    lb = np.array([len(s) for s in train])
    A, B = _padded(test, int(la.max())), _padded(train, int(lb.max()))
    out = np.empty((len(test), len(train)))
    per = max(1, chunk_cells // max(1, len(train) * B.shape[1] * B.shape[2]))
    for start in range(0, len(test), per):
        rows = slice(start, start + per)
        out[rows] = _dtw_block(A[rows], la[rows], B, lb)
    return out


def _dtw_block(A: np.ndarray, la: np.ndarray, B: np.ndarray, lb: np.ndarray) -> np.ndarray:
    n, m, Tb = A.shape[0], B.shape[0], B.shape[1]
    out = np.empty((n, m))
    prev = np.full((n, m, Tb), np.inf)
    for i in range(A.shape[1]):
        cost = ((A[:, None, i, None, :] - B[None, :, :, :]) ** 2).sum(-1)  # (n, m, Tb)
        cur = np.empty_like(prev)
        cur[..., 0] = cost[..., 0] + (0.0 if i == 0 else prev[..., 0])
        for j in range(1, Tb):
            best = np.minimum(np.minimum(prev[..., j - 1], prev[..., j]), cur[..., j - 1])
            cur[..., j] = cost[..., j] + best
        ends = la == i + 1
        if ends.any():
            out[ends] = cur[ends][:, np.arange(m), lb - 1]
        prev = cur
    return out


def _nearest(distances: np.ndarray, y_train) -> np.ndarray:
    """The label of each test series' nearest training series (the first of ties)."""
    return np.asarray(y_train)[np.argmin(distances, axis=1)]


def nn1_euclidean(train: list[np.ndarray], y_train, test: list[np.ndarray]) -> np.ndarray:
    """1-NN Euclidean predictions for ``test`` (see :func:`euclidean_distances`)."""
    return _nearest(euclidean_distances(test, train), y_train)


def nn1_dtw(train: list[np.ndarray], y_train, test: list[np.ndarray]) -> np.ndarray:
    """1-NN DTW (full window) predictions for ``test`` (see :func:`dtw_distances`)."""
    return _nearest(dtw_distances(test, train), y_train)


# -- the methods -----------------------------------------------------------------------------
def _hiddenstate(config: Config, train, y_train, test) -> np.ndarray:
    from ..estimators import SequenceClassifier

    kwargs = {"random_state": config.random_state}
    if config.classifier_max_iter:
        kwargs["max_iter"] = config.classifier_max_iter
    est = SequenceClassifier(**kwargs)
    with quiet():
        est.fit(train, y_train)
    return est.predict(test)


def _rocket_available() -> bool:
    try:
        import aeon.classification.convolution_based  # noqa: F401
    except ImportError:
        return False
    return True


def _rocket(config: Config, train, y_train, test) -> np.ndarray:
    from aeon.classification.convolution_based import RocketClassifier

    # aeon's collections are (n, channels, T)
    est = RocketClassifier(n_kernels=config.rocket_kernels, random_state=config.random_state)
    est.fit(np.stack([s.T for s in train]), np.asarray(y_train))
    return est.predict(np.stack([s.T for s in test]))


def _classification(config: Config, folder: Path, rows: list, notes: list) -> dict:
    """Rows of the classification table; returns ``{problem: {method: accuracy}}``."""
    rocket = config.rocket and _rocket_available()
    if config.rocket and not rocket:
        notes.append("ROCKET: aeon is not importable here (pip install "
                     "'hiddenstate[timeseries]'), so its column is empty.")
    accuracy: dict = {}
    for problem in config.problems:
        train, y_train = _load_ts(folder / f"{problem}_TRAIN.ts")
        test, y_test = _load_ts(folder / f"{problem}_TEST.ts")
        y_train, y_test = np.asarray(y_train).astype(str), np.asarray(y_test).astype(str)
        equal = len({len(s) for s in [*train, *test]}) == 1
        methods = {"hiddenstate": _hiddenstate,
                   "1-NN Euclidean": lambda c, *a: nn1_euclidean(*a),
                   "1-NN DTW": lambda c, *a: nn1_dtw(*a)}
        if rocket and equal:
            methods["ROCKET"] = _rocket
        accuracy[problem] = {}
        for method, fn in methods.items():
            with Timer() as t:
                predicted = fn(config, train, y_train, test)
            acc = float(np.mean(np.asarray(predicted).astype(str) == y_test))
            accuracy[problem][method] = acc
            rows.append(_row(config, problem, method, acc, t.seconds, len(train),
                             len(test)))
    return accuracy


def _row(config: Config, problem: str, method: str, acc: float, seconds: float,
         n_train: int, n_test: int) -> ResultRow:
    reference = REFERENCE.get(problem, (None,) * 3)
    seed = dict(zip(METHODS[1:], reference, strict=True)).get(method)
    variant = {"hiddenstate": "SequenceClassifier() defaults"
               + (f", max_iter={config.classifier_max_iter}" if config.classifier_max_iter
                  else ""),
               "ROCKET": f"aeon RocketClassifier({config.rocket_kernels} kernels)"}.get(
                   method, f"{method} (NumPy)")
    passed, target = None, ""
    if method == "hiddenstate" and config.check_targets and reference[1] is not None:
        passed, target = acc >= reference[1], f">= 1-NN DTW ({reference[1]:.3f})"
    return ResultRow(NAME, f"{problem} test accuracy ({n_train} train / {n_test} test)",
                     seed, acc, seconds, variant, passed=passed, target=target,
                     source="baseline")


# -- forecasting -----------------------------------------------------------------------------
def _read_forecast_csv(path: Path) -> np.ndarray:
    """The values column (the last) of a forecasting CSV with a header and a time column;
    empty cells or NaN interpolated linearly (co2's gaps)."""
    with open(path, encoding="utf-8") as handle:
        lines = [ln.strip().split(",") for ln in handle.read().splitlines()[1:] if ln.strip()]
    values = np.array([float(r[-1]) if r[-1] not in ("", "NA", "nan", "NaN") else np.nan
                       for r in lines])
    gaps = np.isnan(values)
    if gaps.any():
        steps = np.arange(values.size)
        values[gaps] = np.interp(steps[gaps], steps[~gaps], values[~gaps])
    return values


def _forecasting(config: Config, data_dir: Path | None, out_dir: Path, rows: list,
                 figures: dict, notes: list) -> None:
    """The forecasting table: a clearly separate part, filled from
    ``hiddenstate.forecasting.backtest`` (its JSON layout: ``{"methods": {name: {"rmse":
    [...], "mae": [...], "coverage": c}}, "horizon": H, "test_size": N}``)."""
    folder = _folder(data_dir, "forecasting")
    try:
        from ..forecasting import backtest  # type: ignore[import-not-found]
    except ImportError:
        notes.append("Forecasting table not run: hiddenstate.forecasting.backtest is not "
                     "importable in this build (no figures are given in its place).")
        return
    if folder is None:
        notes.append("Forecasting table not run: no forecasting/ folder under --data.")
        return
    for name in config.forecast_sets:
        horizon, test_size = FORECAST_SETS[name]
        series = _read_forecast_csv(folder / f"{name}.csv")
        with Timer() as t, quiet():
            result = backtest(series, horizon, test_size, random_state=config.random_state)
        methods = result["methods"]
        for method, got in methods.items():
            rmse = float(np.mean(got["rmse"]))
            passed, target = None, ""
            if method == "hiddenstate" and config.check_targets:
                best = min(float(np.mean(m["rmse"])) for k, m in methods.items()
                           if k != "hiddenstate")
                # A tie within float rounding passes: when the forecaster keeps the very
                # autoregression the AR baseline fits, the two differ in the last digits.
                passed = rmse <= best * (1 + 1e-6)
                target = f"<= best baseline ({best:.4g})"
            cov, static = got.get("coverage"), got.get("static_coverage")
            how = "" if static is None else f" (adaptive; split conformal alone {static:.3f})"
            rows.append(ResultRow(
                NAME, f"{name} mean RMSE over horizons 1-{horizon} (last {test_size})",
                None, rmse, t.seconds if method == "hiddenstate" else 0.0,
                method + (f", 90% interval coverage {cov:.3f}{how}" if cov is not None else ""),
                passed=passed, target=target))
        path = figure_path(out_dir, f"time_series_{name}_rmse.png")
        plotting.learning_curves({k: np.asarray(v["rmse"]) for k, v in methods.items()},
                                 path=path, logy=False, xlabel="steps ahead", ylabel="RMSE",
                                 title=f"{name}: rolling-origin RMSE by horizon")
        figures[f"{name}: RMSE by steps ahead, rolling origin over the last {test_size}"] = \
            str(path)


# -- the figure ------------------------------------------------------------------------------
def accuracy_figure(matrix: np.ndarray, problems, methods, *, path=None):
    """Grouped bars: one group per problem (rows of ``matrix``), one bar per method
    (columns; NaN: no bar), the accuracy written on each. A method with no figure at all
    (ROCKET without aeon) is left out, legend included."""
    ran = [j for j in range(len(methods)) if np.isfinite(matrix[:, j]).any()]
    matrix, methods = matrix[:, ran], [methods[j] for j in ran]
    fig = plotting._figure((max(5.0, 1.6 * len(problems) + 2), 4))
    ax = fig.add_subplot()
    width = 0.8 / len(methods)
    for j, method in enumerate(methods):
        x = np.arange(len(problems)) + (j - (len(methods) - 1) / 2) * width
        bars = ax.bar(x, np.nan_to_num(matrix[:, j], nan=0.0), width, label=method)
        for bar, v in zip(bars, matrix[:, j], strict=True):
            if np.isfinite(v):
                ax.text(bar.get_x() + bar.get_width() / 2, v + 0.005, f"{v:.3f}",
                        ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(range(len(problems)), labels=list(problems))
    finite = matrix[np.isfinite(matrix)]
    ax.set_ylim(max(0.0, float(finite.min()) - 0.1) if finite.size else 0.0, 1.08)
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Test accuracy on the official splits")
    return plotting.save(fig, path)


# -- the experiment --------------------------------------------------------------------------
def run(config: Config, out_dir: Path, data_dir: Path | None = None) -> ExperimentResult:
    folder = _folder(data_dir, "classification")
    if folder is None:
        raise ValueError(f"experiment {NAME!r} needs --data with the panel's classification/ "
                         "folder (e.g. ../shared/data/timeseries)")
    rows: list[ResultRow] = []
    figures: dict[str, str] = {}
    notes: list[str] = []
    with Timer() as total:
        accuracy = _classification(config, folder, rows, notes)
        if accuracy:
            matrix = np.array([[accuracy[p].get(m, np.nan) for m in METHODS]
                               for p in config.problems])
            path = figure_path(out_dir, "time_series_accuracy.png")
            accuracy_figure(matrix, config.problems, METHODS, path=path)
            figures["Test accuracy per problem and method (no bar: not run)"] = str(path)
        if config.forecasting:
            _forecasting(config, data_dir, out_dir, rows, figures, notes)
    text = ("Classification on the UEA & UCR archive's official splits, the series as "
            "distributed; the 'seed' column holds the reference accuracies the data folder's "
            "README measured with aeon. " + " ".join(notes)
            + quick_note(config, "The quick run trains a few epochs: its accuracy is not "
                                 "the defaults'."))
    return ExperimentResult(NAME, rows, figures, dataclasses.asdict(config), total.seconds,
                            notes=text.strip())
