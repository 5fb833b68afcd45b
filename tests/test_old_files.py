"""Model files written by hiddenstate 0.1.0 (commit c477f37) load and compute as they did.

The files and their expected outputs are in tests/fixtures/models_0.1.0 (``make.py``
there wrote them with that commit's code). One file of every kind: each estimator,
a Pipeline, and an AnomalyDetector around each model it could wrap.
"""

from __future__ import annotations

import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import hiddenstate as hs

HERE = Path(__file__).parent / "fixtures" / "models_0.1.0"
EXPECTED = json.loads((HERE / "expected.json").read_text())
NAMES = sorted(k for k in EXPECTED if k != "library_version")


def _make_module():
    spec = importlib.util.spec_from_file_location("old_models_make", HERE / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _make_module()
INPUTS = MAKE.inputs()


def test_every_kind_is_kept():
    assert EXPECTED["library_version"] == "0.1.0"
    assert len(NAMES) == 10
    assert {p.stem for p in HERE.glob("*.hsm")} == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_old_file_loads_and_computes_the_same(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loading an old file warns about nothing
        model = hs.load(HERE / f"{name}.hsm")
    got = MAKE.outputs(name, model, INPUTS)
    want = EXPECTED[name]
    assert len(got) == len(want) > 0
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
