"""Quick reports compare against full runs' stored figures, never typed-in ones."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
from pathlib import Path

from hiddenstate.experiments import EXPERIMENTS, scan_exercise
from hiddenstate.experiments._full_runs import FULL_RUNS, full_run, full_run_note

ROOT = Path(__file__).resolve().parents[1]


def _store_script():
    spec = importlib.util.spec_from_file_location("store_full_runs",
                                                  ROOT / "benchmarks" / "store_full_runs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results(config, ours=1.2e-4):
    settings = json.loads(json.dumps(dataclasses.asdict(config)))
    return {"command": "hiddenstate reproduce --only scan-exercise",
            "environment": {"date": "2026-12-07T19:24:21+00:00", "hiddenstate": "0.1.0",
                            "cpus": 2, "devices": ["cpu:0"]},
            "experiments": [{"name": "scan-exercise", "settings": settings, "rows": [
                {"variant": "seed algorithm, 10000 SGD steps", "figure": "final MSE",
                 "ours": ours}]}]}


def test_only_full_configs_are_stored_and_the_note_shows_them(tmp_path, monkeypatch):
    store = _store_script()
    target = tmp_path / "full_runs.json"
    monkeypatch.setattr(store, "FULL_RUNS", target)
    quick = tmp_path / "quick.json"
    quick.write_text(json.dumps(_results(scan_exercise.Config.quick())))
    assert store.main([str(quick)]) == 1 and json.loads(target.read_text()) == {}
    full = tmp_path / "full.json"
    full.write_text(json.dumps(_results(scan_exercise.Config())))
    assert store.main([str(full)]) == 0
    assert full_run("scan-exercise", target)["rows"][0]["ours"] == 1.2e-4
    note = full_run_note("scan-exercise", target)
    assert "`hiddenstate reproduce --only scan-exercise`, hiddenstate 0.1.0, 2026-12-07" in note
    assert "seed algorithm, 10000 SGD steps: final MSE 1.200e-04" in note
    assert "No full run of recurrent-ae is stored" in full_run_note("recurrent-ae", target)


def test_the_stored_full_runs_are_full_configs_of_known_experiments():
    """Every entry shipped with the package names its command and rows, and the notes of
    the quick runs that use it are built from it."""
    stored = json.loads(FULL_RUNS.read_text())
    assert stored and set(stored) <= set(EXPERIMENTS)
    for name, run in stored.items():
        assert run["command"].startswith("hiddenstate reproduce --only ") and name in run["command"]
        assert "--quick" not in run["command"] and "--set" not in run["command"]
        assert run["rows"] and all({"variant", "figure", "ours"} <= set(r) for r in run["rows"])
        assert run["rows"][0]["variant"] in full_run_note(name)


def test_the_quick_reports_read_the_stored_figures():
    """The quick notes of the experiments whose quick run trains less take the full run's
    figures from the stored file (no figure typed into a note)."""
    import inspect

    from hiddenstate.experiments import embedded_reber, recurrent_ae

    for module in (embedded_reber, recurrent_ae, scan_exercise):
        source = inspect.getsource(module.run)
        assert "quick_note(config, full_run_note(NAME))" in source, module.NAME
        assert "Against a full run" not in source, module.NAME
