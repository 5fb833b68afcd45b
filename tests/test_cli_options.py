"""Every estimator option of every fit command reaches the estimator exactly as typed:
``autoencoder``, ``rnn``, ``rae``, ``seqae`` and ``detect fit`` (each of its three
models, and the detector's own settings) here, ``classify fit`` in test_cli_classify.py.

The values are generated from each estimator's ``_parameter_constraints``; the
estimator's ``__init__`` is wrapped to record what the command passed and its
``fit`` stopped before any training, so the whole walk takes seconds.
"""

from __future__ import annotations

import functools
import os
from numbers import Integral, Real

import pytest
from sklearn.utils._param_validation import Interval, Options

from hiddenstate.cli import main
from hiddenstate.cli._options import _parameter_help
from hiddenstate.estimators import (
    AnomalyDetector,
    Autoencoder,
    RecursiveAutoencoder,
    SequenceAutoencoder,
    SequenceModel,
)

#: Left off the command line on purpose: a fresh process has no fit to warm-start.
SKIPPED = {"warm_start"}
#: Forms with no command-line spelling: a list of devices holds jax Device objects.
NO_SPELLING = {("devices", list), ("devices", tuple)}


@pytest.fixture(scope="module")
def fit_commands(tmp_path_factory):
    """``{estimator class: argv prefix of its fit command}`` (built-in or tiny data)."""
    d = tmp_path_factory.mktemp("cli_options")
    (d / "s.txt").write_text("a good film\na bad plot\n")
    (d / "l.txt").write_text("pos\nneg\n")
    (d / "seq.txt").write_text("BTXSE\nBPVVE\n")
    (d / "words.txt").write_text("a good film\nthe bad plot\n" * 20)
    (d / "series.csv").write_text("0.5,1\n1.5,2\n2.5,3\n\n" * 20)
    out = ["--out", str(d / "never-written.safetensors")]
    return {
        Autoencoder: ["autoencoder", "fit", "donut", *out],
        SequenceModel: ["rnn", "fit", str(d / "seq.txt"), *out],
        RecursiveAutoencoder: ["rae", "fit", str(d / "s.txt"), "--labels", str(d / "l.txt"),
                               *out],
        SequenceAutoencoder: ["seqae", "fit", str(d / "words.txt"), *out],
        # `detect fit --model M`: M's options, on data M reads
        "autoencoder": ["detect", "fit", "donut", "--model", "autoencoder", *out],
        "sequence-model": ["detect", "fit", "embedded-reber", "--n-strings", "40",
                           "--model", "sequence-model", *out],
        "sequence-ae": ["detect", "fit", str(d / "words.txt"), "--analyzer", "word",
                        "--model", "sequence-ae", *out],
        # --missing is for series: these commands read one for it
        (SequenceAutoencoder, "missing"): ["seqae", "fit", str(d / "series.csv"), *out],
        **{(m, "missing"): ["detect", "fit", str(d / "series.csv"), "--model", m, *out]
           for m in ("sequence-ae", "sequence-model")},
    }


#: `detect fit --model NAME` -> the class of its model
DETECT_MODELS = {"autoencoder": Autoencoder, "sequence-model": SequenceModel,
                 "sequence-ae": SequenceAutoencoder}
#: The detector's own settings that `detect fit` offers (its model and prefit are not).
DETECTOR_OPTIONS = ("contamination", "calibration_fraction", "aggregate")


class _Stop(BaseException):  # not an Exception: the CLI turns those into one line
    """Raised by the patched ``fit``: the command got as far as training."""


@pytest.fixture
def received(monkeypatch):
    """Patch every estimator: returns a dict filled with the kwargs and the estimator."""
    seen: dict = {}
    for cls in (Autoencoder, SequenceModel, RecursiveAutoencoder, SequenceAutoencoder):
        init = cls.__init__

        @functools.wraps(init)
        def recording_init(self, *args, _init=init, **kwargs):
            seen["args"], seen["kwargs"] = args, kwargs
            _init(self, *args, **kwargs)

        def stop(self, *args, **kwargs):
            seen["estimator"] = self
            raise _Stop

        monkeypatch.setattr(cls, "__init__", recording_init)
        monkeypatch.setattr(cls, "fit", stop)

    def stop_detector(self, *args, **kwargs):  # the model's own init was recorded
        seen["estimator"], seen["detector"] = self.model, self
        raise _Stop

    monkeypatch.setattr(AnomalyDetector, "fit", stop_detector)
    return seen


