"""Checkpoints: atomic, pruned, exact resume, and real SIGKILL crash tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from hiddenstate import Autoencoder, ModelFileError
from hiddenstate.checkpoint import Checkpointer
from hiddenstate.datasets import load_digits

from . import crash_worker

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
WORKER = Path(__file__).with_name("crash_worker.py")


def _leaves(est):
    return [np.asarray(x) for x in jax.tree.leaves(est.model_)]


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(_leaves(a), _leaves(b), strict=True))


@pytest.fixture(scope="module")
def digits_run():
    """``(X, kw, ref)``: the digits, an autoencoder's settings and its uninterrupted run,
    shared by the two resume tests below (one recipe: its programs compile once)."""
    X, _ = load_digits()
    kw = dict(n_components=16, max_iter=12, random_state=1)
    return X, kw, Autoencoder(**kw).fit(X)


def test_resume_is_bit_exact_and_old_checkpoints_are_pruned(tmp_path, digits_run):
    X, kw, ref = digits_run
    run = Autoencoder(**kw, checkpoint_dir=tmp_path, checkpoint_every=3).fit(X)
    assert _same(ref, run)
    names = sorted(p.name for p in tmp_path.iterdir())
    # The folder's lock file stays (unlocked): removing a lock file races with its next user.
    assert names == [".checkpoint.lock", *(f"checkpoint-{e:08d}.safetensors" for e in (6, 9, 12))]
    # Lose the newest two: resuming from epoch 6 ends exactly where the full run did.
    for e in (9, 12):
        (tmp_path / f"checkpoint-{e:08d}.safetensors").unlink()
    resumed = Autoencoder(**kw, checkpoint_dir=tmp_path, checkpoint_every=3, resume=True).fit(X)
    assert _same(ref, resumed)
    assert resumed.loss_curve_ == ref.loss_curve_


def test_checkpoints_of_identical_runs_are_byte_identical(tmp_path, digits_run):
    """Same data, settings and seed: the same bytes (the JSON inside is key-sorted), so a
    checkpoint can be compared or deduplicated by its digest."""
    X, kw, _ = digits_run
    for run in ("a", "b"):
        Autoencoder(**kw, checkpoint_dir=tmp_path / run, checkpoint_every=6).fit(X)
    names = ["checkpoint-00000006.safetensors", "checkpoint-00000012.safetensors"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # The state is written in a canonical form (sorted keys), not in insertion order.
    blob = (tmp_path / "a" / names[0]).read_bytes()
    header = json.loads(blob[8: 8 + int.from_bytes(blob[:8], "little")])
    state = header["__metadata__"]["state"]
    assert state == json.dumps(json.loads(state), sort_keys=True)


def test_resume_skips_a_corrupted_newest_checkpoint_and_refuses_other_runs(tmp_path, digits_run):
    X, kw, ref = digits_run
    Autoencoder(**kw, checkpoint_dir=tmp_path, checkpoint_every=3).fit(X)
    newest = tmp_path / "checkpoint-00000012.safetensors"
    newest.write_bytes(newest.read_bytes()[:100])
    resumed = Autoencoder(**kw, checkpoint_dir=tmp_path, checkpoint_every=3, resume=True).fit(X)
    assert _same(ref, resumed)
    with pytest.raises(ModelFileError, match="other settings or data"):
        Autoencoder(**{**kw, "alpha": 0.1}, checkpoint_dir=tmp_path,
                    checkpoint_every=3, resume=True).fit(X)
    with pytest.raises(ModelFileError, match="other settings or data"):
        Autoencoder(**kw, checkpoint_dir=tmp_path, checkpoint_every=3, resume=True).fit(X[:-1])


def test_ctrl_c_writes_a_checkpoint_of_the_last_finished_epochs(tmp_path, monkeypatch):
    import hiddenstate.train as train
    from hiddenstate.estimators import AutoencoderObjective
    from hiddenstate.nn import AutoencoderNet
    from hiddenstate.optim import make_optimizer

    X, _ = load_digits()
    real = train._run_epochs
    calls = {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    net = AutoencoderNet((64, 8), key=jax.random.key(0))
    ckpt = Checkpointer(tmp_path, every=100, settings={"run": 1})
    kw = dict(objective=AutoencoderObjective(), optimizer=make_optimizer("adam", 0.01),
              max_iter=10, plan=train.BatchPlan.make(len(X), 64), key=jax.random.key(1),
              epochs_per_call=2, checkpointing=train.Checkpointing(ckpt))
    ref = train.fit(net, X, rng=np.random.default_rng(0), **{**kw, "checkpointing": None})
    monkeypatch.setattr(train, "_run_epochs", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train.fit(net, X, rng=np.random.default_rng(0), **kw)
    # Two calls of 2 epochs finished before Ctrl-C: their state is on disk.
    assert [p.name for p in ckpt.paths()] == ["checkpoint-00000004.safetensors"]
    monkeypatch.setattr(train, "_run_epochs", real)
    kw["checkpointing"] = train.Checkpointing(ckpt, resume=True)
    resumed = train.fit(net, X, rng=np.random.default_rng(0), **kw)
    assert resumed.history.loss == ref.history.loss
    for a, b in zip(jax.tree.leaves(ref.model), jax.tree.leaves(resumed.model), strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))


def _assert_checkpoints_whole(directory: Path):
    for path in Checkpointer(directory).paths():
        Checkpointer.read(path)  # raises on a half-written file


def _assert_same_run(ref, resumed, kind):
    """Every parameter, the loss curve and (RAE) the classifier, bit for bit."""
    assert _same(ref, resumed)
    assert resumed.loss_curve_ == ref.loss_curve_ and resumed.n_iter_ == ref.n_iter_
    if kind == "rae":
        assert np.array_equal(resumed.classifier_.coef_, ref.classifier_.coef_)
        assert np.array_equal(resumed.classifier_.intercept_, ref.classifier_.intercept_)


def _kill_and_resume(tmp_path, ref, *, delay, during_write, kind="autoencoder",
                     max_iter=None):
    """Run the worker of ``kind`` (``max_iter`` epochs, default its own), SIGKILL it
    (inside checkpoint write number ``delay``, or ``delay`` epochs' time after its
    second checkpoint was written: training had started, and the time between the
    first two writes is an epoch's), check that the kill landed before training ended,
    resume in-process, compare with ``ref``. Returns the number of checkpoints the
    killed run left."""
    ckpt = tmp_path / "ckpt"
    args = [sys.executable, str(WORKER), str(ckpt), "--kind", kind]
    args += ["--max-iter", str(max_iter)] if max_iter else []
    args += ["--slow-write"] if during_write else []
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        if during_write:
            writes = 0
            for line in proc.stdout:
                assert not line.startswith("DONE"), "the run ended before the kill"
                if line.startswith("WRITING"):
                    writes += 1
                    if writes >= delay:
                        time.sleep(0.15)  # inside the 0.4 s pause between the halves
                        break
        else:
            assert proc.stdout.readline().startswith("START")
            assert proc.stdout.readline().startswith("SAVED")  # epoch 1 is done
            first = time.monotonic()
            assert proc.stdout.readline().startswith("SAVED")
            time.sleep(delay * (time.monotonic() - first))
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read()
    finally:
        proc.wait(timeout=60)
    # The kill landed mid-training: the run neither returned nor wrote its last epoch.
    assert proc.returncode == -signal.SIGKILL and "DONE" not in rest, "killed after the end"
    _assert_checkpoints_whole(ckpt)
    left = Checkpointer(ckpt).paths()
    epochs = max_iter or crash_worker.make_run(ckpt, resume=False, kind=kind).max_iter
    if left:
        assert 0 < Checkpointer.read(left[-1])[0]["epoch"] < epochs
    else:  # only a kill inside the first write leaves no finished checkpoint
        assert during_write and delay == 1
    if during_write:
        # Killed mid-run inside write ``delay``: its half-written temporary file is there,
        # the ``delay - 1`` finished checkpoints are whole.
        assert [p.name for p in left[-1:]] == [f"checkpoint-{delay - 1:08d}.safetensors"
                                              for _ in range(delay > 1)]
        assert list(ckpt.glob(".checkpoint-*.tmp"))
    resumed = crash_worker.fit(
        crash_worker.make_run(ckpt, resume=True, kind=kind, max_iter=max_iter), kind)
    _assert_same_run(ref, resumed, kind)
    assert not list(ckpt.glob(".checkpoint-*.tmp"))  # the next write cleaned up
    return len(left)


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    """``(kind, max_iter=None) -> `` an uninterrupted run of the crash worker's recipe
    (cached per module).

    It checkpoints every epoch into a folder of its own, as the killed run does, so
    that the resumed run in this process reuses its compiled epoch loop; that
    checkpointing leaves results unchanged is tested separately (test_template.py,
    test_resume_is_bit_exact_and_old_checkpoints_are_pruned)."""
    cache = {}

    def get(kind, max_iter=None):
        if (kind, max_iter) not in cache:
            where = tmp_path_factory.mktemp(f"ref-{kind}")
            run = crash_worker.make_run(where, resume=False, kind=kind, max_iter=max_iter)
            cache[kind, max_iter] = crash_worker.fit(run, kind)
        return cache[kind, max_iter]

    return get


def test_sigkill_at_a_moment_then_resume_matches_an_uninterrupted_run(tmp_path, references):
    """Killed 5 epochs' time after its second of 40 epochs (the kill is checked to land
    mid-training), resumed: the same parameters and loss curve as a run never killed."""
    _kill_and_resume(tmp_path, references("autoencoder"), delay=5.0, during_write=False)


@pytest.mark.parametrize("kind", crash_worker.KINDS)
def test_killed_mid_checkpoint_write_resumes_bit_exact(tmp_path, references, kind):
    """Each estimator: SIGKILL inside the third checkpoint write (mid-run, of a short run:
    :data:`crash_worker.SHORT` epochs), resume in this process; every parameter and the
    loss curve equal an uninterrupted run's. (The full-length runs: the slow tests.)"""
    short = crash_worker.SHORT
    left = _kill_and_resume(tmp_path, references(kind, short), delay=3, during_write=True,
                            kind=kind, max_iter=short)
    assert left == 2


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "trial"), [(k, t) for k in crash_worker.KINDS
                                             for t in range(20 if k == "autoencoder" else 5)])
