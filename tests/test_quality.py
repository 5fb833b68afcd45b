"""The issue's quality targets at full size (``make test-slow``)."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenstate.experiments import digits, donut, mnist

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
]


def _rows(result):
    return {(r.variant, r.figure): r for r in result.rows}


def test_w1_seed_algorithm_and_defaults(tmp_path):
    rows = _rows(donut.run(donut.Config(), tmp_path))
    seed = rows[("seed algorithm", "final MSE")]
    assert abs(seed.ours - 3.0e-4) <= 0.05 * 3.0e-4
    ours = rows[("hiddenstate default", "final MSE")]
    assert ours.ours <= seed.ours * 1.01
    assert rows[("hiddenstate default", "epochs to the seed's final MSE")].passed


def test_w2_quality_a_and_pca(tmp_path):
    result = digits.run(digits.Config(), tmp_path)
    assert all(r.passed for r in result.rows), result.rows


def test_w2_quality_b_mnist(tmp_path, shared_data):
    result = mnist.run(mnist.Config(), tmp_path, data_dir=shared_data)
    losses = [r.ours for r in result.rows]
    assert all(np.isfinite(losses)) and max(losses) < 60
