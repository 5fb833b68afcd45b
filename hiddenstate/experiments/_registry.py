"""The experiments by name, their resolved configs, and ``reproduce``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

from . import (
    anomaly,
    digits,
    donut,
    embedded_reber,
    forecast,
    mnist,
    reber,
    recurrent_ae,
    scan_exercise,
    sentence_models,
    sentiment,
    time_series,
)
from ._names import EXPERIMENT_NAMES
from ._overrides import apply_overrides, split_overrides

__all__ = ["EXPERIMENTS", "Experiment", "reproduce", "resolved_configs"]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named experiment: how to run it and whether it can run with the data at hand.

    ``run(config, out_dir)``, plus ``data_dir=`` when ``needs_data`` or ``uses_data``
    (an experiment that runs without data and does more with it: ``data_dir`` may be
    None); ``config`` is the Config class (``config()`` the full run, ``config.quick()``
    the quick one).
    """

    name: str
    title: str
    run: Callable
    config: type
    needs_data: bool = False
    uses_data: bool = False
    available: Callable[[Path | None], bool] = lambda data_dir: True


EXPERIMENTS: dict[str, Experiment] = {
    "donut": Experiment("donut", donut.TITLE, donut.run, donut.Config),
    "digits": Experiment("digits", digits.TITLE, digits.run, digits.Config),
    "mnist": Experiment("mnist", mnist.TITLE, mnist.run, mnist.Config, needs_data=True,
                        available=mnist.available),
    "reber": Experiment("reber", reber.TITLE, reber.run, reber.Config),
    "embedded-reber": Experiment("embedded-reber", embedded_reber.TITLE, embedded_reber.run,
                                 embedded_reber.Config),
    "scan-exercise": Experiment("scan-exercise", scan_exercise.TITLE, scan_exercise.run,
                                scan_exercise.Config),
    "recurrent-ae": Experiment("recurrent-ae", recurrent_ae.TITLE, recurrent_ae.run,
                               recurrent_ae.Config),
    "sentiment": Experiment("sentiment", sentiment.TITLE, sentiment.run, sentiment.Config,
                            needs_data=True, available=sentiment.available),
    "sentence-models": Experiment("sentence-models", sentence_models.TITLE, sentence_models.run,
                                  sentence_models.Config, needs_data=True,
                                  available=sentence_models.available),
    "anomaly": Experiment("anomaly", anomaly.TITLE, anomaly.run, anomaly.Config, uses_data=True,
                          available=anomaly.available),
    "forecast": Experiment("forecast", forecast.TITLE, forecast.run, forecast.Config),
    "time-series": Experiment("time-series", time_series.TITLE, time_series.run,
                              time_series.Config, needs_data=True,
                              available=time_series.available),
}


def _select(names: Iterable[str] | None) -> list[str]:
    if not names:
        return list(EXPERIMENT_NAMES)
    names = list(names)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(
            f"unknown experiment(s) {', '.join(unknown)}; valid: {', '.join(EXPERIMENTS)}"
        )
    return names


def _configs(selected: list[str], quick: bool, overrides: Iterable[str] | None) -> dict:
    by_name = split_overrides(overrides or (), selected, EXPERIMENT_NAMES)
    configs = {}
    for name in selected:
        cls = EXPERIMENTS[name].config
        configs[name] = apply_overrides(cls.quick() if quick else cls(), by_name.get(name, {}),
                                        name)
    return configs


def resolved_configs(
    names: Iterable[str] | None = None,
    quick: bool = False,
    overrides: Iterable[str] | None = None,
) -> dict[str, dict]:
    """``{name: dataclasses.asdict(config)}``: what ``reproduce`` would run, in its order.

    ``names`` as for :func:`reproduce` (all when empty), ``overrides`` the raw
    ``"NAME.FIELD=VALUE"`` strings; raises ValueError as ``reproduce`` does.
    """
    selected = _select(names)
    return {n: dataclasses.asdict(c) for n, c in _configs(selected, quick, overrides).items()}


def reproduce(
    names: Iterable[str] | None,
    out_dir: Path,
    *,
    quick: bool = False,
    data_dir: Path | None = None,
    on_result: Callable | None = None,
    on_skip: Callable | None = None,
    overrides: Iterable[str] | None = None,
):
    """Run the named experiments (all when ``None``); returns their results.

    Each runs its ``Config()``, or ``Config.quick()`` when ``quick``, with
    ``overrides`` (``["embedded-reber.n_train_seed=2000", ...]``) applied on
    top; every override is checked before anything runs, and the resolved
    config is stored in each result's ``settings`` (and so in results.json).
    Experiments that need ``data_dir`` and cannot find their files are skipped
    (``on_skip(name, reason)``) unless named explicitly, which is an error.
    """
    selected = _select(names)
    configs = _configs(selected, quick, overrides)
    results = []
    for name in selected:
        exp = EXPERIMENTS[name]
        if exp.needs_data and not exp.available(data_dir):
            reason = f"needs --data DIR with the files of {exp.name!r} (e.g. ../shared/data)"
            if names:
                raise ValueError(f"experiment {exp.name!r} {reason}")
            if on_skip:
                on_skip(exp.name, reason)
            continue
        kwargs = {"data_dir": data_dir} if exp.needs_data or exp.uses_data else {}
        result = exp.run(configs[name], Path(out_dir), **kwargs)
        results.append(result)
        if on_result:
            on_result(result)
    return results