def test_sigkill_at_random_moments(tmp_path, references, kind, trial):
    rng = np.random.default_rng(trial)
    if trial % 3 == 0:
        _kill_and_resume(tmp_path, references(kind), delay=int(rng.integers(1, 10)),
                         during_write=True, kind=kind)
    else:
        epochs = crash_worker.make_run(tmp_path, resume=False, kind=kind).max_iter
        _kill_and_resume(tmp_path, references(kind),
                         delay=float(rng.uniform(0.2, epochs / 2)), during_write=False,
                         kind=kind)


def test_divergence_leaves_the_last_good_checkpoint_loadable(tmp_path):
    from hiddenstate import DivergenceError
    from hiddenstate.datasets import make_donut

    X, _ = make_donut()
    X = X * 10  # a linear autoencoder with plain SGD at lr 0.02 explodes on this scale
    kw = dict(activation="linear", optimizer="sgd", learning_rate=0.02,
              learning_rate_schedule="constant", batch_size=None, max_iter=500, random_state=0)
    with pytest.raises(DivergenceError, match="non-finite in epoch 15") as info:
        Autoencoder(**kw, checkpoint_dir=tmp_path, checkpoint_every=5).fit(X)
    assert info.value.epoch == 14
    paths = Checkpointer(tmp_path).paths()
    assert [p.name for p in paths][-1] == "checkpoint-00000010.safetensors"
    for path in paths:
        state, tensors = Checkpointer.read(path)
        assert not any(np.isnan(t).any() for t in tensors.values() if t.dtype.kind == "f")
        assert np.isfinite(state["loss"]).all()
    # Gradient clipping tames the same run.
    Autoencoder(**{**kw, "max_iter": 50}, clip_norm=1.0).fit(X)


def test_sequence_model_resume_in_buckets_is_bit_exact(tmp_path):
    from hiddenstate import SequenceModel
    from hiddenstate.datasets import make_reber

    strings = make_reber(200, np.random.default_rng(3), min_length=0)
    kw = dict(hidden_size=8, max_iter=6, batch_size=4, random_state=2)
    ref = SequenceModel("gru", **kw).fit(strings)
    SequenceModel("gru", **kw, checkpoint_dir=tmp_path, checkpoint_every=2).fit(strings)
    for e in (4, 6):
        (tmp_path / f"checkpoint-{e:08d}.safetensors").unlink()
    resumed = SequenceModel("gru", **kw, checkpoint_dir=tmp_path, checkpoint_every=2,
                            resume=True).fit(strings)
    assert _same(ref, resumed) and resumed.loss_curve_ == ref.loss_curve_
