"""Per-seed check of the embedded Reber recipe (issue 3's targets), printed as a table.

    python benchmarks/embedded_reber_seeds.py stream [--grammar seed|classic] [--cell lstm]
    python benchmarks/embedded_reber_seeds.py default [--cell lstm]

``stream``: online training on fresh strings (each string is seen once), long-range
accuracy on 1000 fresh strings after every 500; a seed is solved when it reaches
0.99. Reports the strings needed, the training seconds until then and the fraction
of 1000 sampled strings in the embedded grammar at that point (training seconds
include the first call's compilation).

``default``: the experiment's ``ours_estimator`` (``SequenceModel(cell)`` with its
defaults, 8 epochs) fitted on 5,000 strings of the seed's kind (inner strings longer
than 10 symbols): long-range accuracy, sampled strings in the grammar, fit seconds
(compilation included).

Results go to stdout and, with ``--json FILE``, to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np

from hiddenstate.datasets import REBER_ALPHABET, in_embedded_reber_grammar, make_embedded_reber
from hiddenstate.experiments.embedded_reber import Config, ours_estimator, strings_needed
from hiddenstate.metrics import grammar_fraction, long_range_accuracy


def stream_run(seed: int, cell: str, min_length: int, budget: int, chunk: int) -> dict:
    stream = make_embedded_reber(budget, np.random.default_rng(seed), min_length)
    test = make_embedded_reber(1000, np.random.default_rng(10_000 + seed), min_length)
    run = strings_needed(cell, stream, test, chunk=chunk, random_state=seed)
    frac = grammar_fraction(run.model.sample(1000, n_stops=2, random_state=seed),
                            in_embedded_reber_grammar)
    return {"seed": seed, "solved_at": run.solved_at, "long_range": run.accuracy[-1],
            "in_grammar": frac, "train_s": run.train_seconds}


def default_run(seed: int, cell: str, n: int) -> dict:
    train = make_embedded_reber(n, np.random.default_rng(seed), 10)
    test = make_embedded_reber(1000, np.random.default_rng(10_000 + seed), 10)
    t0 = time.perf_counter()
    model = ours_estimator(Config(random_state=seed), cell).fit(train, alphabet=REBER_ALPHABET)
    fit_s = time.perf_counter() - t0
    acc = long_range_accuracy(model.predict_proba(test), test, REBER_ALPHABET)
    frac = grammar_fraction(model.sample(1000, n_stops=2, random_state=seed),
                            in_embedded_reber_grammar)
    return {"seed": seed, "long_range": acc, "in_grammar": frac, "fit_s": fit_s}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["stream", "default"])
    parser.add_argument("--grammar", choices=["seed", "classic"], default="seed",
                        help="seed: inner strings longer than 10 symbols; classic: any length")
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    rows = []
    for seed in range(args.seeds):
        if args.mode == "stream":
            row = stream_run(seed, args.cell, 10 if args.grammar == "seed" else 0, args.budget,
                             args.chunk)
        else:
            row = default_run(seed, args.cell, args.n)
        rows.append(row)
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                          for k, v in row.items()}), flush=True)
    if args.mode == "stream":
        solved = [r["solved_at"] for r in rows if r["solved_at"] is not None]
        print(f"{args.cell} on the {args.grammar} grammar: solved {len(solved)}/{len(rows)}, "
              f"median strings {np.median(solved) if solved else float('nan'):.0f}, "
              f"max training {max(r['train_s'] for r in rows):.1f} s, "
              f"in grammar {min(r['in_grammar'] for r in rows):.3f}-"
              f"{max(r['in_grammar'] for r in rows):.3f}")
    else:
        print(f"default {args.cell} on {args.n} strings: long-range "
              f"{min(r['long_range'] for r in rows):.3f}-{max(r['long_range'] for r in rows):.3f}"
              f", in grammar {min(r['in_grammar'] for r in rows):.3f}-"
              f"{max(r['in_grammar'] for r in rows):.3f}, fit "
              f"{min(r['fit_s'] for r in rows):.1f}-{max(r['fit_s'] for r in rows):.1f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "runs": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