def _inside(interval: Interval):
    """A value of the interval's type inside it."""
    if interval.type is Integral:
        low = interval.left if interval.left is not None else 0
        value = low + 2
        return value if interval.right is None or value <= interval.right else low
    if interval.left is not None and interval.right is not None:
        return (interval.left + interval.right) / 2
    return (interval.left if interval.left is not None else 0.0) + 0.25


def _typed_values(name: str, constraint, tmp_dir):
    """``(typed text, expected value)`` pairs for one constraint of parameter ``name``."""
    if constraint is None:
        return [("none", None)] + ([("full", None)] if name == "batch_size" else [])
    if constraint == "random_state":
        return [("7", 7), ("none", None)]
    if constraint == "verbose":
        return [("2", 2), ("0", 0), ("true", True)]
    if isinstance(constraint, Interval):
        value = _inside(constraint)
        return [(repr(value), value)]
    if isinstance(constraint, Options):
        return [(o, o) for o in sorted(constraint.options)]
    if (name, constraint) in NO_SPELLING:
        return []
    if constraint == "boolean":  # beside other forms (markers: 'auto' or a boolean)
        return [("true", True), ("false", False)]
    if constraint in (list, tuple):
        return [("3,5", [3, 5])]
    if constraint in (str, os.PathLike):
        return [(str(tmp_dir / "ckpt"), str(tmp_dir / "ckpt"))]
    if constraint is Real:
        return [("-0.5", -0.5)]
    raise AssertionError(f"{name}: add test values for constraint {constraint!r}")


def _options(cls, names=None):
    """``(name, flag, constraints)`` of every option of ``cls`` the CLI offers (of
    ``names`` only, if given)."""
    for name in names or cls().get_params():
        if name not in SKIPPED:
            yield name, "--" + name.replace("_", "-"), cls._parameter_constraints[name]


def _cases(cls, tmp_dir, names=None):
    """``(argv tail, name, expected)`` for every option of ``cls`` (or of ``names``)."""
    cases = []
    for name, flag, constraints in _options(cls, names):
        if constraints == ["boolean"]:
            cases += [([flag], name, True), (["--no-" + flag[2:]], name, False)]
            continue
        for c in constraints:
            cases += [([flag, text], name, value) for text, value in _typed_values(name, c,
                                                                                   tmp_dir)]
    return cases


def _run(argv, seen) -> object:
    seen.clear()
    with pytest.raises(_Stop):
        main(argv)
    return seen["estimator"]


#: The estimators of the fit commands, and `detect fit`'s models by --model name
CLASSES = [Autoencoder, SequenceModel, RecursiveAutoencoder, SequenceAutoencoder]
COMMANDS = [*CLASSES, *DETECT_MODELS]


def _class(command):
    return DETECT_MODELS.get(command, command)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: getattr(c, "__name__", c))
def test_every_option_reaches_the_estimator_as_typed(command, fit_commands, received,
                                                      tmp_path):
    cls = _class(command)
    cases = _cases(cls, tmp_path)
    names = {name for _, name, _ in cases}
    assert names == set(cls().get_params()) - SKIPPED  # every parameter has an option
    for tail, name, expected in cases:
        est = _run([*fit_commands.get((command, name), fit_commands[command]), *tail],
                   received)
        what = f"{' '.join(tail)}"
        assert received["args"] == () and received["kwargs"] == {name: expected}, what
        got = est.get_params()[name]
        assert got == expected and type(got) is type(expected), what
        est._validate_params()  # what the command line accepts, the estimator accepts


