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


def test_unknown_workload_and_matmul_peak(monkeypatch):
    from hiddenstate.bench import _timing

    with pytest.raises(ValueError, match="valid: W1"):
        run_workloads(["W9"])
    # The rate is the products' FLOPs over their summed best times: 2 m k n each.
    times = iter([0.5, 0.25])
    monkeypatch.setattr(_timing, "best_time", lambda *a, **k: next(times))
    assert _timing.products_rate([(10, 20, 30), (40, 50, 60)]) == pytest.approx(
        (2 * 10 * 20 * 30 + 2 * 40 * 50 * 60) / 0.75 / 1e9)
    monkeypatch.setattr(_timing, "best_time", lambda *a, **k: 1e-3)
    assert matmul_peak(100, repeats=2) == pytest.approx(2 * 100**3 / 1e-3 / 1e9)


def _timed_loop(monkeypatch):
    """Patch the bare loops' timer: returns a dict that receives the loop and its
    arguments instead of timing them."""
    from hiddenstate.bench import _bare

    seen = {}

    def capture(fn, *args, **kwargs):
        seen["fn"], seen["args"] = fn, args
        return 1.0

    monkeypatch.setattr(_bare, "best_time", capture)
    return seen


def test_bare_recurrent_loops_train_what_they_time(monkeypatch):
    """Each bare loop times the seed's training: run once, it lowers the recipe's loss."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from hiddenstate.bench._bare import bare_w3, bare_w6, elman_loss, padded_one_hot
    from hiddenstate.datasets import REBER_ALPHABET, make_sincos

    assert list(WORKLOADS) == ["W1", "W2", "W3", "W4", "W5", "W6", "cache"]
    seen = _timed_loop(monkeypatch)

    def mean_loss(p, X, Y, M, output):
        return float(jnp.mean(jax.vmap(lambda x, y, m: elman_loss(p, x, y, m, output))(
            X, Y, M)))

    S, T = make_sincos()
    assert bare_w6(S, T, 50) == 1.0
    p0 = seen["args"][0]
    M = np.ones(S.shape[:2], np.float32)
    before, after = (mean_loss(p, S, T, M, "linear") for p in (p0, seen["fn"](p0)))
    assert after < 0.1 * before  # 50 full-batch SGD steps at 0.1: 0.50 -> 0.025
    rng = np.random.default_rng(0)
    X = rng.random((6, 5, 7)).astype(np.float32)
    Y, M = (X > 0.5).astype(np.float32), np.ones((6, 5), np.float32)
    bare_w3(X, Y, M, 20)
    p0 = seen["args"][0]
    before, after = (mean_loss(p, X, Y, M, "sigmoid") for p in (p0, seen["fn"](p0)))
    assert after < 0.9 * before  # 20 epochs of batch-1 SGD at 0.2: 0.72 -> 0.60
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


class _Stop(BaseException):
    pass


def test_quick_shortens_the_workloads_the_help_names(monkeypatch, capsys):
    """`bench --quick`: the help names what it shortens; W6 runs fewer steps, W1 and W3
    (seconds each) the same (the first timed run's step count, caught before it runs)."""
    from hiddenstate.bench import _workloads
    from hiddenstate.cli import main
    from hiddenstate.cli.bench import FULL, QUICK

    assert set(QUICK) | set(FULL) == set(WORKLOADS) and not set(QUICK) & set(FULL)
    steps = {}

    def first_run(run, *args, **kwargs):
        steps[name, quick] = [a for a in args if isinstance(a, int)][0]
        raise _Stop

    monkeypatch.setattr(_workloads, "timed_runs", first_run)
    monkeypatch.setattr(_workloads, "timed_fits", first_run)
    for name in ("W1", "W3", "W6"):
        for quick in (False, True):
            with pytest.raises(_Stop):
                WORKLOADS[name](quick, None)
        assert (steps[name, True] < steps[name, False]) == (name in QUICK), name
    assert main(["bench", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "shorter runs of W2, W4, W5, W6, cache; W1, W3 run their whole recipes" in out
