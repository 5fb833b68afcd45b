"""``python memory_worker.py FILE.npy CHUNK_ROWS``: fit_file on a big file, print peak memory.

Prints JSON: the process's peak resident memory (MiB) before and after training
and the file's size (MiB).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import warnings


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    import numpy as np

    from hiddenstate import Autoencoder

    path, chunk_rows = sys.argv[1], int(sys.argv[2])
    # Warm JAX up on a tiny problem so that the baseline includes the runtime itself.
    Autoencoder(8, max_iter=1, batch_size=256).fit(np.zeros((512, 8), np.float32))
    before = peak_mib()
    ae = Autoencoder(8, max_iter=1, batch_size=256, random_state=0)
    ae.fit_file(path, chunk_rows=chunk_rows)
    after = peak_mib()
    print(json.dumps({"before_mib": before, "after_mib": after,
                      "file_mib": os.path.getsize(path) / 2**20, "loss": ae.loss_curve_[-1]}))
