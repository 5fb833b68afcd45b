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


def test_two_processes_match_one(tmp_path):
    port = _free_port()
    procs = [
        subprocess.Popen([sys.executable, str(WORKER), str(port), "2", str(p),
                          str(tmp_path / "two.safetensors")],
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
    # The one-process reference is the worker's recipe without a distributed runtime: this
    # process runs it as well as a third subprocess would (the same XLA flags and cache).
    X, _ = load_digits()
    a = hs.Autoencoder(16, max_iter=4, batch_size=64, random_state=0).fit(X)
    b = hs.load(tmp_path / "two.safetensors")
    for x, y in zip(jax.tree.leaves(a.model_), jax.tree.leaves(b.model_), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-6)
    assert a.loss_curve_ == pytest.approx(b.loss_curve_, rel=1e-5)
