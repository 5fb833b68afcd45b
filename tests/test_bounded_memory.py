"""fit_file trains on a file much larger than the memory it uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hiddenstate import Autoencoder, InputError
from hiddenstate.datasets import load_digits, write_table

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
WORKER = Path(__file__).with_name("memory_worker.py")


def test_fit_file_matches_in_memory_quality_and_reports_bad_rows(tmp_path):
    X, _ = load_digits()
    np.save(tmp_path / "x.npy", X)
    write_table(tmp_path / "x.csv", X)
    ref = Autoencoder(16, max_iter=8, random_state=0).fit(X)
    for name in ("x.npy", "x.csv"):
        ae = Autoencoder(16, max_iter=8, random_state=0).fit_file(tmp_path / name, chunk_rows=500)
        assert ae.n_features_in_ == 64 and len(ae.loss_curve_) == 8
        assert -ae.score(X) < 1.2 * -ref.score(X)
    bad = X.copy()
    bad[1234, 5] = np.inf
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(InputError, match=r"bad\.npy.*inf at row 1234, column 5"):
        Autoencoder(16, max_iter=1).fit_file(tmp_path / "bad.npy", chunk_rows=500)


def test_peak_memory_stays_well_under_the_file_size(tmp_path):
    path = tmp_path / "big.npy"
    rows, cols = 32768, 1024  # 128 MiB of float32
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, cols))
    for start in range(0, rows, 4096):
        big[start : start + 4096] = np.random.default_rng(start).random((4096, cols))
    big.flush()
    del big
    proc = subprocess.run([sys.executable, str(WORKER), str(path), "2048"], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    grown = r["after_mib"] - r["before_mib"]
    assert grown < 0.25 * r["file_mib"], r
