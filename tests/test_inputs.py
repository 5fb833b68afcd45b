"""The one sequence-input layer (estimators/_inputs.py): every sequence estimator fed every
kind of input, each accepted or refused, a refusal of the same input worded the same by
every estimator that refuses it; and the reader's own lengths, vocabulary and error
locations. Reading happens before training, so most of this compiles nothing."""

from __future__ import annotations

import numpy as np
import pytest

import hiddenstate as hs
from hiddenstate import (
    InputError,
    SequenceAutoencoder,
    SequenceClassifier,
    SequenceModel,
    SequenceRegressor,
)
from hiddenstate.estimators._inputs import (
    check_table,
    input_kind,
    read_arrays,
    read_sequences,
    read_symbols,
)
from hiddenstate.estimators._tokens import Vocabulary

SMALL = {"max_iter": 1, "random_state": 0}
ESTIMATORS = {
    "SequenceModel": lambda **kw: SequenceModel(hidden_size=2, embedding_dim=2, **SMALL, **kw),
    "SequenceAutoencoder": lambda **kw: SequenceAutoencoder(2, embedding_dim=2, **SMALL, **kw),
    "SequenceClassifier": lambda **kw: SequenceClassifier(hidden_size=2, embedding_dim=2,
                                                          **SMALL, **kw),
    "SequenceRegressor": lambda **kw: SequenceRegressor(hidden_size=2, embedding_dim=2,
                                                        **SMALL, **kw),
}


def _targets(name: str, X) -> object:
    """What each estimator's fit takes besides ``X``: per-step targets for SequenceModel's
    real-valued sequences, one label or value per sequence for the predictors."""
    n = len(X)
    if name == "SequenceModel":
        try:
            real = input_kind(X, strings="symbols") in ("sequences", "table")
        except InputError:  # refused anyway
            return None
        return [np.ones((len(x), 1)) for x in X] if real else None
    if name == "SequenceClassifier":
        return np.arange(n) % 2
    if name == "SequenceRegressor":
        return np.linspace(0.0, 1.0, n)
    return None


def _read(name: str, X, **settings):
    """The training data the estimator's fit would train on (its inputs read, nothing
    compiled), or the InputError/ValueError it refuses ``X`` with."""
    est = ESTIMATORS[name](**settings)
    return est, est._prepare(X, _targets(name, X), reset=True)


def _refusals(X, names=tuple(ESTIMATORS), **settings) -> dict[str, str]:
    out = {}
    for name in names:
        with pytest.raises((InputError, ValueError)) as info:
            ESTIMATORS[name](**settings).fit(X, _targets(name, X))
        out[name] = str(info.value)
    return out


def _masked(values, masked_at=None):
    a = np.ma.masked_array(np.asarray(values, np.float64), mask=False)
    if masked_at is not None:
        a[masked_at] = np.ma.masked
    return a


# -- every estimator, every kind -----------------------------------------------------------

REAL = [np.arange(6.0).reshape(3, 2), np.ones((5, 2))]
ACCEPTED = {  # input -> the kind each estimator reads it as (None: refused)
    "symbol strings": (["TXS", "PVVX"], {"SequenceModel": "symbols"}, "tokens"),
    "token lists": ([["a", "b"], ["c", "a", "b"]], {}, "tokens"),
    "(T, d) arrays": (REAL, {}, "sequences"),
    "one (n, T, d) array": (np.ones((2, 3, 2)), {}, "sequences"),
    "masked (T, d) arrays, nothing masked": ([_masked(x) for x in REAL], {}, "sequences"),
    "2-D table": (np.arange(8.0).reshape(2, 4),
                  {"SequenceModel": None, "SequenceAutoencoder": None}, "table"),
}


@pytest.mark.parametrize("what", list(ACCEPTED))
def test_every_estimator_reads_every_kind_or_refuses_it_alike(what):
    X, special, default = ACCEPTED[what]
    refused = []
    for name in ESTIMATORS:
        kind = special.get(name, default)
        if kind is None:
            refused.append(name)
            continue
        est, data = _read(name, X)
        steps = [len(x.split()) if isinstance(x, str) else len(x) for x in X]  # words
        if name == "SequenceModel":
            assert est._input_kind() == kind
            if kind == "symbols":  # markers added: one more input, the boundary
                assert est.markers_ and est.alphabet_ == "PSTVX"
                assert data.data[0].shape[2] == len(est.alphabet_) + 1
        elif name == "SequenceAutoencoder":
            assert est._input_kind() == kind
            assert data.data[1].tolist() == steps
        else:
            assert est.input_kind_ == kind
            assert data.data[1].tolist() == steps
    if refused:
        texts = set(_refusals(X, refused).values())
        assert len(texts) == 1, texts
        assert "read as sequences of one value per step only by SequenceClassifier" in texts.pop()


