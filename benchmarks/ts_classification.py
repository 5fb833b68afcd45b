"""SequenceClassifier on the UEA & UCR archive's official splits: candidates for the
real-valued defaults, against 1-NN DTW and ROCKET.

    PYTHONPATH=$PWD python benchmarks/ts_classification.py [--problems GunPoint,...]
        [--candidates defaults,recurrent,...] [--cv 3] [--json FILE]

Problems are read from ``--data`` (default: ../shared/data/timeseries/classification, the
development panel) and, with ``--extra DIR`` (e.g. aeon's ``datasets/data`` folder, one
folder per problem), from there too: those are the held-out evidence, never the panel's
test splits. ``--cv K`` scores each candidate by K-fold cross-validation on the TRAINING
split (the way to choose among candidates); without it the table is test accuracy.
References (1-NN DTW, ROCKET) are the figures of the issue for the panel and, for the
extra problems, those measured with aeon (:data:`EXTRA`; ``--references FILE``, JSON
``{problem: {"dtw": a, "rocket": b}}``, adds others); hiddenstate never imports aeon.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

#: The candidates: settings given to SequenceClassifier (``defaults``: none).
CANDIDATES = {
    "defaults": {},
    # the defaults before real-valued input had its own (the figures)
    "recurrent-old": {"encoder": "recurrent", "scale": "none", "max_iter": 20,
                      "batch_size": 32},
    # the tuned recurrent settings, with this budget and scaling
    "recurrent-gru": {"encoder": "recurrent", "cell": "gru", "bidirectional": True,
                      "pooling": "mean"},
    "conv+recurrent": {"encoder": "conv+recurrent", "pooling": "mean"},
    "conv-series": {"scale": "series"},
    "conv-none": {"scale": "none"},
    "conv-fcn128": {"hidden_size": 128},
    "conv-lr1e-3": {"learning_rate": 1e-3},
    "conv-step-norm": {"_norm": "step"},
    "conv-series-norm": {"_norm": "series"},
}

#: 1-NN DTW and ROCKET on the development panel (the issue's figures).
PANEL = {"GunPoint": (0.907, 1.000), "ItalyPowerDemand": (0.950, 0.970),
         "BasicMotions": (0.975, 1.000), "JapaneseVowels": (0.949, None)}

#: The same on problems that aeon bundles (``aeon.datasets``' data folder), measured with
#: aeon 1.x on the official splits: ``KNeighborsTimeSeriesClassifier(distance="dtw")`` and
#: ``RocketClassifier(random_state=0)`` (None: ROCKET refuses unequal lengths).
EXTRA = {"ArrowHead": (0.703, 0.823), "UnitTest": (0.955, 0.909),
         "PickupGestureWiimoteZ": (0.700, None), "OSULeaf": (0.591, 0.942),
         "ACSF1": (0.640, 0.880)}


def read_ts(path: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """The sequences ``(T_i, d)`` and labels of an archive ``.ts`` file (``?``: NaN)."""
    seqs, labels, data = [], [], False
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not data:
            data = line.lower().startswith("@data")
            continue
        *channels, label = line.split(":")
        rows = [np.array([np.nan if v == "?" else float(v) for v in c.split(",")])
                for c in channels]
        seqs.append(np.stack(rows, axis=1).astype(np.float32))
        labels.append(label.strip())
    return seqs, np.array(labels)


def _problem_files(name: str, folders: list[Path]) -> tuple[Path, Path] | None:
    for folder in folders:
        for base in (folder, folder / name):
            train, test = base / f"{name}_TRAIN.ts", base / f"{name}_TEST.ts"
            if train.exists() and test.exists():
                return train, test
    return None


def _score(settings: dict, X, y, Xt, yt, seed: int) -> tuple[float, float]:
    import warnings

    from hiddenstate import SequenceClassifier
    from hiddenstate.nn import _classifier

    settings = dict(settings)
    _classifier.CONV_NORM = settings.pop("_norm", "series")
    est = SequenceClassifier(random_state=seed, **settings)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    seconds = time.perf_counter() - t
    return float(np.mean(est.predict(Xt) == yt)), seconds


def _cv(settings: dict, X, y, folds: int, seed: int) -> tuple[float, float]:
    from sklearn.model_selection import StratifiedKFold

    n_folds = max(2, min(folds, int(np.min(np.unique(y, return_counts=True)[1]))))
    scores, seconds = [], []
    split = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y)
    for tr, va in split:
        acc, s = _score(settings, [X[i] for i in tr], y[tr], [X[i] for i in va], y[va], seed)
        scores.append(acc)
        seconds.append(s)
    return float(np.mean(scores)), float(np.mean(seconds))


def main(argv=None) -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path,
                        default=here.parent.parent / "shared/data/timeseries/classification")
    parser.add_argument("--extra", type=Path, action="append", default=[])
    parser.add_argument("--problems", default=",".join(PANEL))
    parser.add_argument("--candidates", default="defaults")
    parser.add_argument("--cv", type=int, default=0, help="K-fold CV on the training split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--references", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    refs = {k: {"dtw": d, "rocket": r} for k, (d, r) in {**PANEL, **EXTRA}.items()}
    if args.references is not None and args.references.exists():
        refs.update(json.loads(args.references.read_text()))
    rows = []
    what = f"{args.cv}-fold CV on TRAIN" if args.cv else "test accuracy"
    print(f"{'problem':22s} {'candidate':18s} {what:>18s} {'1-NN DTW':>9s} {'ROCKET':>7s} "
          f"{'fit s':>7s}")
    for name in args.problems.split(","):
        files = _problem_files(name, [args.data, *args.extra])
        if files is None:
            print(f"{name}: not found")
            continue
        X, y = read_ts(files[0])
        Xt, yt = read_ts(files[1])
        ref = refs.get(name, {})
        for cand in args.candidates.split(","):
            settings = CANDIDATES[cand]
            if args.cv:
                acc, seconds = _cv(settings, X, y, args.cv, args.seed)
            else:
                acc, seconds = _score(settings, X, y, Xt, yt, args.seed)
            dtw, rocket = ref.get("dtw"), ref.get("rocket")
            print(f"{name:22s} {cand:18s} {acc:18.3f} "
                  f"{'-' if not isinstance(dtw, float) else f'{dtw:.3f}':>9s} "
                  f"{'-' if not isinstance(rocket, float) else f'{rocket:.3f}':>7s} "
                  f"{seconds:7.1f}", flush=True)
            rows.append({"problem": name, "candidate": cand, "accuracy": acc,
                         "seconds": seconds, "cv": args.cv, "dtw": dtw, "rocket": rocket})
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
