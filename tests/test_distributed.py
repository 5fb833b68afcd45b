"""Two processes on 127.0.0.1 with JAX's distributed runtime (Gloo CPU collectives)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import hiddenstate as hs
from hiddenstate.datasets import load_digits

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
WORKER = Path(__file__).with_name("distributed_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_two(tmp_path, *extra) -> list[str]:
    port = _free_port()
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), str(port), "2", str(p),
                          str(tmp_path / "two.safetensors"), *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in range(2)
    ]
    outs = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("the two-process run hung")
        assert proc.returncode == 0, err[-3000:]
        outs.append(out)
    assert all("devices 2 processes 2" in o for o in outs), outs
    return outs


def _same_model(a, b) -> None:
    for x, y in zip(jax.tree.leaves(a.model_), jax.tree.leaves(b.model_), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
    assert a.loss_curve_ == pytest.approx(b.loss_curve_, rel=1e-5)


def test_two_processes_without_a_seed_use_process_0s(tmp_path):
    """Finding: two processes without --random-state each drew their own seed and trained
    a model 80x worse. Now process 0's seed is every process's, and the run is the
    one-process run with that seed."""
    outs = _run_two(tmp_path, "noseed")
    seeds = [int(line.split()[1]) for o in outs for line in o.splitlines()
             if line.startswith("seed ")]
    assert len(seeds) == 2 and seeds[0] == seeds[1], outs
    X, _ = load_digits()
    one = hs.Autoencoder(16, max_iter=4, batch_size=64, random_state=seeds[0]).fit(X)
    _same_model(one, hs.load(tmp_path / "two.safetensors"))


def test_two_processes_match_one(tmp_path):
    _run_two(tmp_path)
    # The one-process reference is the worker's recipe without a distributed runtime: this
    # process runs it as well as a third subprocess would (the same XLA flags and cache).
    X, _ = load_digits()
    a = hs.Autoencoder(16, max_iter=4, batch_size=64, random_state=0).fit(X)
    _same_model(a, hs.load(tmp_path / "two.safetensors"))
