"""Per-update cost of the recurrent networks, this checkout against another one (A/B).

Times, for each code tree, the fits of issue 13's recurrent targets:

- ``lstm online``: the default SequenceModel (LSTM, 32 units, online Adam) on embedded
  Reber strings (W4 "ours": one update per string);
- ``lstm batch 32``: the same LSTM with minibatches of 32 strings (length buckets, masked);
- ``elman seed (W3)``: W3's recipe (Elman 7-10-7, sigmoid multi-hot targets, batch-1 SGD)
  on Reber strings;
- ``W6 nested scan``: W6's recipe (Elman 2-4-2 on the sine/cosine sequences, 10,000 SGD
  steps).

Each tree runs in its own process (``PYTHONPATH`` points at it), the trees alternating for
``--rounds`` rounds; within a process a first fit compiles and the fastest of
``--repeats`` identical fits is timed. Prints microseconds per update (the median over
rounds) and the ratio B / A.

    python benchmarks/recurrent_step.py --before /tmp/base13 [--after .] [--rounds 3]

(``/tmp/base13``: e.g. ``git worktree add /tmp/base13 <commit>``.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

CASES = ("lstm online", "lstm batch 32", "elman seed (W3)", "W6 nested scan")


def _worker(repeats: int, strings: int, cpu: bool) -> dict:
    import warnings

    import numpy as np

    import hiddenstate as hs
    from hiddenstate.datasets import REBER_ALPHABET, make_embedded_reber, make_reber
    from hiddenstate.experiments import reber as reber_exp

    warnings.simplefilter("ignore")
    clock = time.process_time if cpu else time.perf_counter
    rng = np.random.default_rng(0)
    emb = make_embedded_reber(strings, rng)
    plain = make_reber(strings, rng)

    def timed(make, X, updates, **fit):
        make().fit(X, **fit)  # compiles
        best = float("inf")
        for _ in range(repeats):
            t0 = clock()
            make().fit(X, **fit)
            best = min(best, clock() - t0)
        return best / updates * 1e6

    out = {}
    epochs = 2
    out["lstm online"] = timed(
        lambda: hs.SequenceModel(max_iter=epochs, random_state=0), emb, epochs * len(emb),
        alphabet=REBER_ALPHABET)
    batches = epochs * -(-len(emb) // 32)
    out["lstm batch 32"] = timed(
        lambda: hs.SequenceModel(max_iter=epochs, batch_size=32, random_state=0), emb,
        batches, alphabet=REBER_ALPHABET)
    from hiddenstate.datasets import make_sincos, reber_targets
    from hiddenstate.experiments import scan_exercise

    targets = [reber_targets(s) for s in plain]
    out["elman seed (W3)"] = timed(
        lambda: reber_exp.seed_estimator(reber_exp.Config(seed_epochs=epochs)), plain,
        epochs * len(plain), Y=targets, alphabet=REBER_ALPHABET)
    S, T = make_sincos()
    cfg = scan_exercise.Config()
    out["W6 nested scan"] = timed(lambda: scan_exercise.seed_estimator(cfg), list(S),
                                  cfg.seed_steps, Y=list(T))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=False, help="code tree A (e.g. /tmp/base13)")
    parser.add_argument("--after", default=str(Path(__file__).resolve().parents[1]),
                        help="code tree B (default: this checkout)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--strings", type=int, default=2000)
    parser.add_argument("--cpu-time", action="store_true",
                        help="time the process's CPU seconds instead of the wall clock "
                             "(steadier when other processes share the cores)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.repeats, args.strings, args.cpu_time)))
        return
    trees = {"after": args.after} if not args.before else {"before": args.before,
                                                           "after": args.after}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(args.rounds):
        for name, tree in trees.items():
            env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve()),
                   "HIDDENSTATE_COMPILATION_CACHE": "off"}
            env.pop("JAX_COMPILATION_CACHE_DIR", None)
            cmd = [sys.executable, __file__, "--worker", "--repeats", str(args.repeats),
                   "--strings", str(args.strings)] + (["--cpu-time"] if args.cpu_time else [])
            out = subprocess.run(cmd,
                                 env=env, capture_output=True, text=True, check=True)
            runs[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1} {name}: " + ", ".join(
                f"{k} {v:.1f} us" for k, v in runs[name][-1].items() if v is not None),
                flush=True)
    clock = "CPU" if args.cpu_time else "wall-clock"
    print(f"\n{clock} microseconds per update, median of {args.rounds} rounds "
          f"(best of {args.repeats} fits each)")
    header = f"{'case':<18}" + "".join(f"{k:>12}" for k in trees)
    print(header + ("       ratio" if len(trees) == 2 else ""))
    for case in CASES:
        vals = {k: [r[case] for r in runs[k] if r.get(case) is not None] for k in trees}
        if not all(vals.values()):
            continue
        med = {k: statistics.median(v) for k, v in vals.items()}
        line = f"{case:<18}" + "".join(f"{med[k]:>12.1f}" for k in trees)
        if len(trees) == 2:
            line += f"{med['after'] / med['before']:>12.2f}"
        print(line)


if __name__ == "__main__":
    main()
