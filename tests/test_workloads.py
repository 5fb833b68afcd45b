"""The benchmark harness (quick W1 only; the full runs are `make bench`)."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

import hiddenstate
from hiddenstate.bench import WORKLOADS, matmul_peak, run_workloads

KEYS = {"workload", "variant", "compile_s", "train_s", "step_us", "final_loss", "quality"}
PACKAGE = Path(hiddenstate.__file__).parent


@pytest.mark.slow  # a whole W1 benchmark run (16 s)
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

    from hiddenstate.bench._bare import bare_w3, bare_w6, padded_one_hot
    from hiddenstate.datasets import REBER_ALPHABET, make_sincos

    assert list(WORKLOADS) == ["W1", "W2", "W3", "W4", "W5", "W6", "cache"]
    S, T = make_sincos()
    assert bare_w6(S, T, 5) > 0
    rng = np.random.default_rng(0)
    X = rng.random((6, 5, 7)).astype(np.float32)
    M = np.ones((6, 5), np.float32)
    assert bare_w3(X, (X > 0.5).astype(np.float32), M, 1) > 0
    strings = ["BTSXSE", "BPVE"]
    targets = [np.ones((len(s) - 1, 7), np.float32) for s in strings]
    X, Y, M = padded_one_hot(strings, targets, REBER_ALPHABET)
    assert X.shape == Y.shape == (2, 5, 7) and M.tolist() == [[1] * 5, [1, 1, 1, 0, 0]]
    assert X[1, 2, REBER_ALPHABET.index("V")] == 1 and X[1, 3:].sum() == 0


def _imports(path: Path):
    """(module, names) of every import statement in a file; relative modules keep their dots."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            yield "." * node.level + (node.module or ""), [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            yield from ((a.name, []) for a in node.names)


def test_bench_uses_only_public_recipes_and_experiments_never_import_bench():
    """The recipes live in the experiments; the bench imports them by their public names."""
    from hiddenstate.experiments import recurrent_ae

    assert not hasattr(recurrent_ae, "_fit") and callable(recurrent_ae.fit_recipe)
    assert not (PACKAGE / "workloads.py").exists()
    for path in (PACKAGE / "bench").glob("*.py"):
        tree = ast.parse(path.read_text())
        private = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
                   and n.attr.startswith("_") and not n.attr.startswith("__")]
        assert not private, (path.name, private)
        for module, names in _imports(path):
            if module.startswith("..") or module.startswith("hiddenstate"):
                parts = module.lstrip(".").split(".") + names
                assert not [p for p in parts if p.startswith("_")], (path.name, module, names)
    for path in (PACKAGE / "experiments").glob("*.py"):
        for module, names in _imports(path):
            assert "bench" not in module.split(".") and "bench" not in names, (path.name, module)
            assert "workloads" not in module, (path.name, module)


@pytest.mark.slow  # two fresh processes; make test covers the cache in test_compilation_cache
def test_cache_workload_measures_a_cold_and_a_warm_run(tmp_path):
    """The second identical command reads its programs from the cache folder."""
    from hiddenstate.bench._cache import measure

    argv = ["autoencoder", "fit", "donut", "--max-iter", "2", "--random-state", "0",
            "--out", str(tmp_path / "m.safetensors")]
    cold = measure(argv, tmp_path / "cache")
    warm = measure(argv, tmp_path / "cache")
    assert cold["exit"] == warm["exit"] == 0
    assert 0 <= warm["backend_compile_s"] < 0.5 * cold["backend_compile_s"]
    assert warm["trace_s"] > 0 and cold["wall_s"] > 0
