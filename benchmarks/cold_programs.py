"""The compiled programs of a cold ``hiddenstate reproduce --quick``, counted by name.

``python benchmarks/cold_programs.py [--out DIR] [--json FILE] [--only NAME ...]``

Runs ``hiddenstate reproduce --quick`` (what ``make run`` runs, with its
``XLA_FLAGS=--xla_cpu_multi_thread_eigen=true`` unless ``XLA_FLAGS`` is set) in a
child process whose ``HIDDENSTATE_COMPILATION_CACHE`` is a fresh empty folder, and
counts JAX's ``/jax/core/compile/backend_compile_duration`` events there: one per
program compiled (or read back from the persistent cache, which is empty here, so
every one is a compilation). Prints the total, the count and compile seconds by
program name (the compiled function's ``__name__``: ``_run_epochs``, ``_forward``,
``true_divide`` for an eager ``jnp`` division ...), and the run's wall time (from
before the command's imports to its exit). The report goes to ``--out`` (a temporary
folder unless given), so its ``results.json`` can be compared between two trees.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time

_CHILD = "--child"


def _child(out_json: str, argv: list[str]) -> None:
    """Runs the command in this process with the listener on; writes the counts."""
    from jax._src import monitoring

    names: collections.Counter = collections.Counter()
    seconds: collections.Counter = collections.Counter()

    def on_duration(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            name = str(kwargs.get("fun_name", "?"))
            names[name] += 1
            seconds[name] += duration

    monitoring.register_event_duration_secs_listener(on_duration)
    from hiddenstate.cli import main

    status = main(argv)
    with open(out_json, "w") as f:
        json.dump({"status": status, "programs": dict(names),
                   "compile_s": {k: round(v, 3) for k, v in seconds.items()}}, f)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == _CHILD:
        _child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="the report's folder (default: a temporary one)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these experiments")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="cold-programs-")
    out = args.out or os.path.join(work, "results")
    env = dict(os.environ, HIDDENSTATE_COMPILATION_CACHE=os.path.join(work, "cache"))
    env.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    counts_file = os.path.join(work, "counts.json")
    command = ["reproduce", "--quick", "--out", out] + (["--only", *args.only]
                                                         if args.only else [])
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    subprocess.run([sys.executable, __file__, _CHILD, counts_file, *command], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    with open(counts_file) as f:
        child = json.load(f)
    names = collections.Counter(child["programs"])
    compile_s = sum(child["compile_s"].values())
    load = (load_before, os.getloadavg()[0])
    print(f"reproduce --quick, empty cache: {sum(names.values())} programs compiled "
          f"({len(names)} names), {compile_s:.1f} s compiling, {wall:.1f} s wall "
          f"(1-min load average before/after: {load[0]:.2f}/{load[1]:.2f}); report in {out}")
    for name, n in names.most_common():
        print(f"  {n:3d}  {child['compile_s'][name]:6.2f} s  {name}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"programs_total": sum(names.values()), "wall_s": round(wall, 2),
                       "compile_s": round(compile_s, 2), "load_average_1min": load,
                       "programs": dict(names.most_common()),
                       "compile_s_by_name": child["compile_s"], "out": out}, f, indent=1)


if __name__ == "__main__":
    main()