def test_every_detector_option_reaches_the_detector_as_typed(fit_commands, received,
                                                             tmp_path):
    cases = _cases(AnomalyDetector, tmp_path, DETECTOR_OPTIONS)
    assert {name for _, name, _ in cases} == set(DETECTOR_OPTIONS)
    for tail, name, expected in cases:
        _run([*fit_commands["autoencoder"], *tail], received)
        got = received["detector"].get_params()[name]
        assert got == expected and type(got) is type(expected), tail
        assert received["kwargs"] == {}, tail  # the model's settings are its own
    _run([*fit_commands["sequence-model"], "--random-state", "5"], received)
    assert received["detector"].random_state == 5 and received["estimator"].random_state == 5


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: getattr(c, "__name__", c))
def test_options_not_typed_are_not_passed(command, fit_commands, received):
    cls = _class(command)
    est = _run(fit_commands[command], received)
    assert received["kwargs"] == {}
    assert est.get_params() == cls().get_params()


def test_several_options_at_once_and_none_is_not_dropped(fit_commands, received):
    est = _run([*fit_commands[Autoencoder], "--batch-size", "none", "--n-components", "64,32",
                "--clip-norm", "none", "--no-shuffle", "--noise", "masking"], received)
    assert received["kwargs"] == {"batch_size": None, "n_components": [64, 32],
                                  "clip_norm": None, "shuffle": False, "noise": "masking"}
    assert est.batch_size is None
    est = _run([*fit_commands[RecursiveAutoencoder], "--clip-norm", "none"], received)
    assert est.clip_norm is None  # its own default is 1.0
    est = _run([*fit_commands[SequenceModel], "--bucket-lengths", "16,32", "--batch-size",
                "full"], received)
    assert est.bucket_lengths == [16, 32] and est.batch_size is None


def _invalid_cases(cls):
    """``(argv tail, flag)``: a value each option must refuse."""
    for _name, flag, constraints in _options(cls):
        if constraints == ["boolean"]:
            yield [f"{flag}=maybe"], flag
            continue
        if not any(c in (str, os.PathLike) for c in constraints):
            yield [flag, "bogus"], flag
        for c in constraints:
            if isinstance(c, Interval) and c.left is not None:
                yield [flag, str(c.left - 1)], flag


# `detect fit` builds its models' options with the same add_estimator_options: the refusals
# below are walked once per estimator class, on its own fit command.
@pytest.mark.parametrize("command", CLASSES, ids=lambda c: c.__name__)
def test_invalid_values_are_one_line_naming_the_option(command, fit_commands, received,
                                                       capsys):
    for tail, flag in _invalid_cases(_class(command)):
        capsys.readouterr()
        assert main([*fit_commands[command], *tail]) == 2, tail
        err = capsys.readouterr().err
        assert err.startswith("hiddenstate: error: argument ") and flag in err, err
        assert len(err.strip().splitlines()) == 1, err
        assert "estimator" not in received  # nothing was fitted


def test_warm_start_is_not_an_option(fit_commands, capsys):
    assert main([*fit_commands[Autoencoder], "--warm-start"]) == 2
    assert "unrecognized arguments: --warm-start" in capsys.readouterr().err


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_option_says_what_it_is(cls):
    helps = _parameter_help(cls)
    assert set(helps) == set(cls().get_params()) - SKIPPED
    assert all(helps.values()), [name for name, text in helps.items() if not text]