def test_strings_with_a_tokenizer_mean_the_same_everywhere():
    texts = ["Good film!", "BAD film"]
    for name in ("SequenceAutoencoder", "SequenceClassifier", "SequenceRegressor"):
        default, _ = _read(name, texts)
        ws, _ = _read(name, texts, tokenizer="whitespace")
        assert default.vocabulary_.tokens == ["film", "!", "bad", "good"]
        assert sorted(ws.vocabulary_.tokens) == ["BAD", "Good", "film", "film!"]
    # analyzer='char' (the predictors): every character a token, as SequenceModel's symbols
    clf, _ = _read("SequenceClassifier", ["ab", "ba"], analyzer="char")
    assert clf.vocabulary_.tokens == ["a", "b"]


BAD = {  # input -> (message every estimator gives, index, step, channel)
    "one string": ("abc", "expected a list of sequences, got one string", None, None, None),
    "no sequences": ([], "no sequences", None, None, None),
    "an empty (T, d) array": ([np.ones((3, 2)), np.zeros((0, 2))],
                              "sequence 1: empty sequence (0 steps)", 1, None, None),
    "an empty token list": ([["a"], []], "sequence 1: empty sequence (no tokens)", 1, None,
                            None),
    "a token that is no string": ([["a", 3]], "sequence 0: token 1 is a int, not a string",
                                  0, None, None),
    "NaN": ([np.ones((3, 2)), np.array([[0, 0], [0, np.nan]])],
            "sequence 1: non-finite value at step 1, feature 1 (NaN)", 1, 1, 1),
    "beyond float32": ([np.array([[1e39, 0.0]])],
                       "sequence 0: 1e+39 at step 0, feature 0, beyond float32", 0, 0, 0),
    "wrong width": ([np.ones((3, 2)), np.ones((4, 3))],
                    "sequence 1: has 3 features per step, the first sequence's width is 2",
                    1, None, None),
    "a (T,) array among (T, d)": ([np.ones((3, 2)), np.ones(3)],
                                  "sequence 1: expected a (T, d) array, got shape (3,)", 1,
                                  None, None),
    "a masked step": ([_masked(np.ones((3, 2))), _masked(np.ones((4, 2)), (2, 1))],
                      "sequence 1: masked (missing) value at step 2, feature 1", 1, 2, 1),
    "a masked table": (_masked(np.ones((3, 4)), (2, 3)),
                       "sequence 2: masked (missing) value at step 3, feature 0", 2, 3, 0),
    "a masked (n, T, d) array": (_masked(np.ones((2, 3, 2)), (1, 0, 1)),
                                 "sequence 1: masked (missing) value at step 0, feature 1", 1,
                                 0, 1),
}


@pytest.mark.parametrize("what", list(BAD))
def test_bad_input_is_refused_with_one_message_and_its_place(what):
    X, message, index, step, channel = BAD[what]
    texts = _refusals(X)
    assert len(set(texts.values())) == 1, texts
    assert texts["SequenceModel"].startswith(message)
    for name in ESTIMATORS:
        with pytest.raises(InputError) as info:
            ESTIMATORS[name]().fit(X, _targets(name, X))
        assert (info.value.index, info.value.step, info.value.channel) == (index, step, channel)


def test_ragged_table_and_nan_table_are_refused_by_the_predictors_alike():
    ragged = [[1.0, 2.0, 3.0], [1.0, 2.0]]
    texts = _refusals(ragged, ("SequenceClassifier", "SequenceRegressor"))
    assert set(texts.values()) == {"sequence 1: has 2 steps, the first row has 3: the rows "
                                   "of a 2-D array are sequences of one length"}
    nan = np.ones((2, 3))
    nan[1, 2] = np.inf
    texts = _refusals(nan, ("SequenceClassifier", "SequenceRegressor"))
    assert set(texts.values()) == {"sequence 1: non-finite value at step 2, feature 0 (inf)"}
    # the estimators that read no table refuse it as a table, whatever it holds
    assert len(set(_refusals(nan, ("SequenceModel", "SequenceAutoencoder")).values())) == 1


def test_a_model_refuses_another_kind_than_it_read_alike():
    texts = {}
    for name in ESTIMATORS:
        est, _ = _read(name, REAL)
        with pytest.raises(InputError) as info:
            est._prepare([["a", "b"]], None, reset=False)
        texts[name] = str(info.value)
    assert set(texts.values()) == {"this model was trained on real-valued sequences (a list "
                                   "of (T, d) arrays), not token sequences (text or lists of "
                                   "tokens)"}


@pytest.mark.parametrize("name, setting", [("SequenceModel", {"markers": False}),
                                           ("SequenceAutoencoder", {"tokenizer": "whitespace"}),
                                           ("SequenceClassifier", {"analyzer": "char"}),
                                           ("SequenceRegressor", {"tokenizer": "whitespace"})])
