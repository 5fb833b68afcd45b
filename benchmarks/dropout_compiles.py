"""XLA compilations of a grid search over dropout rates, counted with JAX's monitoring events.

``python benchmarks/dropout_compiles.py [--json FILE]``

``GridSearchCV(SequenceClassifier(hidden_size=16, embedding_dim=16, max_iter=3),
{"dropout": [0.1, 0.3, 0.5], "input_dropout": [0.1, 0.3]}, cv=3)`` on 300 generated
sentences of two classes: 18 fits and the refit. The rates are run-time values of the
compiled training loop (and inference never drops units), so the fits share their
programs. Prints the number of XLA compilations (``backend_compile`` events: a
compilation, or a read from the persistent cache that replaces it), the programs
compiled (by name) and the seconds, with an empty compilation cache (a fresh temporary
folder).
"""

from __future__ import annotations

from grid_compiles import main


def sentences(n: int, seed: int = 0):
    """``n`` sentences of 3-12 words: class 1 draws a fifth of its words from one set, class
    0 from another, the rest from words both share."""
    import numpy as np

    rng = np.random.default_rng(seed)
    shared = [f"w{i}" for i in range(40)]
    own = ([f"neg{i}" for i in range(8)], [f"pos{i}" for i in range(8)])
    y = rng.integers(0, 2, n)
    X = [" ".join(own[c][rng.integers(8)] if rng.random() < 0.2 else shared[rng.integers(40)]
                  for _ in range(rng.integers(3, 13))) for c in y]
    return X, y


def _setup():
    from sklearn.model_selection import GridSearchCV

    from hiddenstate import SequenceClassifier

    X, y = sentences(300)
    grid = {"dropout": [0.1, 0.3, 0.5], "input_dropout": [0.1, 0.3]}
    search = GridSearchCV(SequenceClassifier(hidden_size=16, embedding_dim=16, max_iter=3,
                                             random_state=0), grid, cv=3)
    return lambda: search.fit(X, y).best_params_


if __name__ == "__main__":
    main(__doc__, _setup, 3 * 6 + 1)
