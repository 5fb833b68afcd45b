"""XLA compilations of a small grid search, counted with JAX's monitoring events.

``python benchmarks/grid_compiles.py [--json FILE]``

``GridSearchCV(Autoencoder(n_components=32, max_iter=30), {"learning_rate": 5 values,
"alpha": 2 values}, cv=3)`` on scikit-learn's digits / 16: 30 fits and the refit. The
learning rate, ``alpha`` and the number of epochs are run-time values of the compiled
training loop, so the fits share one epoch program. Prints the number of XLA
compilations (``backend_compile`` events: a compilation, or a read from the persistent
cache that replaces it), the programs compiled (by name) and the seconds. Run it with an
empty compilation cache (the default here: a fresh temporary folder) to count them all.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import tempfile
import time
import warnings


def measure(setup, fits: int, json_path: str | None = None) -> dict:
    """With an empty compilation cache, ``setup()`` (imports and data, not timed) gives a
    search to run; run it (it returns the best parameters), counting the XLA
    compilations; print them and write them to ``json_path``."""
    os.environ["HIDDENSTATE_COMPILATION_CACHE"] = tempfile.mkdtemp(prefix="grid-cache-")

    import jax
    from jax._src import monitoring

    counts = {"compiles": 0, "compile_s": 0.0}
    names: collections.Counter = collections.Counter()

    def on_duration(event: str, duration: float, **kwargs) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            counts["compiles"] += 1
            counts["compile_s"] += duration
            names[str(kwargs.get("fun_name", "?"))] += 1

    monitoring.register_event_duration_secs_listener(on_duration)
    search = setup()
    warnings.simplefilter("ignore")  # ConvergenceWarning of the short fits
    t0 = time.perf_counter()
    best = search()
    seconds = time.perf_counter() - t0
    result = {"fits": fits, "xla_compilations": counts["compiles"],
              "compile_s": round(counts["compile_s"], 2), "total_s": round(seconds, 2),
              "best_params": best, "programs": dict(names.most_common()),
              "jax": jax.__version__}
    print(f"{result['fits']} fits: {result['xla_compilations']} XLA compilations, "
          f"{result['compile_s']:.2f} s compiling, {result['total_s']:.2f} s in all")
    for name, n in names.most_common():
        print(f"  {n:3d}  {name}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=1)
    return result


def _setup():
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV

    from hiddenstate import Autoencoder

    X = load_digits().data.astype(np.float32) / 16.0
    grid = {"learning_rate": [0.005, 0.01, 0.02, 0.05, 0.1], "alpha": [1e-4, 1e-3]}
    search = GridSearchCV(Autoencoder(n_components=32, max_iter=30, random_state=0), grid,
                          cv=3)
    return lambda: search.fit(X).best_params_


def main(doc: str = __doc__, setup=_setup, fits: int = 3 * 10 + 1) -> None:
    """The command line of a script measuring its ``setup`` (see :func:`measure`)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    measure(setup, fits, parser.parse_args().json)


if __name__ == "__main__":
    main()
