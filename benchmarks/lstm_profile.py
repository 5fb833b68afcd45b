"""Where the microseconds of one LSTM update go: a per-operation profile with XLA's own tools.

Fits the default SequenceModel (LSTM, 32 units, Adam, cosine rate) on embedded Reber
strings at minibatch 1 and 32, once to compile and once under ``jax.profiler.trace``.
XLA's CPU runtime records every operation (thunk) it runs, nested in the loops that
run it: the epoch loop, the loop over minibatches, and inside each update the two
loops over time steps, the forward scan and its transpose (the backward pass), told
apart by the optimised HLO that XLA dumps (``--xla_dump_to``: each loop's JAX origin).
Prints, per update:

- the time in each loop level and in the operations outside the loops, and for the
  time loops their steps per update, microseconds per step and operations per step;
- the operations that take the time (self time: less the operations nested in
  them), with their loop level;
- the "dependent product step" (one ``(B, 7 + 32) @ (39, 128)`` product and tanh in a
  ``lax.scan``, as issue 26 measures it): the update's cost in those steps, a unit
  that moves with the machine's load as the update does.

    python benchmarks/lstm_profile.py [--strings 5000] [--online-strings 400]
        [--batch-sizes 1,32] [--top 25] [--trace-dir DIR] [--json FILE]

Run it on a quiet machine (``nice`` does not help against other processes); the
figures of a noisy one vary by tens of percent, the proportions much less.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path

#: Thread names of XLA's CPU runtime, where the compiled programs run.
_DEVICE_THREADS = ("tf_XLAEigen", "XLAEigen")


def _events(trace_dir: Path) -> list[dict]:
    """The complete ("X") events of the device threads in the perfetto trace."""
    path = glob.glob(str(trace_dir / "**" / "perfetto_trace.json.gz"), recursive=True)[0]
    with gzip.open(path) as f:
        data = json.load(f)
    events = data["traceEvents"] if isinstance(data, dict) else data
    names = {(e.get("pid"), e.get("tid")): e.get("args", {}).get("name", "")
             for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"}
    return [e for e in events if e.get("ph") == "X"
            and any(t in names.get((e.get("pid"), e.get("tid")), "") for t in _DEVICE_THREADS)
            and not e["name"].startswith("ThunkExecutor") and not e["name"].startswith("$")]


def _self_times(events: list[dict]) -> list[tuple[str, str | None, float]]:
    """``(event name, enclosing time loop or None, self time us)`` of each event.

    The time loops (forward scan, backward scan) run synchronously: their event spans
    the operations of their body, nested by time. The outer loops (epochs,
    minibatches) hand their bodies on and close at once, so an operation outside a
    time loop is attributed to the update. An operation's ``end: op`` event (its
    completion) counts as the operation; a loop's self time (its duration less its
    body's operations) is the loop machinery: condition, iteration start.
    """
    out = []
    by_thread = collections.defaultdict(list)
    for e in events:
        by_thread[(e.get("pid"), e.get("tid"))].append(e)
    for evs in by_thread.values():
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        stack: list[list] = []  # [event, its nested events' total duration]
        for e in [*evs, None]:
            while stack and (e is None or e["ts"] >= stack[-1][0]["ts"] + stack[-1][0]["dur"]):
                done, nested = stack.pop()
                loop = next((f[0]["name"] for f in reversed(stack)
                             if f[0]["name"].startswith("while")), None)
                out.append((done["name"], loop, max(done["dur"] - nested, 0.0)))
                if stack:
                    stack[-1][1] += done["dur"]
            if e is not None:
                stack.append([e, 0.0])
    return out


_WHILE = re.compile(r'^\s*%?(while[.\d]*) = .*?op_name="([^"]*)"', re.M)


def _loop_roles(dump: Path, before: set[Path]) -> dict[str, str]:
    """``{while op: "forward", "backward" or "outer"}`` from the optimised HLO that XLA
    dumped for the epoch program (the files not in ``before``): a loop that JAX's
    ``transpose`` made is a backward scan, one inside ``jvp`` a forward scan, the others
    the epoch and minibatch loops."""
    roles = {}
    for path in set(dump.glob("*jit__run_epochs*after_optimizations.txt")) - before:
        for name, op in _WHILE.findall(path.read_text()):
            roles[name] = ("backward" if "transpose(" in op else
                           "forward" if "jvp(" in op else "outer")
    return roles


def _updates(strings: list[str], batch: int, epochs: int) -> int:
    """Updates of a fit: per epoch, each length bucket's rows in minibatches of ``batch``."""
    import numpy as np

    from hiddenstate.estimators._sequence import length_buckets

    lengths = np.array([len(s) - 1 for s in strings])
    row_bucket, lengths_ = length_buckets(lengths)
    return epochs * sum(-(-int(np.sum(row_bucket == b)) // batch) for b in range(len(lengths_)))


def _profile(strings: list[str], batch: int, trace_dir: Path, dump: Path) -> dict:
    import jax

    import hiddenstate as hs
    from hiddenstate.datasets import REBER_ALPHABET

    epochs = 2

    def fit():
        return hs.SequenceModel(max_iter=epochs, batch_size=batch, random_state=0).fit(
            strings, alphabet=REBER_ALPHABET)

    before = set(dump.glob("*"))
    fit()  # compiles (and XLA writes the optimised HLO to ``dump``)
    t0 = time.perf_counter()
    fit()
    untraced = time.perf_counter() - t0
    shutil.rmtree(trace_dir, ignore_errors=True)
    jax.profiler.start_trace(str(trace_dir), create_perfetto_trace=True)
    fit()
    jax.profiler.stop_trace()
    events = _events(trace_dir)
    return {"batch": batch, "updates": _updates(strings, batch, epochs),
            "fit_us": untraced / _updates(strings, batch, epochs) * 1e6,
            "rows": _self_times(events), "roles": _loop_roles(dump, before)}


def _where(loop: str | None, roles: dict[str, str]) -> str:
    if loop is None or roles.get(loop) == "outer":
        return "update, outside the time loops"
    return f"{roles.get(loop, 'time')} scan ({loop})"


def _report(result: dict, step_us: float, top: int) -> dict:
    """Print the profile of one minibatch size; returns its figures."""
    n, rows, roles = result["updates"], result["rows"], result["roles"]
    level = collections.Counter()
    ops = collections.Counter()
    machinery = collections.Counter()
    iterations = collections.Counter()
    by_op = collections.Counter()
    calls = collections.Counter()
    for event, loop, us in rows:
        name = event.removeprefix("end: ")  # an operation's completion, counted with it
        started = name == event
        if name in roles:  # a loop's own event: its machinery (a time loop: one scan)
            machinery[name] += us
            iterations[name] += started
            continue
        where = _where(loop, roles)
        level[where] += us
        ops[where] += started
        by_op[(where, name)] += us
        calls[(where, name)] += started
    profiled = sum(level.values()) + sum(machinery.values())
    print(f"\nminibatch {result['batch']}: {n} updates of the default LSTM (32 units) on "
          f"embedded Reber strings")
    print(f"  fit without the profiler: {result['fit_us']:.1f} us per update = "
          f"{result['fit_us'] / step_us:.0f} dependent product steps of {step_us:.2f} us")
    print(f"  under the profiler: {profiled / n:.1f} us per update in XLA's operations")
    print(f"  {'where':<44}{'us/update':>10}{'ops/update':>12}{'us/op':>8}   (loops: runs)")
    for where, us in level.most_common():
        print(f"  {where:<44}{us / n:>10.1f}{ops[where] / n:>12.1f}{us / ops[where]:>8.2f}")
    for loop, us in machinery.most_common():
        what = f"outer loop ({loop})" if roles[loop] == "outer" else _where(loop, roles)
        print(f"  {'loop machinery, ' + what:<44}{us / n:>10.1f}{iterations[loop] / n:>12.2f}")
    print(f"  the {top} operations taking the most time (self time):")
    print(f"  {'operation':<40}{'where':<34}{'us/update':>10}{'calls':>7}{'us/call':>9}")
    for (where, name), us in by_op.most_common(top):
        k = calls[(where, name)]
        print(f"  {name[:39]:<40}{where[:33]:<34}{us / n:>10.2f}{k / n:>7.1f}{us / k:>9.2f}")
    return {"batch": result["batch"], "updates": n, "fit_us_per_update": result["fit_us"],
            "dependent_step_us": step_us, "steps_per_update": result["fit_us"] / step_us,
            "profiled_us_per_update": profiled / n,
            "where": {w: us / n for w, us in level.items()},
            "ops": {f"{w} | {o}": us / n for (w, o), us in by_op.items()}}


def dependent_step_us(batch: int = 32, steps: int = 2000, repeats: int = 5) -> float:
    """Microseconds of one ``h = tanh([x_t, h] @ W)`` step, ``(B, 39) @ (39, 128)``, in a
    ``lax.scan`` (issue 26's unit: a product on the recurrence's critical path)."""
    import jax
    import jax.numpy as jnp

    W = jnp.full((39, 128), 0.01, jnp.float32)
    xs = jnp.ones((steps, batch, 7), jnp.float32)

    @jax.jit
    def run(h, xs):
        def body(h, x):
            z = jnp.tanh(jnp.concatenate([x, h], axis=1) @ W)
            return z[:, :32], None

        return jax.lax.scan(body, h, xs)[0]

    h = jnp.zeros((batch, 32), jnp.float32)
    run(h, xs).block_until_ready()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(h, xs).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return best / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=int, default=5000,
                        help="embedded Reber strings for the minibatch fits (default: 5000)")
    parser.add_argument("--online-strings", type=int, default=400,
                        help="strings for minibatch 1 (one update each; default: 400)")
    parser.add_argument("--batch-sizes", default="1,32")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--trace-dir", help="keep the traces (open them in Perfetto or "
                        "TensorBoard) and the HLO there (default: a temporary folder)")
    parser.add_argument("--json", help="write the figures there")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    root = Path(args.trace_dir or tempfile.mkdtemp(prefix="lstm_profile_"))
    # XLA reads its flags once, when JAX starts: the optimised HLO names each loop.
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + f" --xla_dump_to={root / 'hlo'}"
                               " --xla_dump_hlo_as_text --xla_dump_hlo_module_re=.*run_epochs.*")
    import numpy as np

    from hiddenstate.datasets import make_embedded_reber

    out = []
    for batch in (int(b) for b in args.batch_sizes.split(",")):
        n = args.online_strings if batch == 1 else args.strings
        strings = make_embedded_reber(n, np.random.default_rng(0))
        step = statistics.median(dependent_step_us(batch) for _ in range(3))
        result = _profile(strings, batch, root / f"batch{batch}", root / "hlo")
        out.append(_report(result, step, args.top))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))
    if not args.trace_dir:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
