"""The classic experiments: one module each, a frozen ``Config`` plus ``run``.

``reproduce`` runs them in order, prints the table and writes the report.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from . import (
    digits,
    donut,
    embedded_reber,
    mnist,
    reber,
    recurrent_ae,
    scan_exercise,
    sentiment,
)

__all__ = ["EXPERIMENTS", "Experiment", "reproduce"]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A named experiment: how to run it and whether it can run with the data at hand."""

    name: str
    title: str
    run: Callable
    config: type
    needs_data: bool = False
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
}


def reproduce(
    names: list[str] | None,
    out_dir: Path,
    *,
    quick: bool = False,
    data_dir: Path | None = None,
    on_result: Callable | None = None,
    on_skip: Callable | None = None,
):
    """Run the named experiments (all when ``None``); returns their results.

    Experiments that need ``data_dir`` and cannot find their files are skipped
    (``on_skip(name, reason)``) unless named explicitly, which is an error.
    """
    if names:
        unknown = [n for n in names if n not in EXPERIMENTS]
        if unknown:
            raise ValueError(
                f"unknown experiment(s) {', '.join(unknown)}; valid: {', '.join(EXPERIMENTS)}"
            )
    selected = [EXPERIMENTS[n] for n in (names or EXPERIMENTS)]
    results = []
    for exp in selected:
        if exp.needs_data and not exp.available(data_dir):
            reason = f"needs --data DIR with the files of {exp.name!r} (e.g. ../shared/data)"
            if names:
                raise ValueError(f"experiment {exp.name!r} {reason}")
            if on_skip:
                on_skip(exp.name, reason)
            continue
        kwargs = {"quick": quick}
        if exp.needs_data:
            kwargs["data_dir"] = data_dir
        result = exp.run(exp.config(), Path(out_dir), **kwargs)
        results.append(result)
        if on_result:
            on_result(result)
    return results
