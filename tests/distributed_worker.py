"""``python distributed_worker.py PORT NUM_PROCESSES PROCESS_ID OUT [noseed]``: one process
of a run.

Joins the run, reads its own block of rows of the digits, gathers the rest,
fits an Autoencoder on all processes' devices and (process 0) saves the model.
With NUM_PROCESSES = 1 it is the one-process reference. With ``noseed`` the
Autoencoder has no random_state, and the process prints the seed its run used.
"""

from __future__ import annotations

import sys
import warnings

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    port, k, p, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    noseed = sys.argv[5:] == ["noseed"]
    from hiddenstate import distributed

    if k > 1:
        distributed.initialize(f"127.0.0.1:{port}", num_processes=k, process_id=p)
    import jax

    from hiddenstate import Autoencoder
    from hiddenstate.datasets import load_digits

    X, _ = load_digits()
    mine = X[distributed.process_rows(len(X))]  # each process reads its own rows
    data = distributed.allgather_rows(mine)
    assert data.shape == X.shape and (data == X).all()
    if noseed:
        from hiddenstate.estimators import _base

        drawn = _base.TrainingMixin._run_seed

        def spy(self):
            seed = drawn(self)
            print("seed", seed, flush=True)
            return seed

        _base.TrainingMixin._run_seed = spy
    ae = Autoencoder(16, max_iter=4, batch_size=64,
                     random_state=None if noseed else 0).fit(data)
    print("devices", len(jax.devices()), "processes", jax.process_count(), flush=True)
    if p == 0:
        ae.save(out)
