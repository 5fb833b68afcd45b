"""The benchmark harness (quick W1 only; the full runs are `make bench`)."""

from __future__ import annotations

import math

import pytest

from hiddenstate.workloads import matmul_peak, run_workloads

KEYS = {"workload", "variant", "compile_s", "train_s", "step_us", "final_loss", "quality"}


def test_w1_records_seed_first_then_ours():
    seen = []
    records = run_workloads(["W1"], quick=True, on_record=seen.append)
    assert [r.variant for r in records] == ["seed", "ours"] and seen == records
    for r in records:
        js = r.to_json()
        assert KEYS <= set(js)
        assert all(math.isfinite(js[k]) for k in KEYS - {"workload", "variant"})
    assert abs(records[0].quality - 3.0e-4) < 0.05 * 3.0e-4


def test_unknown_workload_and_matmul_peak():
    with pytest.raises(ValueError, match="valid: W1"):
        run_workloads(["W9"])
    assert matmul_peak(128, repeats=2) > 0


def test_bare_recurrent_loops_run():
    import numpy as np

    from hiddenstate.datasets import make_sincos
    from hiddenstate.workloads import WORKLOADS, bare_w3, bare_w6

    assert list(WORKLOADS) == ["W1", "W2", "W3", "W4", "W5", "W6"]
    S, T = make_sincos()
    assert bare_w6(S, T, 5) > 0
    rng = np.random.default_rng(0)
    X = rng.random((6, 5, 7)).astype(np.float32)
    M = np.ones((6, 5), np.float32)
    assert bare_w3(X, (X > 0.5).astype(np.float32), M, 1) > 0
