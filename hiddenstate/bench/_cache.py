"""Workload ``cache``: what the persistent compilation cache saves a second identical command.

Each command runs in a fresh Python process twice, against one new, empty cache folder:
first cold (every program compiled), then warm (the programs read back from the folder).
The child process records JAX's own compile events: ``backend_compile`` (XLA
compilation, or the cache read that replaces it), and the tracing and lowering that
happen either way. ``python -m hiddenstate.bench._cache ARGS`` is the child: it runs
``hiddenstate ARGS`` and prints one JSON line with those seconds and the wall time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._registry import BenchRecord

__all__ = ["COMMANDS", "cache_workload", "measure"]

#: The commands of issue 13's target (``--out`` is appended), with the random state
#: fixed so that the two runs do the same work.
COMMANDS = {
    "rnn fit reber": ["rnn", "fit", "reber", "--random-state", "0"],
    "autoencoder fit donut": ["autoencoder", "fit", "donut", "--random-state", "0"],
}
_EVENTS = {
    "/jax/core/compile/backend_compile_duration": "backend_compile_s",
    "/jax/core/compile/jaxpr_trace_duration": "trace_s",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "lower_s",
}


def _child(argv: list[str]) -> None:
    import jax

    totals = dict.fromkeys(_EVENTS.values(), 0.0)

    def listener(name: str, duration: float, **kwargs) -> None:
        if name in _EVENTS:
            totals[_EVENTS[name]] += duration

    jax.monitoring.register_event_duration_secs_listener(listener)
    from ..cli import main

    t0 = time.perf_counter()
    code = main(argv)
    totals["command_s"] = time.perf_counter() - t0
    totals["exit"] = code
    print(json.dumps(totals))


def measure(args: list[str], cache: Path) -> dict:
    """One child run of ``hiddenstate ARGS`` with ``cache`` as the compilation cache;
    its wall time (start-up included) and compile seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION")}
    env["HIDDENSTATE_COMPILATION_CACHE"] = str(cache)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "hiddenstate.bench._cache", *args],
                         env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"hiddenstate {' '.join(args)} failed: {out.stderr[-2000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "wall_s": wall}


def cache_workload(quick: bool, data_dir, rounds: int | None = None) -> list[BenchRecord]:
    """For each command: medians over ``rounds`` fresh cache folders of the cold and the
    warm run; records ``cold`` and ``warm`` with ``compile_s`` = XLA compilation (or
    cache reads) and ``train_s`` = the command's wall time, ratios in ``extra``."""
    del data_dir
    rounds = rounds or (1 if quick else 3)
    records = []
    for name, args in COMMANDS.items():
        runs: dict[str, list[dict]] = {"cold": [], "warm": []}
        for _ in range(rounds):
            with tempfile.TemporaryDirectory(prefix="hiddenstate-bench-cache-") as tmp:
                argv = [*args, "--out", str(Path(tmp) / "model.safetensors")]
                runs["cold"].append(measure(argv, Path(tmp) / "cache"))
                runs["warm"].append(measure(argv, Path(tmp) / "cache"))
        med = {k: {f: statistics.median(r[f] for r in v) for f in v[0]}
               for k, v in runs.items()}
        for kind in ("cold", "warm"):
            m = med[kind]
            extra = {"trace_s": m["trace_s"], "lower_s": m["lower_s"],
                     "command_s": m["command_s"], "rounds": rounds}
            if kind == "warm":
                extra["compile_ratio"] = m["backend_compile_s"] / med["cold"]["backend_compile_s"]
                extra["wall_ratio"] = m["wall_s"] / med["cold"]["wall_s"]
            records.append(BenchRecord("cache", f"{name}, {kind}", m["backend_compile_s"],
                                       m["wall_s"], float("nan"), float("nan"),
                                       extra.get("wall_ratio", 1.0), "wall / cold wall",
                                       extra))
    return records


if __name__ == "__main__":
    _child(sys.argv[1:])
