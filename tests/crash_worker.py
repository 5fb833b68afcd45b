"""A training run for the crash tests:
``python crash_worker.py CKPT_DIR [--slow-write | --hold] [--kind KIND] [--max-iter N]``.

Trains the run of :func:`make_run` for ``KIND`` (one of :data:`KINDS`; default
``autoencoder``; ``--sequence`` is an old spelling of ``--kind sequence-model``)
with a checkpoint every epoch, resuming from CKPT_DIR when checkpoints are
there. With ``--slow-write`` every checkpoint is written in two halves with a
pause between them and "WRITING" printed first, so that the test can kill the
process in the middle of a write. With ``--hold`` the first checkpoint write
stops after its first half, prints "HOLDING" and waits for a line on stdin (or
its end) before it goes on: the run holds its folder for as long as the test
needs, however slow the machine (the other writes are ordinary). Otherwise every
finished checkpoint write prints "SAVED".

The runs are small (a few seconds of training each) but long enough in epochs
that a kill lands mid-run:

- ``autoencoder``: a cross-entropy Autoencoder, 2000 binary rows x 128, 40 epochs;
- ``sequence-model``: an LSTM SequenceModel on 300 Reber strings in two length
  buckets (with the one-epoch curriculum), minibatches of 4, 12 epochs;
- ``sequence-ae``: an LSTM SequenceAutoencoder on 300 random sequences of 3-12
  steps of width 3, 8 units, 20 epochs;
- ``rae``: a RecursiveAutoencoder on 256 synthetic labelled sentences
  (:func:`make_sentences`), 8 components, batches of 16, 15 epochs.

``--max-iter N`` trains N epochs instead (the same run, shorter; :data:`SHORT` epochs
are enough for a kill inside the third checkpoint write to land mid-run).
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

KINDS = ("autoencoder", "sequence-model", "sequence-ae", "rae", "classifier")
#: Epochs of the short runs (``--max-iter``): the third checkpoint write is mid-run.
SHORT = 5

POSITIVE = ("good", "great", "fine", "happy", "love", "nice", "warm", "fun")
NEGATIVE = ("bad", "awful", "poor", "sad", "hate", "dull", "cold", "boring")
SHARED = ("the", "a", "movie", "film", "was", "is", "and", "very", "plot", "actors", "it",
          "story", "this", "of")


def make_sentences(n: int = 256, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` deterministic labelled sentences of 3-8 words: label 1 draws its
    sentiment words from :data:`POSITIVE`, label 0 from :data:`NEGATIVE`, the rest
    of each sentence from :data:`SHARED`."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    sentences = []
    for label in y:
        own = POSITIVE if label else NEGATIVE
        words = [own[rng.integers(len(own))] if rng.random() < 0.4
                 else SHARED[rng.integers(len(SHARED))] for _ in range(rng.integers(3, 9))]
        sentences.append(" ".join(words))
    return sentences, y


def make_sequences(n: int = 300, seed: int = 0, width: int = 3,
                   lengths: tuple[int, int] = (3, 12)) -> list[np.ndarray]:
    """``n`` random real sequences of ``lengths[0]..lengths[1]`` steps of ``width``."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((int(rng.integers(lengths[0], lengths[1] + 1)), width))
            .astype(np.float32) for _ in range(n)]


def make_data(kind: str | bool = "autoencoder") -> tuple:
    """The ``fit`` arguments of ``kind`` (``True``/``False``: the old ``sequence`` flag)."""
    kind = _kind(kind)
    rng = np.random.default_rng(0)
    if kind == "sequence-model":
        from hiddenstate.datasets import make_reber

        return (make_reber(300, rng, min_length=0),)
    if kind == "sequence-ae":
        return (make_sequences(300),)
    if kind in ("rae", "classifier"):
        return make_sentences(256)  # one inference chunk, one length bucket: one compile
    return ((rng.random((2000, 128)) < 0.3).astype(np.float32),)


def make_run(checkpoint_dir, resume, kind: str | bool = "autoencoder",
             max_iter: int | None = None):
    """A fresh estimator of ``kind`` checkpointing every epoch into ``checkpoint_dir``
    (``max_iter`` epochs if given, else the run's own number)."""
    kind = _kind(kind)
    ckpt = dict(random_state=7, checkpoint_dir=checkpoint_dir, checkpoint_every=1,
                resume=resume)
    est = _make(kind, ckpt)
    return est if max_iter is None else est.set_params(max_iter=max_iter)


def _make(kind: str, ckpt: dict):
    import hiddenstate as hs

    if kind == "sequence-model":
        return hs.SequenceModel("lstm", hidden_size=8, batch_size=4, max_iter=12, **ckpt)
    if kind == "sequence-ae":
        return hs.SequenceAutoencoder(8, max_iter=20, **ckpt)
    if kind == "rae":
        return hs.RecursiveAutoencoder(8, batch_size=16, max_iter=15, **ckpt)
    if kind == "classifier":
        return hs.SequenceClassifier("gru", hidden_size=8, embedding_dim=4, batch_size=16,
                                     max_iter=15, dropout=0.2, **ckpt)
    return hs.Autoencoder(64, output="sigmoid", loss="cross_entropy", max_iter=40,
                          batch_size=32, **ckpt)


def fit(est, kind: str | bool = "autoencoder"):
    """``est.fit`` on the data of ``kind``."""
    return est.fit(*make_data(kind))


def _kind(kind: str | bool) -> str:
    if isinstance(kind, bool):
        return "sequence-model" if kind else "autoencoder"
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    return kind


def _slow_writes(hold: bool = False):
    """Checkpoint writes in two halves with a pause between them: 0.4 s each, or with
    ``hold`` (the first write only) until stdin gives a line or ends."""
    import hiddenstate.checkpoint as ckpt
    from hiddenstate._io import atomic_write

    plain, held = ckpt.atomic_write_bytes, []

    def slow(path, data):
        if hold and held:
            return plain(path, data)
        print("WRITING", flush=True)
        with atomic_write(path, "wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            handle.flush()
            if hold:
                held.append(path)
                print("HOLDING", flush=True)
                sys.stdin.readline()
            else:
                time.sleep(0.4)
            handle.write(data[half:])

    ckpt.atomic_write_bytes = slow


def _announced_writes():
    """Print "SAVED" after each checkpoint write: the timed crash tests wait for the
    first one (training has started) and count them (the kill landed before the end)."""
    import hiddenstate.checkpoint as ckpt

    plain = ckpt.atomic_write_bytes

    def announced(path, data):
        plain(path, data)
        print("SAVED", flush=True)

    ckpt.atomic_write_bytes = announced


def _parse(argv: list[str]) -> tuple[str, str, int | None]:
    kind = "sequence-model" if "--sequence" in argv else "autoencoder"
    if "--kind" in argv:
        kind = argv[argv.index("--kind") + 1]
    max_iter = int(argv[argv.index("--max-iter") + 1]) if "--max-iter" in argv else None
    return argv[1], _kind(kind), max_iter


if __name__ == "__main__":
    warnings.simplefilter("ignore")
    if "--slow-write" in sys.argv or "--hold" in sys.argv:
        _slow_writes(hold="--hold" in sys.argv)
    else:
        _announced_writes()
    directory, run_kind, epochs = _parse(sys.argv)
    est = make_run(directory, resume=True, kind=run_kind, max_iter=epochs)
    print("START", flush=True)
    fit(est, run_kind)
    print("DONE", flush=True)
