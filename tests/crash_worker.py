"""A training run for the crash tests:
``python crash_worker.py CKPT_DIR [--slow-write] [--sequence]``.

Trains the run of :func:`make_run` (an Autoencoder, or with ``--sequence`` an
online LSTM SequenceModel on Reber strings in length buckets) with a checkpoint
every epoch, resuming from CKPT_DIR when checkpoints are there. With
``--slow-write`` every checkpoint is written in two halves with a pause between
them and "WRITING" printed first, so that the test can kill the process in the
middle of a write.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np


def make_data(sequence: bool = False):
    rng = np.random.default_rng(0)
    if sequence:
        from hiddenstate.datasets import make_reber

        return make_reber(1500, rng, min_length=0)
    return (rng.random((2000, 128)) < 0.3).astype(np.float32)


def make_run(checkpoint_dir, resume, sequence: bool = False):
    from hiddenstate import Autoencoder, SequenceModel

    if sequence:
        return SequenceModel("lstm", hidden_size=16, max_iter=10, random_state=7,
                             checkpoint_dir=checkpoint_dir, checkpoint_every=1, resume=resume)

    return Autoencoder(
        64, output="sigmoid", loss="cross_entropy", max_iter=40, batch_size=32,
        random_state=7, checkpoint_dir=checkpoint_dir, checkpoint_every=1, resume=resume,
    )


def _slow_writes():
    import hiddenstate.checkpoint as ckpt
    from hiddenstate._io import atomic_write

    def slow(path, data):
        print("WRITING", flush=True)
        with atomic_write(path, "wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            handle.flush()
            time.sleep(0.4)
            handle.write(data[half:])

    ckpt.atomic_write_bytes = slow


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    if "--slow-write" in sys.argv:
        _slow_writes()
    sequence = "--sequence" in sys.argv
    est = make_run(sys.argv[1], resume=True, sequence=sequence)
    print("START", flush=True)
    est.fit(make_data(sequence))
    print("DONE", flush=True)
