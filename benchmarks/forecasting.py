"""Rolling-origin forecasts of the panel's series: hiddenstate's defaults against the baselines.

``python benchmarks/forecasting.py [--data DIR] [--seeds 0,1,2,3,4] [--split test|dev]
[--series sunspots,nile,co2] [--adapt STEP] [--json FILE]``

For each series (sunspots: horizon 10, 30 origins; nile: 5, 20; co2: 52, 104, its missing
weeks interpolated) it runs :func:`hiddenstate.forecasting.backtest` with the defaults and
prints the mean RMSE over the horizons of hiddenstate and of each baseline, the coverage
of the 90% intervals (adaptive; ``static``: the split conformal ones alone), the seconds
and what the model chose (``SequenceModel.forecaster_``: the linear path alone or the
recurrence beside it); then, over the seeds, the spread of the last horizon's RMSE (the
issue's seed-spread target: its standard deviation at most 15% of its mean on sunspots).
``--split dev`` drops each series' test points first and backtests on the points before
them (what the defaults were chosen on; the test points never were). ``--adapt`` gives
the adaptive intervals' step (``hiddenstate.forecasting.ADAPT_STEP`` unless given).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

#: series -> (horizon, test size), as issue 24 sets them.
PANEL = {"sunspots": (10, 30), "nile": (5, 20), "co2": (52, 104)}
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries" / "forecasting"


def read(path: Path) -> np.ndarray:
    """The value column (the second) of a CSV whose first column is the time; empty cells
    are NaN."""
    return np.genfromtxt(path, delimiter=",", skip_header=1, usecols=1, dtype=np.float64)


def main(argv=None) -> int:
    from hiddenstate.forecasting import backtest

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    parser.add_argument("--series", default=",".join(PANEL))
    parser.add_argument("--adapt", type=float)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    adapt = {} if args.adapt is None else {"adapt": args.adapt}
    rows = []
    print(f"{'series':9} {'seed':>4} {'hiddenstate':>11} {'naive':>9} {'seasonal':>9} "
          f"{'ar':>9} {'coverage':>8} {'static':>6} {'last h':>8} {'seconds':>7}  chosen",
          flush=True)
    for name in args.series.split(","):
        horizon, test = PANEL[name]
        y = read(args.data / f"{name}.csv")
        if args.split == "dev":
            y = y[:-test]
        for seed in seeds:
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = backtest(y, horizon, test, random_state=seed, missing="interpolate",
                                  **adapt)
            seconds = time.perf_counter() - t0
            means = {m: float(np.mean(v["rmse"])) for m, v in result["methods"].items()}
            hs = result["methods"]["hiddenstate"]
            rows.append({"series": name, "seed": seed, "seconds": seconds, "result": result})
            print(f"{name:9} {seed:4d} {means['hiddenstate']:11.4g} {means['naive']:9.4g} "
                  f"{means['seasonal_naive']:9.4g} {means['ar']:9.4g} {hs['coverage']:8.3f} "
                  f"{hs.get('static_coverage', hs['coverage']):6.3f} "
                  f"{hs['rmse'][-1]:8.4g} {seconds:7.1f}  {', '.join(hs['forecaster'])}",
                  flush=True)
    print("\nover the seeds: mean RMSE (hiddenstate / best baseline), coverage, last horizon's "
          "RMSE mean and sd/mean")
    for name in args.series.split(","):
        mine = [r["result"]["methods"] for r in rows if r["series"] == name]
        hs_mean = np.mean([np.mean(m["hiddenstate"]["rmse"]) for m in mine])
        best = min((np.mean(mine[0][b]["rmse"]), b) for b in ("naive", "seasonal_naive", "ar"))
        last = np.array([m["hiddenstate"]["rmse"][-1] for m in mine])
        cov = np.mean([m["hiddenstate"]["coverage"] for m in mine])
        static = np.mean([m["hiddenstate"].get("static_coverage", np.nan) for m in mine])
        print(f"{name:9} {hs_mean:.4g} / {best[0]:.4g} ({best[1]}), coverage {cov:.3f} "
              f"(static {static:.3f}), "
              f"h{PANEL[name][0]} RMSE {last.mean():.4g} sd/mean {last.std() / last.mean():.3f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
