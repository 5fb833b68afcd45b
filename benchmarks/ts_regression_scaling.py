"""SequenceRegressor with and without scaling (inputs and targets) on series near 50 whose
targets are near 1000 (``500 + 10 mean + 20 last value``), 150 to fit, 50 to score.

    PYTHONPATH=$PWD python benchmarks/ts_regression_scaling.py

Measured (2 cores): R^2 0.989 (conv+recurrent) and 0.998 (recurrent) with
``scale="standard"`` (the targets standardised too), about -15000 for both with
``scale="none"``.
"""

from __future__ import annotations

import warnings

import numpy as np


def main() -> None:
    from hiddenstate import SequenceRegressor

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    X = [50 + rng.standard_normal((int(n), 1)) for n in rng.integers(8, 17, 200)]
    y = np.array([500 + 10 * x.mean() + 20 * x[-1, 0] for x in X])
    for scale in ("standard", "none"):
        for encoder in ("conv+recurrent", "recurrent"):
            reg = SequenceRegressor(scale=scale, encoder=encoder, max_iter=60,
                                    random_state=0).fit(X[:150], y[:150])
            print(f"scale={scale:9s} encoder={encoder:15s} R^2 {reg.score(X[150:], y[150:]):.3f}")


if __name__ == "__main__":
    main()
