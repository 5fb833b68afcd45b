"""The shared training settings (estimators/_params.py): one table of constraints, stored
by one function, the defaults and signatures each estimator had; the ``cell`` choice read
from the live registry, so a cell registered at run time works with every estimator and
on the command line, and one removed is refused with scikit-learn's message."""

from __future__ import annotations

import inspect

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import (
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import hiddenstate as hs
from hiddenstate.cli import main
from hiddenstate.datasets import make_reber
from hiddenstate.estimators._base import TrainingMixin
from hiddenstate.estimators._params import TRAINING_CONSTRAINTS, RegistryOptions
from hiddenstate.nn import CELLS, RecurrentCell, cell_init, host_rng, register_cell

from .crash_worker import make_sentences, make_sequences

#: Defaults of the shared settings that every estimator had before they were stored in
#: one place.
COMMON = {"optimizer": "adam", "learning_rate_schedule": "cosine", "momentum": 0.9,
          "shuffle": True, "early_stopping": False, "validation_fraction": 0.1, "tol": 1e-4,
          "random_state": None, "verbose": False, "warm_start": False,
          "checkpoint_dir": None, "checkpoint_every": 10, "resume": False, "devices": None}
#: Each estimator's own defaults of the other five.
OWN = ("learning_rate", "clip_norm", "batch_size", "max_iter", "n_iter_no_change")
DEFAULTS = {
    hs.Autoencoder: (0.02, None, "auto", 200, 10),
    hs.SequenceModel: (0.01, None, 1, 8, 10),
    hs.SequenceAutoencoder: (0.01, 1.0, "auto", 100, 10),
    # max_iter="auto": 20 epochs for tokens, a budget for real-valued input
    hs.SequenceClassifier: (3e-3, 1.0, "auto", "auto", 5),
    hs.SequenceRegressor: (3e-3, 1.0, "auto", "auto", 5),
    hs.RecursiveAutoencoder: (3e-3, 1.0, 32, 5, 10),
}
ESTIMATORS = list(DEFAULTS)
WITH_CELL = [cls for cls in ESTIMATORS if "cell" in cls().get_params()]
BUILT_IN = "{'elman', 'lstm', 'gru'}"


def test_the_table_names_every_training_estimator():
    public = [getattr(hs.estimators, name) for name in hs.estimators.__all__]
    assert {c for c in public if isinstance(c, type) and issubclass(c, TrainingMixin)
            and c is not TrainingMixin} == set(ESTIMATORS)
    assert WITH_CELL == [hs.SequenceModel, hs.SequenceAutoencoder, hs.SequenceClassifier,
                         hs.SequenceRegressor]
    assert len(TRAINING_CONSTRAINTS) == 19 and set(COMMON) | set(OWN) == set(TRAINING_CONSTRAINTS)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_shared_settings_keep_their_defaults_constraints_and_keywords(cls):
    expected = {**COMMON, **dict(zip(OWN, DEFAULTS[cls], strict=True))}
    params = cls().get_params()
    assert {k: params[k] for k in TRAINING_CONSTRAINTS} == expected
    signature = inspect.signature(cls.__init__).parameters
    for name, constraints in TRAINING_CONSTRAINTS.items():
        own = cls._parameter_constraints[name]
        if expected[name] == "auto" and name == "max_iter":  # the table's, and "auto"
            assert own[:-1] == constraints and own[-1].is_satisfied_by("auto")
        else:
            assert own is constraints  # the one table, not a copy
        assert signature[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert signature[name].default == expected[name]
    assert set(cls._parameter_constraints) == set(params)


def _changed(cls) -> dict:
    """Every parameter of ``cls`` set to a value other than its default (and valid)."""
    params = cls().get_params()
    out = {"learning_rate": 0.5, "clip_norm": 2.0, "batch_size": 7, "max_iter": 3,
           "n_iter_no_change": 4, "optimizer": "sgd", "learning_rate_schedule": "constant",
           "momentum": 0.5, "shuffle": False, "early_stopping": True,
           "validation_fraction": 0.25, "tol": 0.5, "random_state": 7, "verbose": 2,
           "warm_start": True, "checkpoint_dir": "ckpt", "checkpoint_every": 3,
           "resume": True, "devices": 1}
    if "cell" in params:
        out["cell"] = "gru"
    if "n_components" in params:
        out["n_components"] = 5
    return {**params, **out}


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_get_params_clone_and_set_params_round_trip(cls):
    changed = _changed(cls)
    est = cls(**changed)
    assert est.get_params() == changed and set(vars(est)) == set(changed)
    assert clone(est).get_params() == changed and clone(est) is not est
    assert cls().set_params(**changed).get_params() == changed
    positional = "gru" if "cell" in changed and cls is not hs.SequenceAutoencoder else 5
    name = "cell" if positional == "gru" else "n_components"
    assert cls(positional).get_params()[name] == positional
    for check in (check_no_attributes_set_in_init, check_get_params_invariance,
                  check_set_params, check_parameters_default_constructible):
        check(cls.__name__, cls())


# -- a cell registered at run time -------------------------------------------------------


class _ScaledCell(RecurrentCell):
    r""":math:`h_t = g \tanh(x_t W + h_{t-1} U + b)`, the gain ``g`` a cell option."""

    options = ("gain",)
    W: jax.Array
    U: jax.Array
    b: jax.Array
    h0: jax.Array
    gain: float = eqx.field(static=True)

    def __init__(self, n_in, hidden, *, key, init="glorot_uniform", gain=0.9):
        w_init, u_init = cell_init(init)
        rw, ru = host_rng(key).spawn(2)
        self.W = jnp.asarray(w_init(rw, (n_in, hidden)))
        self.U = jnp.asarray(u_init(ru, (hidden, hidden)))
        self.b = jnp.zeros((hidden,), jnp.float32)
        self.h0 = jnp.zeros((hidden,), jnp.float32)
        self.gain = float(gain)

    def initial_state(self):
        return self.h0

    def __call__(self, h, x):
        h = self.gain * jnp.tanh(x @ self.W + h @ self.U + self.b)
        return h, h


@pytest.fixture
def scaled():
    """The cell ``'scaled'``, registered for one test."""
    register_cell("scaled")(_ScaledCell)
    try:
        yield "scaled"
    finally:
        CELLS.pop("scaled", None)


def _fit(cls, cell: str):
    """A one-epoch fit of ``cls`` with ``cell`` on a few tiny sequences, and its inputs."""
    kw = dict(max_iter=1, batch_size=8, random_state=0)
    if cls is hs.SequenceModel:
        xs = make_reber(16, np.random.default_rng(0), min_length=0)
        return hs.SequenceModel(cell, hidden_size=4, **kw).fit(xs), xs
    if cls is hs.SequenceAutoencoder:
        xs = make_sequences(16, seed=0, width=2, lengths=(3, 6))
        return hs.SequenceAutoencoder(3, cell=cell, **kw).fit(xs), xs
    xs, y = make_sentences(16, seed=0)
    y = y if cls is hs.SequenceClassifier else y.astype(np.float32)
    return cls(cell, hidden_size=4, embedding_dim=3, **kw).fit(xs, y), xs


def _outputs(est, xs) -> list[np.ndarray]:
    if isinstance(est, hs.SequenceModel):
        return list(est.predict_proba(xs))
    if isinstance(est, hs.SequenceAutoencoder):
        return [est.transform(xs)]
    return [est.transform(xs), est.predict(xs)]


def _cells(model) -> list:
    return [x for x in jax.tree.leaves(model, is_leaf=lambda x: isinstance(x, RecurrentCell))
            if isinstance(x, RecurrentCell)]


@pytest.mark.parametrize("cls", WITH_CELL, ids=lambda c: c.__name__)
def test_a_cell_registered_at_run_time_trains_saves_and_loads(cls, scaled, tmp_path):
    est, xs = _fit(cls, scaled)
    cells = _cells(est.model_)
    assert cells and all(type(c) is _ScaledCell for c in cells)
    assert len(est.loss_curve_) == 1 and np.isfinite(est.loss_curve_[0])
    est.save(tmp_path / "m.hs")
    loaded = hs.load(tmp_path / "m.hs")
    assert loaded.get_params() == est.get_params() and loaded.cell == "scaled"
    for a, b in zip(_outputs(est, xs), _outputs(loaded, xs), strict=True):
        np.testing.assert_array_equal(a, b)


def _message(cls, names: str, value: str) -> str:
    return (f"The 'cell' parameter of {cls.__name__} must be a str among {names}. "
            f"Got {value!r} instead.")


@pytest.mark.parametrize("cls", WITH_CELL, ids=lambda c: c.__name__)
def test_an_unknown_or_removed_cell_is_refused_with_sklearns_message(cls, scaled):
    est = cls(cell="scaled")
    est._validate_params()
    with pytest.raises(InvalidParameterError) as err:
        cls(cell="nope")._validate_params()
    assert str(err.value) == _message(cls, "{'elman', 'lstm', 'gru', 'scaled'}", "nope")
    CELLS.pop("scaled")
    with pytest.raises(InvalidParameterError) as err:
        est.fit(["a b"], [0])  # refused before the data is read
    assert str(err.value) == _message(cls, BUILT_IN, "scaled")


def test_registry_options_read_the_registry_and_word_errors_as_str_options():
    registry = {"a": 1}
    live = RegistryOptions(registry)
    assert live.is_satisfied_by("a") and not live.is_satisfied_by("b")
    assert not live.is_satisfied_by(1) and live.options == ("a",)
    assert str(live) == str(StrOptions({"a"})) == "a str among {'a'}"
    registry["b"] = 2
    assert live.is_satisfied_by("b") and str(live) == "a str among {'a', 'b'}"
    messages = []
    for constraint in (StrOptions({"a"}), RegistryOptions({"a": 1})):
        with pytest.raises(InvalidParameterError) as err:
            validate_parameter_constraints({"p": [constraint]}, {"p": "z"}, caller_name="F")
        messages.append(str(err.value))
    assert messages[0] == messages[1] == "The 'p' parameter of F must be a str among {'a'}. " \
                                         "Got 'z' instead."


class _Stop(BaseException):  # not an Exception: the CLI turns those into one line
    pass


def test_the_command_line_offers_the_cells_registered_when_it_runs(scaled, tmp_path,
                                                                   monkeypatch, capsys):
    seen = {}

    def stop(self, *args, **kwargs):
        seen["estimator"] = self
        raise _Stop

    monkeypatch.setattr(hs.SequenceModel, "fit", stop)
    (tmp_path / "seq.txt").write_text("BTXSE\nBPVVE\n")
    fit = ["rnn", "fit", str(tmp_path / "seq.txt"), "--out", str(tmp_path / "m.hs")]
    assert main([*fit[:2], "--help"]) == 0
    assert "--cell elman|gru|lstm|scaled" in capsys.readouterr().out
    with pytest.raises(_Stop):
        main([*fit, "--cell", "scaled"])
    assert seen["estimator"].cell == "scaled"
    CELLS.pop("scaled")
    assert main([*fit, "--cell", "scaled"]) == 2
    assert "expected 'elman', 'gru' or 'lstm', got 'scaled'" in capsys.readouterr().err


@pytest.mark.parametrize("cls", [hs.SequenceModel, hs.SequenceClassifier,
                                 hs.SequenceRegressor], ids=lambda c: c.__name__)
def test_a_cell_option_the_chosen_cell_lacks_is_refused(cls):
    X = ["ab ab", "ba ba"] if cls is not hs.SequenceModel else ["abab", "baba"]
    y = [0, 1] if cls is hs.SequenceClassifier else [0.0, 1.0]
    args = () if cls is hs.SequenceModel else (y,)
    with pytest.raises(ValueError, match=r"^forget_bias=5\.0 is an option of the 'lstm' "
                                         r"cell; cell='gru' has no options \(leave "
                                         r"forget_bias at its default, 2\.0\)$"):
        cls(cell="gru", forget_bias=5.0, max_iter=1).fit(X, *args)
    with pytest.raises(ValueError, match=r"^activation='relu' is an option of the 'elman' "
                                         r"cell; cell='lstm' has only forget_bias"):
        cls(cell="lstm", activation="relu", max_iter=1).fit(X, *args)
    # Nothing was trained: the refusal comes before any data is read or network built.
    est = cls(cell="gru", forget_bias=5.0)
    with pytest.raises(ValueError):
        est.fit(X, *args)
    assert not hasattr(est, "model_")


def test_a_cell_option_applies_to_a_cell_registered_at_run_time(scaled):
    """The registry decides which cell has which option, not a list in the estimators."""
    est = hs.SequenceModel(cell="scaled", forget_bias=5.0, activation="relu")
    with pytest.raises(ValueError, match="cell=.scaled. has only gain"):
        est._check_settings()


def test_the_memory_estimate_reads_each_cells_gates_from_the_registry(scaled):
    from hiddenstate._limits import recurrent_parameters

    # The built-in cells: (n_in + hidden + 1) x hidden per gate, plus 2 hidden vectors.
    for cell, gates in (("elman", 1), ("gru", 3), ("lstm", 4)):
        assert recurrent_parameters(cell, 3, 5) == gates * 5 * (3 + 5 + 1) + 2 * 5
    assert recurrent_parameters("scaled", 3, 5) is None  # says no gates: not estimated
    _ScaledCell.gates = 1
    try:
        assert recurrent_parameters("scaled", 3, 5) == 1 * 5 * 9 + 10
    finally:
        del _ScaledCell.gates
    assert recurrent_parameters("not-a-cell", 3, 5) is None