def test_input_settings_that_cannot_apply_are_refused_alike(name, setting):
    ((key, value),) = setting.items()
    default = {"markers": "auto", "tokenizer": "default", "analyzer": "word"}[key]
    what = "symbol strings" if key == "markers" else "token sequences"
    with pytest.raises(ValueError) as info:
        _read(name, REAL, **setting)
    assert str(info.value) == (f"{key}={value!r} applies to {what}; real-valued sequences "
                               f"take {key}={default!r}")


def test_old_real_valued_autoencoder_file_keeps_the_default_tokenizer(tmp_path):
    from hiddenstate import _serialize

    est = SequenceAutoencoder(2, max_iter=1, random_state=0).fit(REAL)
    config, tensors = est._to_file()
    del config["params"]["tokenizer"]  # a file from before the setting
    _serialize.save(tmp_path / "old.hs", "SequenceAutoencoder", config, tensors)
    old = hs.load(tmp_path / "old.hs")
    assert old.tokenizer == "default"
    np.testing.assert_array_equal(old.transform(REAL), est.transform(REAL))
    _read("SequenceAutoencoder", REAL, **{"tokenizer": old.tokenizer})  # a clone refits


# -- the reader itself ------------------------------------------------------------------------


def test_input_kind():
    assert input_kind(["ab"]) == "tokens" and input_kind(["ab"], strings="symbols") == "symbols"
    assert input_kind(np.array(["a b", "c"])) == "tokens"  # an array of texts
    assert input_kind([("a", "b")], strings="symbols") == "tokens"
    assert input_kind(REAL) == input_kind(np.ones((2, 3, 1))) == "sequences"
    assert input_kind(np.ones((2, 3))) == input_kind([[1.0, 2.0]]) == "table"
    with pytest.raises(InputError, match="masked"):
        input_kind(_masked(np.ones((2, 3)), (0, 1)))


def test_read_sequences_lengths_and_vocabulary():
    seqs = read_sequences([["b", "a", "b"], ["c"]], end=True)
    assert seqs.kind == "tokens" and seqs.lengths.tolist() == [4, 2]
    assert seqs.vocabulary.tokens == ["b", "a", "c"]  # most frequent first, ties by name
    assert [a.tolist() for a in seqs.arrays] == [[2, 3, 2, 1], [4, 1]]  # 1: the end marker
    again = read_sequences([["c", "zz"]], vocabulary=seqs.vocabulary)
    assert again.vocabulary is seqs.vocabulary and again.arrays[0].tolist() == [4, 0]
    kept = read_sequences([["b", "a", "b"], ["c"]], min_count=2)
    assert kept.vocabulary == Vocabulary(["b"])
    real = read_sequences([np.ones((3, 2), np.float64), np.zeros((1, 2), np.int64)])
    assert real.kind == "sequences" and real.lengths.tolist() == [3, 1]
    assert real.n_features == 2 and all(a.dtype == np.float32 for a in real.arrays)
    table = read_sequences(np.arange(6.0).reshape(2, 3))
    assert table.kind == "table" and table.n_features == 1
    np.testing.assert_array_equal(table.arrays[1][:, 0], [3, 4, 5])


def test_read_symbols_with_and_without_markers():
    plain = read_symbols(["ab", "ba"], "ab")
    np.testing.assert_array_equal(plain[0], np.eye(2, dtype=np.float32))
    marked = read_symbols(["", "b"], "ab", markers=True, min_steps=2)
    assert [m.shape for m in marked] == [(2, 3), (3, 3)]
    np.testing.assert_array_equal(marked[1].argmax(1), [2, 1, 2])  # begin, b, end
    with pytest.raises(InputError, match="sequence 0: a string needs at least 2 symbols"):
        read_symbols(["a"], "ab", min_steps=2)
    with pytest.raises(InputError) as info:
        read_symbols(["ab", "aQ"], "ab")
    assert str(info.value) == "sequence 1, column 2: symbol 'Q' is not in the alphabet 'ab'"
    assert (info.value.index, info.value.step) == (1, 1)


def test_read_errors_name_their_place():
    with pytest.raises(InputError) as info:
        read_arrays([np.ones((2, 3))], n_features=2)
    assert str(info.value) == "sequence 0: has 3 features per step, the model's width is 2"
    with pytest.raises(InputError, match="sequence 0: not a numeric"):
        read_arrays([np.array([[object()]])])
    with pytest.raises(InputError) as info:
        read_sequences(np.array([[0.0, np.nan]]), columns=["t0", "t1"])
    assert str(info.value) == (
        "sequence 0: non-finite value at step 1 ('t1'), feature 0 (NaN): pass "
        "missing='interpolate' (--missing interpolate) to fill missing values from their "
        "neighbours, or fill them yourself")
    assert check_table([[1, 2], [3, 4]]) == [[1, 2], [3, 4]]
    np.testing.assert_array_equal(check_table(_masked(np.ones((2, 2)))), np.ones((2, 2)))
    with pytest.raises(InputError, match="symbol strings are read only by SequenceModel"):
        read_sequences(["ab"], strings="symbols", accepted=("tokens", "sequences"))
