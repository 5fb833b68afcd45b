"""``hiddenstate reproduce``: run the classic experiments, write report.html."""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

from ._outputs import console

__all__ = ["register"]


def register(sub) -> None:
    sub.add_parser("reproduce", help="run the classic experiments, write report.html",
                   build=_build)


def _build(parser) -> None:
    from ..experiments import EXPERIMENT_NAMES  # the names only: no NumPy, no JAX

    parser.add_argument("--quick", action="store_true",
                        help="shorter runs: each experiment's quick config")
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=EXPERIMENT_NAMES,
                        help=f"run only these experiments: {', '.join(EXPERIMENT_NAMES)}")
    parser.add_argument("--data", metavar="DIR", help="folder with mnist/ (e.g. ../shared/data; "
                                                     "time-series: its timeseries/ folder or "
                                                     "the folder above it)")
    parser.add_argument("--out", default="results", metavar="DIR", help="output folder")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a row misses its target (MISS in the "
                             "table); without it the exit status is 0 however the rows did")
    parser.add_argument("--set", action="append", default=[], metavar="NAME.FIELD=VALUE",
                        help="override one field of an experiment's config (repeatable), e.g. "
                             "embedded-reber.n_train_seed=2000; the fields are listed below")
    parser.formatter_class = _Formatter
    parser.epilog = _fields_text  # the configs import JAX: only when help is shown
    parser.set_defaults(func=reproduce)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help lines wrapped between words only, never inside a name such as time-series."""

    def _split_lines(self, text, width):
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _fields_text() -> str:
    """Each experiment's config fields and their defaults, for ``--set``."""
    from ..experiments import resolved_configs

    lines = ["config fields (--set NAME.FIELD=VALUE):"]
    for name, fields in resolved_configs().items():
        text = ", ".join(f"{k}={_spelling(v)}" for k, v in fields.items())
        lines += textwrap.wrap(f"{name}: {text}", width=96, initial_indent="  ",
                               subsequent_indent="      ")
    return "\n".join(lines).replace("%", "%%")


def _spelling(value) -> str:
    """A value as ``--set`` takes it (tuples comma-separated)."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def reproduce(args) -> int:
    from .. import report
    from ..experiments import reproduce as run_experiments
    from ..experiments import resolved_configs

    out = Path(args.out)
    data_dir = Path(args.data) if args.data else None
    con = console()
    # Checks every --set before anything runs, and shows what will run.
    configs = resolved_configs(args.only, quick=args.quick, overrides=args.set)
    con.print(
        f"[bold]hiddenstate reproduce[/] {'--quick ' if args.quick else ''}"
        f"-> {out}/report.html" + (f" (data: {data_dir})" if data_dir else "")
    )
    for name, fields in configs.items():
        text = ", ".join(f"{k}={_spelling(v)}" for k, v in fields.items())
        con.print(f"  {name}: {text}", style="dim", markup=False, highlight=False)

    def on_result(result):
        con.print(f"  [green]done[/] {result.name} in {result.seconds:.1f} s")

    def on_skip(name, reason):
        con.print(f"  [yellow]skipped[/] {name}: {reason}")

    t0 = time.perf_counter()
    results = run_experiments(args.only, out, quick=args.quick, data_dir=data_dir,
                              on_result=on_result, on_skip=on_skip, overrides=args.set)
    con.print(report.results_table(results))
    command = "hiddenstate " + " ".join(sys.argv[1:]) if sys.argv else "hiddenstate reproduce"
    path = report.write_report(results, out, command=command, environment=report.environment_info())
    con.print(f"wrote {path} and {out / 'results.json'} in {time.perf_counter() - t0:.1f} s")
    missed = [f"{row.experiment} / {row.variant} / {row.figure}" for r in results
              for row in r.rows if row.passed is False]
    if missed and args.strict:
        print(f"hiddenstate: {len(missed)} row(s) missed their targets (--strict): "
              + "; ".join(missed), file=sys.stderr)
        return 1
    return 0
