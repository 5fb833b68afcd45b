"""The embedded Reber grammar's long-range dependency as a classification task, over seeds.

``SequenceClassifier`` with its defaults (20 epochs, Adam at 0.003, 32 units, an
8-value embedding of the symbols) on ``make_long_range_pairs(n_pairs)`` (strings
and their twins with the second-to-last symbol swapped), scored on 1000 fresh
pairs (2000 strings)::

    python benchmarks/long_range_classifier.py [--cells lstm gru elman] [--seeds 4]
        [--n-pairs 1000] [--init glorot_uniform|seed] [--max-iter 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from hiddenstate import SequenceClassifier
from hiddenstate.datasets import make_long_range_pairs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "elman"])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--n-pairs", type=int, default=1000)
    parser.add_argument("--init", default="glorot_uniform",
                        help="glorot_uniform (orthogonal recurrences) or seed (seed 002's)")
    parser.add_argument("--max-iter", type=int, default=20)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    X, y = make_long_range_pairs(args.n_pairs, 0)
    Xt, yt = make_long_range_pairs(1000, 1)
    results = {}
    for cell in args.cells:
        rows = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                clf = SequenceClassifier(cell, hidden_size=32, embedding_dim=8,
                                         init=args.init, max_iter=args.max_iter,
                                         random_state=seed).fit(X, y)
            rows.append({"seed": seed, "accuracy": float(clf.score(Xt, yt)),
                         "seconds": time.perf_counter() - t0})
            print(f"{cell:6s} seed {seed}: accuracy {rows[-1]['accuracy']:.4f} "
                  f"({rows[-1]['seconds']:.1f} s with compilation)", flush=True)
        accs = np.array([r["accuracy"] for r in rows])
        print(f"{cell:6s} solved (>= 0.99) {int(np.sum(accs >= 0.99))} of {len(accs)}; "
              f"median accuracy {np.median(accs):.4f}", flush=True)
        results[cell] = rows
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
