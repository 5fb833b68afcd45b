"""``hiddenstate bench``: run the WORKLOADS.md recipes, print timings."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

from ._outputs import console

__all__ = ["register"]


#: What --quick shortens: W2 50 digits epochs and 3 MNIST epochs, W4 and W5 their
#: `reproduce --quick` settings or less, W6 2,000 seed steps, cache one round.
QUICK = ("W2", "W4", "W5", "W6", "cache")
#: What --quick leaves whole: their full recipes take a few seconds.
FULL = ("W1", "W3")


def register(sub) -> None:
    sub.add_parser("bench", help="run the WORKLOADS.md recipes, print timings", build=_build)


def _build(parser) -> None:
    parser.add_argument("workloads", nargs="*", metavar="W",
                        help="e.g. W1 W2, or cache: compile time of two CLI commands with a "
                             "cold and a warm compilation cache (default: all)")
    parser.add_argument("--all", action="store_true", help="every workload (the default)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--quick", action="store_true",
                        help=f"shorter runs of {', '.join(QUICK)}; {', '.join(FULL)} run "
                             "their whole recipes (seconds each)")
    parser.add_argument("--data", metavar="DIR", help="folder with mnist/ for quality B")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _workloads_text  # the harness imports JAX: only when help is shown
    parser.set_defaults(func=bench)


def _workloads_text() -> str:
    """Each workload's name and the first line of its docstring."""
    import sys

    lines = ["workloads (W):"]
    for name, fn in _harness().WORKLOADS.items():
        # A workload with a module of its own says what it is in that module's first line.
        module_doc = (getattr(sys.modules.get(fn.__module__), "__doc__", None) or "").strip()
        own = f"Workload ``{name}``: "
        if module_doc.startswith(own):
            text = module_doc.splitlines()[0][len(own):]
        else:
            text = " ".join((fn.__doc__ or "").strip().split("\n\n")[0].split())
        lines += textwrap.wrap(f"{name}: {text.replace('``', '')}", width=96,
                               initial_indent="  ", subsequent_indent="      ")
    return "\n".join(lines).replace("%", "%%")


def _harness():
    """The benchmark harness, ``hiddenstate.bench`` (imports JAX: only when run)."""
    from .. import bench as harness

    return harness


def bench(args) -> int:
    data_dir = Path(args.data) if args.data else None
    out = console(stderr=True)

    def on_record(rec):
        if args.json:
            print(json.dumps(rec.to_json()), flush=True)
        elif rec.workload == "cache":
            ratios = ("" if "wall_ratio" not in rec.extra else
                      f"  (x{rec.extra['compile_ratio']:.2f} compile, "
                      f"x{rec.extra['wall_ratio']:.2f} wall of the cold run)")
            out.print(f"{rec.workload:5} {rec.variant:29} compile {rec.compile_s:6.2f} s  "
                      f"wall {rec.train_s:6.2f} s{ratios}")
        else:
            out.print(
                f"{rec.workload:4} {rec.variant:22} compile {rec.compile_s:7.3f} s  "
                f"train {rec.train_s:8.3f} s  {rec.step_us:9.1f} us/step  "
                f"loss {rec.final_loss:.5g}  {rec.quality_name} {rec.quality:.5g}"
            )
            if "fraction_of_products_alone" in rec.extra:
                x = rec.extra
                out.print(f"     {x['step_gflops']:.0f} GFLOP/s: {x['fraction_of_peak']:.0%} of "
                          f"the {x['matmul_peak_gflops']:.0f} GFLOP/s matmul peak, "
                          f"{x['fraction_of_products_alone']:.0%} of its own products "
                          f"timed alone ({x['products_alone_gflops']:.0f} GFLOP/s)")

    if args.all and args.workloads:
        raise ValueError("give workload names or --all, not both")
    harness = _harness()
    harness.run_workloads(args.workloads or list(harness.WORKLOADS), quick=args.quick,
                          data_dir=data_dir, on_record=on_record)
    return 0
