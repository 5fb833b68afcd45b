"""Some folds of the sentence-models protocol, for choosing its settings and budget.

    python benchmarks/sentence_models_folds.py --folds 0 1 2 --models lstm sa-lstm \\
        --set learning_rate=0.01 --set epochs=3 [--data ../shared/data] [--json FILE]

Runs the experiment's own recipe (``hiddenstate.experiments.sentence_models``:
its folds, inner validation split and ``fit_and_score``) on the chosen outer folds
of the 10-fold protocol (``--set folds=0`` for the quick 90/10 split), with
``--set FIELD=VALUE`` overrides of its Config, and prints one JSON line per model
and fold: test and validation accuracy, the settings chosen on validation, seconds
(compilation included the first time a shape is seen in the process).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from hiddenstate.datasets import load_rt_polarity
from hiddenstate.experiments import sentence_models as sm
from hiddenstate.experiments._overrides import apply_overrides


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared"
                                              / "data"))
    parser.add_argument("--folds", type=int, nargs="+", default=[0])
    parser.add_argument("--models", nargs="+", default=list(sm.MODELS), choices=sm.MODELS)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--json", metavar="FILE", help="also write the records here")
    args = parser.parse_args(argv)
    fields = dict(item.split("=", 1) for item in args.set)
    config = apply_overrides(sm.Config(verbose=False), fields, sm.NAME)
    sentences, y = load_rt_polarity(Path(args.data) / "rt-polarity")
    docs = np.array([" ".join(s) for s in sentences], dtype=object)
    folds = sm.splits(y, config)
    records = []
    for k in args.folds:
        for m in args.models:
            o = sm.fit_and_score(m, config, sentences, docs, y, folds[k])
            rec = {"fold": k, "model": m, "test": round(o.accuracy, 4),
                   "validation": round(o.val_accuracy, 4), "chosen": o.chosen,
                   "seconds": round(o.seconds, 1), "pretrain_seconds": round(o.pretrain_seconds, 1),
                   "overrides": fields}
            records.append(rec)
            print(json.dumps(rec), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
