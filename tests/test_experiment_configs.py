"""The experiments' configs: ``Config.quick()``, ``NAME.FIELD=VALUE`` overrides, the
resolved config in results.json, and the cheap list of names. Nothing here trains."""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
import typing

import pytest

from hiddenstate.experiments import (
    EXPERIMENT_NAMES,
    EXPERIMENTS,
    reproduce,
    resolved_configs,
)
from hiddenstate.experiments._overrides import parse_value
from hiddenstate.report import ExperimentResult

#: What ``--quick`` changes, field by field (the numbers ``reproduce --quick`` has always run).
QUICK = {
    "donut": {},
    "digits": {},
    "mnist": {"epochs": 5},
    "reber": {},
    "embedded-reber": {"seed_epochs": 10, "n_train_ours": 2000, "ours_epochs": 3,
                       "stream_budget": 5000, "check_targets": False},
    "scan-exercise": {"seed_steps": 2000, "check_targets": False},
    "recurrent-ae": {"length_steps": 2000},
    "sentiment": {"folds": 0},
    "sentence-models": {"folds": 0, "rae_epochs": 2, "learning_rate": (0.01,), "epochs": 3,
                        "lm_epochs": 1, "sa_epochs": 1, "check_targets": False},
    "anomaly": {"mnist": False, "reber_train": 1000, "reber_calibration": 200, "reber_test": 300,
                "sa_train": 0, "check_targets": False},
    "forecast": {},
    "time-series": {"problems": ("ItalyPowerDemand",), "classifier_max_iter": 3,
                    "rocket": False, "forecasting": False, "check_targets": False},
}


def test_names_match_the_registry_and_are_cheap_to_import():
    assert tuple(EXPERIMENTS) == EXPERIMENT_NAMES == tuple(QUICK)
    code = (
        "import sys, hiddenstate; before = set(sys.modules); "
        "from hiddenstate.experiments import EXPERIMENT_NAMES; "
        "heavy = {'numpy', 'jax', 'sklearn', 'scipy', 'equinox', 'matplotlib'}; "
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", EXPERIMENT_NAMES)
def test_quick_config_differs_from_full_only_where_intended(name):
    cls = EXPERIMENTS[name].config
    quick, full = cls.quick(), cls()
    assert type(quick) is cls and dataclasses.is_dataclass(quick)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quick.random_state = 1
    q, f = dataclasses.asdict(quick), dataclasses.asdict(full)
    assert {k: v for k, v in q.items() if f[k] != v} == QUICK[name]
    assert resolved_configs([name], quick=True)[name] == q
    assert resolved_configs([name])[name] == f


@pytest.mark.parametrize("name", EXPERIMENT_NAMES)
def test_run_takes_only_the_config(name):
    exp = EXPERIMENTS[name]
    params = inspect.signature(exp.run).parameters
    assert list(params) == ["config", "out_dir"] + (
        ["data_dir"] if exp.needs_data or exp.uses_data else [])
    if exp.uses_data:  # runs without data too
        assert params["data_dir"].default is None and exp.available(None)


def _text(value) -> str:
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("name", EXPERIMENT_NAMES)
def test_every_field_can_be_set_from_text(name):
    cls = EXPERIMENTS[name].config
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        value = getattr(cls(), field.name)
        assert parse_value(_text(value), hints[field.name]) == value, field.name


def test_overrides_good_values():
    got = resolved_configs(
        ["embedded-reber", "recurrent-ae", "scan-exercise", "sentiment"], False,
        ["embedded-reber.n_train_seed=2000", "recurrent-ae.lengths=8,12, 16",
         "recurrent-ae.ours_learning_rate=3e-3", "scan-exercise.check_targets=false",
         "sentiment.example=a b = c", "embedded-reber.seed_epochs=7",
         "embedded-reber.seed_epochs=9"],
    )
    assert got["embedded-reber"]["n_train_seed"] == 2000
    assert got["embedded-reber"]["seed_epochs"] == 9  # a later override wins
    assert got["recurrent-ae"]["lengths"] == (8, 12, 16)
    assert got["recurrent-ae"]["ours_learning_rate"] == 3e-3
    assert got["scan-exercise"]["check_targets"] is False
    assert got["sentiment"]["example"] == "a b = c"
    # Overrides go on top of the quick config too, and the rest stays quick.
    quick = resolved_configs(["recurrent-ae"], True, ["recurrent-ae.lengths=8"])["recurrent-ae"]
    assert quick["lengths"] == (8,) and quick["length_steps"] == 2000
    assert list(resolved_configs()) == list(EXPERIMENT_NAMES)


@pytest.mark.parametrize("override, message", [
    ("nosuch.epochs=3", r"unknown experiment 'nosuch'; valid: donut, digits"),
    ("embedded-reber.n_train=2000",
     r"'embedded-reber' has no field 'n_train'; valid fields: n_train_seed, seed_epochs"),
    ("embedded-reber.seed_epochs=ten", r"embedded-reber.seed_epochs='ten': expected an integer"),
    ("embedded-reber.seed_epochs=2.5", r"expected an integer"),
    ("embedded-reber.check_targets=maybe", r"expected true or false"),
    ("digits.seed_learning_rate=fast", r"expected a number"),
    ("recurrent-ae.lengths=8,x",
     r"recurrent-ae.lengths='8,x': expected integers separated by commas \(e.g. 8,12,16\)"),
    ("recurrent-ae.lengths=8,,12", r"expected integers separated by commas"),
    ("recurrent-ae.lengths=", r"expected integers separated by commas"),
    ("donut.seed_epochs", r"is not NAME.FIELD=VALUE"),
    ("donut=3", r"is not NAME.FIELD=VALUE"),
])
def test_overrides_rejected_with_a_clear_message(override, message):
    with pytest.raises(ValueError, match=message):
        resolved_configs(None, False, [override])


def test_override_of_an_experiment_not_selected_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"'digits' is not among those selected \(donut\)"):
        resolved_configs(["donut"], False, ["digits.epochs=3"])
    with pytest.raises(ValueError, match="not among those selected"):
        reproduce(["donut"], tmp_path, overrides=["digits.epochs=3"])
    with pytest.raises(ValueError, match="unknown experiment"):
        resolved_configs(["nosuch"])


def _fake(calls):
    def run(config, out_dir):
        calls.append(config)
        return ExperimentResult("donut", [], {}, dataclasses.asdict(config), 0.0)

    return run


def test_reproduce_runs_the_overridden_config_and_stores_it(tmp_path, monkeypatch):
    from hiddenstate import report

    calls = []
    monkeypatch.setitem(EXPERIMENTS, "donut",
                        dataclasses.replace(EXPERIMENTS["donut"], run=_fake(calls)))
    results = reproduce(["donut"], tmp_path, quick=True,
                        overrides=["donut.seed_epochs=7", "donut.seed_momentum=0.5"])
    assert calls == [dataclasses.replace(EXPERIMENTS["donut"].config.quick(), seed_epochs=7,
                                         seed_momentum=0.5)]
    report.write_report(results, tmp_path, command="test", environment={})
    stored = json.loads((tmp_path / "results.json").read_text())["experiments"][0]["settings"]
    assert stored["seed_epochs"] == 7 and stored["seed_momentum"] == 0.5
    # Every override is checked before anything runs.
    with pytest.raises(ValueError, match="has no field 'nope'"):
        reproduce(["donut", "digits"], tmp_path, overrides=["digits.nope=1"])
    assert len(calls) == 1
