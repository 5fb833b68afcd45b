"""``python distributed_worker.py PORT NUM_PROCESSES PROCESS_ID OUT [NOSEED_OUT]``: one
process of a run.

Joins the run, reads its own block of rows of the digits, gathers the rest,
fits an Autoencoder (random_state=0) on all processes' devices and (process 0)
saves the model to OUT. With NUM_PROCESSES = 1 it is the one-process reference.
With NOSEED_OUT it then fits a second Autoencoder without a random_state in the
same runtime, prints the seed that run used, and (process 0) saves it to
NOSEED_OUT: one pair of processes serves both tests of test_distributed.py.
"""

from __future__ import annotations

import sys
import warnings

if __name__ == "__main__":
    warnings.simplefilter("ignore")
    port, k, p, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    noseed_out = sys.argv[5] if len(sys.argv) > 5 else None
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
    ae = Autoencoder(16, max_iter=4, batch_size=64, random_state=0).fit(data)
    print("devices", len(jax.devices()), "processes", jax.process_count(), flush=True)
    if p == 0:
        ae.save(out)
    if noseed_out is not None:
        from hiddenstate.estimators import _base

        drawn = _base.TrainingMixin._run_seed

        def spy(self):
            seed = drawn(self)
            print("seed", seed, flush=True)
            return seed

        _base.TrainingMixin._run_seed = spy
        ae = Autoencoder(16, max_iter=4, batch_size=64, random_state=None).fit(data)
        if p == 0:
            ae.save(noseed_out)
