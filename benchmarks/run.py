"""Run every registered WORKLOADS.md recipe; print a table, write results.json and a plot.

    python benchmarks/run.py [--quick] [--data ../shared/data] [--out benchmarks/results]

(`make bench` runs it.) Timings on shared machines vary by about 30% between
runs: compare ratios taken in one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from hiddenstate import plotting
from hiddenstate.bench import WORKLOADS, run_workloads
from hiddenstate.report import environment_info


def main(argv=None) -> int:
    default_data = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", default=str(default_data) if default_data.is_dir() else None)
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    console = Console(width=160)
    records = run_workloads(args.workloads, quick=args.quick,
                            data_dir=Path(args.data) if args.data else None,
                            on_record=lambda r: console.print(f"  {r.workload} {r.variant} done"))
    table = Table(title="hiddenstate bench")
    for col in ("workload", "variant", "compile s", "train s", "us/step", "final loss",
                "quality", "what"):
        table.add_column(col)
    for r in records:
        table.add_row(r.workload, r.variant, f"{r.compile_s:.3f}", f"{r.train_s:.3f}",
                      f"{r.step_us:.1f}", f"{r.final_loss:.5g}", f"{r.quality:.5g}",
                      r.quality_name)
    console.print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(
        {"environment": environment_info(), "records": [r.to_json() for r in records]},
        indent=2, default=str))
    plotting.bar_chart({f"{r.workload} {r.variant}": r.step_us for r in records},
                       path=out / "step_us.png", title="microseconds per update step",
                       ylabel="us / step", logy=True)
    console.print(f"wrote {out / 'results.json'} and {out / 'step_us.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
