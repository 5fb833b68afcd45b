"""Data parallelism over forced CPU devices (a subprocess: the flag must precede JAX's start)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("multidevice_worker.py")


@pytest.fixture(scope="module")
def multidevice_run(tmp_path_factory):
    dump = tmp_path_factory.mktemp("hlo")
    env = {
        **os.environ,
        # The suite's own flags too (make test lowers the optimisation level).
        "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} "
        f"--xla_force_host_platform_device_count=4 --xla_dump_to={dump} "
        "--xla_dump_hlo_as_text",
        # Compile here (the test reads XLA's dumps), not from the suite's persistent cache.
        "JAX_ENABLE_COMPILATION_CACHE": "false",
    }
    proc = subprocess.run(
        [sys.executable, str(WORKER)], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), dump


def test_sharded_runs_match_one_device(multidevice_run):
    results, _ = multidevice_run
    assert len(results) == 5  # 2 batch settings x 2 and 4 devices, and the estimator
    assert results.pop("estimator")["max_abs_diff"] < 1e-5
    for name, r in results.items():
        assert r["max_abs_diff"] < 1e-5, (name, r)
        assert r["loss_diff"] < 1e-5, (name, r)
        n = int(name.rsplit("=", 1)[1])
        assert r["param_devices"] == [n], (name, r)  # replicated over the whole mesh


def test_gradients_are_all_reduced_across_devices(multidevice_run):
    _, dump = multidevice_run
    modules = sorted(dump.glob("*jit__run_epochs*after_optimizations.txt"))
    assert modules, "no compiled training loop was dumped"
    with_collective = [m for m in modules if "all-reduce(" in m.read_text()]
    # One one-device module per batch setting, the 2- and 4-device ones all-reduce.
    assert len(with_collective) >= 4, [m.name for m in modules]
