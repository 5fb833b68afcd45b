"""Store a full run's figures with the package, for the quick reports:

    hiddenstate reproduce --only scan-exercise recurrent-ae embedded-reber --out full
    python benchmarks/store_full_runs.py full/results.json

Adds (or replaces) in ``hiddenstate/experiments/full_runs.json`` each experiment of
RESULTS.json that ran at its full config - not ``--quick``, no ``--set`` override -
with the command, date, version and machine of that run. Any other experiment is
refused, named.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from hiddenstate.experiments import EXPERIMENTS
from hiddenstate.experiments._full_runs import FULL_RUNS, stored_entry


def full_config(name: str, settings: dict) -> bool:
    """Whether ``settings`` (a results.json experiment's) are the experiment's full config."""
    full = json.loads(json.dumps(dataclasses.asdict(EXPERIMENTS[name].config()), default=str))
    return all(settings.get(k) == v for k, v in full.items())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="results.json of a full `hiddenstate reproduce` run")
    args = parser.parse_args(argv)
    results = json.loads(open(args.results, encoding="utf-8").read())
    stored = json.loads(FULL_RUNS.read_text(encoding="utf-8")) if FULL_RUNS.exists() else {}
    refused = []
    for experiment in results["experiments"]:
        name = experiment["name"]
        if name not in EXPERIMENTS or not full_config(name, experiment["settings"]):
            refused.append(name)
            continue
        stored[name] = stored_entry(experiment, results["command"], results["environment"])
        print(f"stored {name}: {len(experiment['rows'])} rows")
    FULL_RUNS.write_text(json.dumps(dict(sorted(stored.items())), indent=1) + "\n",
                         encoding="utf-8")
    if refused:
        print(f"not full runs (quick or overridden), not stored: {', '.join(refused)}",
              file=sys.stderr)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
