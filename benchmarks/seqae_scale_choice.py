"""Which ``scale`` SequenceAutoencoder's ``auto`` should be: one-class anomaly detection on
the UEA & UCR panel (issue 24).

``python benchmarks/seqae_scale_choice.py [PROBLEM ...]`` (default: BasicMotions
JapaneseVowels GunPoint; the files in ../shared/data/timeseries/classification): a
SequenceAutoencoder(16, max_iter=60) trained on the training series of the first class, the
ROC AUC of telling the other classes' test series by reconstruction error, for each scale,
mean of seeds 0 and 1.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "timeseries" / "classification"


def main(problems: list[str]) -> None:
    from sklearn.metrics import roc_auc_score

    import hiddenstate as hs
    from hiddenstate.experiments.time_series import _load_ts

    warnings.simplefilter("ignore")
    for problem in problems:
        train, y_train = _load_ts(DATA / f"{problem}_TRAIN.ts")
        test, y_test = _load_ts(DATA / f"{problem}_TEST.ts")
        normal = y_train[0]
        X = [x for x, y in zip(train, y_train, strict=True) if y == normal]
        anomalous = (np.asarray(y_test) != normal).astype(int)
        for scale in ("standard", "series", "none"):
            start, aucs = time.perf_counter(), []
            for seed in (0, 1):
                est = hs.SequenceAutoencoder(16, max_iter=60, random_state=seed, scale=scale)
                aucs.append(roc_auc_score(anomalous, est.fit(X).reconstruction_error(test)))
            print(f"{problem:18s} {scale:9s} AUC {np.mean(aucs):.3f} "
                  f"({', '.join(f'{a:.3f}' for a in aucs)}), {len(X)} normal training "
                  f"series, {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["BasicMotions", "JapaneseVowels", "GunPoint"])
