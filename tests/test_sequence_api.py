"""SequenceModel on a user's own symbol strings and series: begin and end markers added by
the model, the stateful step API, forecasting, and the checks on sampling settings."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import hiddenstate as hs
from hiddenstate import InputError, ModelFileError, SequenceModel
from hiddenstate.datasets import REBER_ALPHABET, make_reber


def balanced(n: int, rng: np.random.Generator, max_depth: int = 4) -> list[str]:
    """``n`` non-empty balanced bracket strings (a Dyck language bounded in depth)."""

    def one(depth: int) -> str:
        s = ""
        while depth < max_depth and rng.random() < 0.55:
            s += "(" + one(depth + 1) + ")"
        return s

    out: list[str] = []
    while len(out) < n:
        s = one(0)
        if 0 < len(s) <= 24:
            out.append(s)
    return out


def is_balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += 1 if c == "(" else -1
        if depth < 0:
            return False
    return depth == 0 and len(s) > 0


@pytest.fixture(scope="module")
def brackets():
    data = balanced(1500, np.random.default_rng(0))
    return data, SequenceModel(random_state=0, max_iter=6).fit(data)


def test_markers_learn_a_language_without_hand_made_begin_and_end(brackets):
    data, m = brackets
    assert m.markers_ and m.alphabet_ == "()" and m.n_features_in_ == m.n_outputs_ == 3
    samples = m.sample(1000, random_state=0)
    assert np.mean([is_balanced(s) for s in samples]) >= 0.99
    assert len(set(samples)) > 20  # not one memorised string
    # A prefix is continued; max_length counts it.
    cont = m.sample(50, start="((", max_length=12, random_state=1)
    assert all(s.startswith("((") and len(s) <= 12 for s in cont)
    # A stop symbol ends a string early (kept), as with the seed's E.
    assert all(s.count(")") <= 1 for s in m.sample(30, stop=")", random_state=2))


def test_markers_outputs_cover_first_symbol_and_end(brackets):
    _, m = brackets
    probs = m.predict_proba(["(())"])[0]
    assert probs.shape == (5, 3)  # the first symbol's prediction .. the end's
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    assert probs[0, 0] > 0.99  # a string starts with "("
    assert probs[-1, 2] > 0.5  # and "(())" ends there
    assert m.predict(["(())"])[0][-1] == "</s>"
    steps = m.score_samples(["(())"], per_step=True)[0]
    np.testing.assert_allclose(steps, np.log(probs[np.arange(5), [0, 0, 1, 1, 2]]),
                               rtol=1e-4, atol=1e-5)
    ok, bad = m.score_samples(["(())", "(()"])
    assert ok > bad + 3  # an unclosed string is far less likely


def test_step_api_carries_state_like_one_pass(brackets):
    _, m = brackets
    strings = ["(()(", "()()"]
    whole = m.predict_proba(strings)
    state = m.initial_state(2)
    for t in range(4):
        state, out = m.step(state, "".join(s[t] for s in strings))
        for i in range(2):
            np.testing.assert_allclose(out[i], whole[i][t + 1], rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="symbol 'x' \\(stream 1\\)"):
        m.step(state, "(x")
    with pytest.raises(InputError, match="2 streams, got 3"):
        m.step(state, "(((")


@pytest.fixture(scope="module")
def reber():
    """``(strings, model)``: Reber strings (their own B and E) and a one-epoch model of them
    without markers, shared by the tests of markers-free models (one fit, one compile)."""
    strings = make_reber(40, np.random.default_rng(1))
    return strings, SequenceModel(max_iter=1, random_state=0).fit(strings,
                                                                 alphabet=REBER_ALPHABET)


def test_markers_round_trip_and_old_files(brackets, reber, tmp_path):
    _, m = brackets
    m.save(tmp_path / "m.hsm")
    back = hs.load(tmp_path / "m.hsm")
    assert back.markers_ and back.sample(5, random_state=3) == m.sample(5, random_state=3)
    # A file written before the markers (no such key) loads as a model without them.
    r = reber[1]
    assert not r.markers_
    config, tensors = r._to_file()
    del config["markers"], config["params"]["markers"]
    from hiddenstate import _serialize

    _serialize.save(tmp_path / "old.hsm", "SequenceModel", config, tensors)
    old = hs.load(tmp_path / "old.hsm")
    assert not old.markers_ and old.sample(1, random_state=0)[0].startswith("B")
    # A markers flag that does not match the tensors is refused.
    config, tensors = m._to_file()
    for value, match in [(False, "alphabet does not match the input size"),
                         ("yes", "markers must be true or false")]:
        _serialize.save(tmp_path / "bad.hsm", "SequenceModel", {**config, "markers": value},
                        tensors)
        with pytest.raises(ModelFileError, match=match):
            hs.load(tmp_path / "bad.hsm")


def test_seed_strings_keep_the_seed_recipe(reber):
    reber, m = reber
    assert not m.markers_ and m.n_features_in_ == len(REBER_ALPHABET)
    assert m.predict_proba(reber[:1])[0].shape == (len(reber[0]) - 1, len(REBER_ALPHABET))
    forced = SequenceModel(max_iter=1, random_state=0, markers=True).fit(reber)
    assert forced.markers_ and forced.sample(3, random_state=0)[0][0] in REBER_ALPHABET


def test_marker_settings_that_cannot_apply_are_refused():
    strings = ["ab", "ba"]
    with pytest.raises(ValueError, match="markers=True needs next-symbol targets"):
        SequenceModel(max_iter=1, markers=True, output="sigmoid").fit(
            strings, [np.ones((1, 2))] * 2)
    with pytest.raises(ValueError, match="markers=False applies to symbol strings"):
        SequenceModel(max_iter=1, markers=False, output="linear").fit(
            [np.ones((3, 1))], [np.ones((3, 1))])
    with pytest.raises(ValueError, match="markers=True applies to symbol strings.*own end"):
        SequenceModel(max_iter=1, markers=True).fit([["a", "b"], ["b"]])
    with pytest.raises(ValueError, match="repeats the symbol 'a' \\(position 3\\)"):
        SequenceModel(max_iter=1).fit(strings, alphabet="aba")


def test_sample_settings_are_checked(brackets, reber):
    _, m = brackets
    for kwargs, match in [({"n": -1}, "n must be a positive integer"),
                          ({"n": 0}, "n must be a positive integer"),
                          ({"max_length": 0}, "max_length must be a positive integer"),
                          ({"n_stops": 0}, "n_stops must be a positive integer"),
                          ({"temperature": float("nan")}, "temperature must be a finite"),
                          ({"n": 10**8}, "draw in several calls"),
                          ({"start": "((((", "max_length": 3}, "more than max_length=3"),
                          ({"start": "(x"}, "start symbol 'x' \\(position 2\\)"),
                          ({"stop": "x"}, "stop symbol 'x'")]:
        with pytest.raises((ValueError, InputError), match=match):
            m.sample(**kwargs)
    with pytest.raises(InputError, match="at least one: this model has no begin marker"):
        reber[1].sample(1, start="")


def test_padding_that_cannot_fit_in_memory_is_refused():
    with pytest.raises(InputError, match="needs .* more than half the memory"):
        SequenceModel(max_iter=1, bucket_lengths=[10**9]).fit(["ab", "ba"])


# -- real-valued series ---------------------------------------------------------------------------
def sines(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)
    return (np.sin(2 * np.pi * t / 20) + 0.5 * np.sin(2 * np.pi * t / 7)
            + 0.0 * rng.standard_normal(n)).astype(np.float32)[:, None]


@pytest.fixture(scope="module")
def forecaster():
    series = sines(800, np.random.default_rng(0))
    windows = [series[i : i + 31] for i in range(0, 600, 4)]
    m = SequenceModel("elman", output="linear", hidden_size=16, batch_size=16, max_iter=30,
                      learning_rate_schedule="constant", random_state=0)
    with warnings.catch_warnings():  # 30 epochs suffice for the checks below
        warnings.simplefilter("ignore")
        m.fit([w[:-1] for w in windows], [w[1:] for w in windows])
    return series, m


def test_forecast_feeds_predictions_back(forecaster):
    series, m = forecaster
    a, b = series[600:630], series[700:712]
    one = m.forecast(a, 4)
    assert one.shape == (4, 1)
    # Row 0 is the one-step prediction after the last input.
    np.testing.assert_allclose(one[0], m.predict_proba([a])[0][-1], rtol=1e-5, atol=1e-6)
    # Row k is what the model predicts with rows 0..k-1 appended as inputs.
    fed = np.concatenate([a, one[:2]])
    np.testing.assert_allclose(one[2], m.predict_proba([fed])[0][-1], rtol=1e-4, atol=1e-5)
    both = m.forecast([a, b], 4)  # different lengths in one call
    np.testing.assert_allclose(both[0], one, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(both[1], m.forecast(b, 4), rtol=1e-5, atol=1e-6)
    # It learned the series: the one-step error is far below the series' spread.
    err = [m.forecast(series[i : i + 30], 1)[0, 0] - series[i + 30, 0] for i in range(600, 760, 8)]
    assert np.sqrt(np.mean(np.square(err))) < 0.25 * series.std()


def test_forecast_errors(forecaster, brackets):
    series, m = forecaster
    with pytest.raises(ValueError, match="steps must be a positive integer, got 0"):
        m.forecast(series[:10], 0)
    with pytest.raises(InputError, match="for symbol strings use sample"):
        brackets[1].forecast(["(("], 2)
    with pytest.raises(InputError,
                       match="sequence 0: has 2 features per step, the model's width is 1"):
        m.forecast(np.ones((5, 2), np.float32), 1)
    real_state = m.initial_state(1)
    _, out = m.step(real_state, series[0])
    np.testing.assert_allclose(out[0], m.predict_proba([series[:1]])[0][0], rtol=1e-5)


def test_json_of_a_markers_model_is_plain(brackets, tmp_path):
    _, m = brackets
    config, _ = m._to_file()
    assert json.loads(json.dumps(config)) == config


def test_recurrent_sizes_beyond_the_machine_are_refused_before_anything_is_built():
    """Finding: huge --hidden-size: each recurrent estimator estimates its parameters
    from the settings and refuses, naming the estimate, before drawing a weight."""
    for est, X in [(SequenceModel(hidden_size=200_000, max_iter=1), ["ab", "ba"]),
                   (hs.SequenceAutoencoder(200_000, max_iter=1), [np.ones((3, 2))] * 2),
                   (hs.SequenceClassifier(hidden_size=200_000, max_iter=1), ["a b", "b a"])]:
        with pytest.raises(InputError, match=rf"this {type(est).__name__} has [\d,]+ "
                                             r"parameters: training it needs about .*TB"):
            est.fit(X) if not isinstance(est, hs.SequenceClassifier) else est.fit(X, [0, 1])
        assert not hasattr(est, "model_")


def test_the_estimate_counts_the_parameters_built(brackets):
    import equinox as eqx
    import jax

    _, m = brackets
    built = sum(x.size for x in jax.tree.leaves(eqx.filter(m.model_, eqx.is_inexact_array)))
    assert m._parameter_estimate() == built  # an LSTM: its h0 and c0 are counted too