def test_help_lists_the_choices_and_defaults(capsys):
    assert main(["autoencoder", "fit", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--batch-size auto|N|none|full" in out and "--no-tied" in out
    assert "Minibatch size" in out and "(default: auto)" in out
    assert "--warm-start" not in out


#: Numbers no option takes: NaN, infinities, absurd magnitudes (issue 25: `--forget-bias nan`
#: was accepted and reported as divergence, `--contamination=1e-300` printed a 300-digit count).
_ABSURD = ["nan", "-nan", "inf", "-Infinity", "1e16", "-1e16", "10000000000000000", "1e-31",
           "-1e-300"]


@pytest.mark.parametrize("command", CLASSES, ids=lambda c: c.__name__)
def test_every_numeric_option_refuses_nan_infinity_and_absurd_magnitudes(
        command, fit_commands, received, capsys):
    numeric = [flag for _name, flag, constraints in _options(_class(command))
               if any(isinstance(c, Interval) or c in (Real, Integral, "random_state")
                      for c in constraints)]
    assert "--learning-rate" in numeric and "--max-iter" in numeric
    for flag in numeric:
        for text in _ABSURD:
            capsys.readouterr()
            assert main([*fit_commands[command], f"{flag}={text}"]) == 2, (flag, text)
            err = capsys.readouterr().err
            assert err.startswith(f"hiddenstate: error: argument {flag}: ") and f"{text!r}" in err
            assert len(err.strip().splitlines()) == 1, err
            assert "estimator" not in received


@pytest.mark.parametrize("argv", [
    ["autoencoder", "fit", "donut", "--out", "m.safetensors", "--distributed-timeout"],
    ["autoencoder", "fit", "donut", "--out", "m.safetensors", "--num-processes"],
    ["autoencoder", "fit", "donut", "--out", "m.safetensors", "--process-id"],
    ["autoencoder", "fit", "donut", "--out", "m.safetensors", "--chunk-rows"],
    ["rnn", "sample", "m.safetensors", "--temperature"],
    ["rnn", "sample", "m.safetensors", "-n"],
    ["rnn", "forecast", "m.safetensors", "s.csv", "--steps"],
    ["detect", "score", "d.safetensors", "x.csv", "--contamination"],
    ["detect", "score", "d.safetensors", "x.csv", "--top"],
    ["datasets", "reber", "-n"],
])
def test_hand_written_numeric_options_refuse_them_too(argv, capsys):
    for text in _ABSURD:
        assert main([*argv[:-1], f"{argv[-1]}={text}"]) == 2, text
        err = capsys.readouterr().err
        assert err.startswith(f"hiddenstate: error: argument {argv[-1]}: "), err
        assert len(err.strip().splitlines()) == 1, err


def test_distributed_limits_are_one_line(capsys):
    """`--distributed-timeout 1e10` and `--num-processes 100000000000` were internal errors."""
    base = ["autoencoder", "fit", "donut", "--out", "m.safetensors"]
    assert main([*base, "--distributed-timeout", "1e10"]) == 2
    assert "at most 1e+06" in capsys.readouterr().err
    assert main([*base, "--num-processes", "100000000000"]) == 2
    assert "at most 65536" in capsys.readouterr().err
    from hiddenstate import distributed

    with pytest.raises(ValueError, match="at most"):
        distributed.initialize("127.0.0.1:1", 2, 0, timeout=1e10)
    with pytest.raises(ValueError, match=r"\[1, 65536\]"):
        distributed.initialize("127.0.0.1:1", 10**11, 0)


def test_the_option_table_agrees_with_the_estimators():
    from hiddenstate.cli import _gen_options

    made = _gen_options.source(_gen_options.table())
    assert made == _gen_options.TABLE_FILE.read_text(encoding="utf-8"), (
        "hiddenstate/cli/_option_table.py disagrees with the estimators' parameters: "
        "regenerate it with `python -m hiddenstate.cli._gen_options`")


def test_the_table_intervals_read_as_sklearns():
    """Membership and wording of the plain intervals are scikit-learn's."""
    from hiddenstate import estimators
    from hiddenstate.cli._gen_options import TABLED
    from hiddenstate.cli._options import _Interval

    seen = 0
    for name in TABLED:
        for constraints in getattr(estimators, name)._parameter_constraints.values():
            for c in constraints:
                if not isinstance(c, Interval):
                    continue
                plain, seen = _Interval.of(c), seen + 1
                assert str(plain) == str(c)
                probes = [b + d for b in (c.left, c.right, 0, 1) if b is not None
                          for d in (-1, -0.5, 0, 0.5, 1)]
                for value in probes + [int(p) for p in probes]:
                    assert (value in plain) == (value in c), (c, value)
    assert seen > 20
    assert str(_Interval("float", 0, 1, "left")) == "a float in the range [0.0, 1.0)"
