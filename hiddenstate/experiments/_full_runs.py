"""Full runs' figures stored with the package, for the quick reports to compare against.

A quick run (``reproduce --quick``) trains less than the full recipe; its notes show
the figures of a full run as that run measured them, read from ``full_runs.json``
beside this module, never typed in. The file holds, per experiment, the command that
ran, its date, the hiddenstate version and machine, and every row it reported.
``python benchmarks/store_full_runs.py RESULTS.json`` adds the experiments of a full
run's ``results.json`` that ran at their full config (quick or overridden ones are
refused).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["FULL_RUNS", "full_run", "full_run_note", "stored_entry"]

#: The stored figures, beside this module.
FULL_RUNS = Path(__file__).with_name("full_runs.json")


def full_run(name: str, path: Path | None = None) -> dict | None:
    """The stored full run of experiment ``name`` (None when none is stored)."""
    path = FULL_RUNS if path is None else Path(path)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get(name)


def full_run_note(name: str, path: Path | None = None) -> str:
    """What a quick report says about the full run: its stored rows with their
    provenance, or where to get them."""
    from ..report import format_value

    run = full_run(name, path)
    if run is None:
        return (f"No full run of {name} is stored with this version: `hiddenstate "
                f"reproduce --only {name}` gives its figures.")
    rows = "; ".join(f"{r['variant']}: {r['figure']} {format_value(r['ours'])}"
                     for r in run["rows"])
    return (f"The full run (`{run['command']}`, hiddenstate {run['hiddenstate']}, "
            f"{run['date'][:10]}, {run['machine']}; stored in "
            f"hiddenstate/experiments/{FULL_RUNS.name}): {rows}.")


def stored_entry(experiment: dict, command: str, environment: dict) -> dict:
    """The entry :func:`full_run` returns, from one experiment of a ``results.json``
    (``experiment``) and that file's ``command`` and ``environment``."""
    return {
        "command": command, "date": environment.get("date", ""),
        "hiddenstate": environment.get("hiddenstate", ""),
        "machine": f"{environment.get('cpus', '?')} CPUs, "
                   f"{', '.join(environment.get('devices', [])) or 'cpu'}",
        "rows": [{"variant": r["variant"], "figure": r["figure"], "ours": r["ours"]}
                 for r in experiment["rows"]],
    }
