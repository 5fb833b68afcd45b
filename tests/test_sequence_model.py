"""hiddenstate.SequenceModel: the estimator, Reber learning, sampling, files, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import hiddenstate as hs
from hiddenstate import InputError, ModelFileError, SequenceModel
from hiddenstate.datasets import (
    REBER_ALPHABET,
    in_embedded_reber_grammar,
    in_reber_grammar,
    make_embedded_reber,
    make_reber,
    make_sincos,
    reber_targets,
)
from hiddenstate.metrics import (
    grammar_fraction,
    legal_next_accuracy,
    long_range_accuracy,
    multi_hot_step_accuracy,
)

from .conftest import count_compiles

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def seed_model():
    """W3 with the seed's algorithm: Elman 7-10-7, sigmoid multi-hot, batch-1 SGD at 0.2."""
    train = make_reber(1000, np.random.default_rng(0))
    m = SequenceModel("elman", hidden_size=10, output="sigmoid", init="seed", optimizer="sgd",
                      learning_rate_schedule="constant", curriculum=0, learning_rate=0.2,
                      clip_norm=None,
                      batch_size=1, max_iter=10, random_state=0)
    return m.fit(train, [reber_targets(s) for s in train], alphabet=REBER_ALPHABET)


def test_w3_seed_algorithm_learns_the_grammar(seed_model):
    test = make_reber(200, np.random.default_rng(1))
    acc = multi_hot_step_accuracy(seed_model.predict_proba(test), [reber_targets(s) for s in test])
    assert acc == 1.0
    frac = grammar_fraction(seed_model.sample(500, random_state=0), in_reber_grammar)
    assert 0.75 <= frac <= 0.97


def test_shapes_predict_and_score(seed_model):
    strings = ["BTXSE", "BPVVE"]
    probs = seed_model.predict_proba(strings)
    assert [p.shape for p in probs] == [(4, 7), (4, 7)]
    assert all(((p >= 0) & (p <= 1)).all() for p in probs)
    assert seed_model.score(strings, [reber_targets(s) for s in strings]) < 0
    samples = seed_model.sample(20, max_length=30, random_state=1)
    assert len(samples) == 20 and all(s[0] == "B" and len(s) <= 30 for s in samples)


def test_softmax_next_symbol_default_learns_reber_quickly():
    train = make_reber(500, np.random.default_rng(2))
    m = SequenceModel("lstm", max_iter=3, random_state=0).fit(train, alphabet=REBER_ALPHABET)
    assert grammar_fraction(m.sample(300, random_state=0), in_reber_grammar) >= 0.8
    pred = m.predict(["BTXSE"])
    assert isinstance(pred[0], str) and len(pred[0]) == 4


@pytest.mark.parametrize("cell", ["elman", "lstm", "gru"])
def test_real_valued_sequences_w6(cell):
    S, T = make_sincos()
    m = SequenceModel(cell, hidden_size=8, output="linear", optimizer="adam",
                      learning_rate=0.02, batch_size=None, max_iter=300, random_state=0)
    m.fit(list(S), list(T))
    assert m.loss_curve_[-1] < 0.05 * m.loss_curve_[0]
    assert [p.shape for p in m.predict_proba(list(S))] == [(32, 2), (32, 2)]
    with pytest.raises(InputError, match="real-valued"):
        m.sample(3)


def test_no_recompilation_for_a_second_fit():
    train = make_reber(64, np.random.default_rng(4))
    kw = dict(max_iter=1, batch_size=8, random_state=0)
    SequenceModel("gru", **kw).fit(train, alphabet=REBER_ALPHABET)
    with count_compiles() as compiles:
        SequenceModel("gru", **kw).fit(train, alphabet=REBER_ALPHABET)
    assert compiles() == 0


def test_save_load_round_trip(tmp_path, seed_model):
    path = tmp_path / "rnn.safetensors"
    seed_model.save(path)
    back = hs.load(path)
    assert isinstance(back, SequenceModel) and back.alphabet_ == REBER_ALPHABET
    a, b = seed_model.predict_proba(["BTSSXSE"]), back.predict_proba(["BTSSXSE"])
    np.testing.assert_array_equal(a[0], b[0])
    assert back.sample(5, random_state=3) == seed_model.sample(5, random_state=3)
    blob = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(blob[:-10])
    with pytest.raises(ModelFileError):
        hs.load(tmp_path / "cut.safetensors")


def test_bad_input(seed_model):
    with pytest.raises(InputError, match=r"sequence 1, column 3: symbol 'Q'"):
        SequenceModel(max_iter=1).fit(["BTXSE", "BTQ"], alphabet=REBER_ALPHABET)
    with pytest.raises(InputError, match="sequence 0: a string needs at least 2"):
        SequenceModel(max_iter=1, markers=False).fit(["B"])
    with pytest.raises(InputError, match="2 input sequences but 1 target"):
        SequenceModel(max_iter=1).fit([np.ones((3, 2))] * 2, [np.ones((3, 1))])
    with pytest.raises(InputError,
                       match="sequence 1: has 3 features per step, the first sequence's "
                             "width is 2"):
        SequenceModel(max_iter=1).fit([np.ones((3, 2)), np.ones((3, 3))],
                                      [np.ones((3, 1))] * 2)
    bad = np.ones((4, 2))
    bad[2, 1] = np.nan
    with pytest.raises(InputError, match="sequence 1: non-finite value at step 2, feature 1"):
        SequenceModel(max_iter=1).fit([np.ones((4, 2)), bad], [np.ones((4, 1))] * 2)
    with pytest.raises(InputError, match="start symbol 'Z'"):
        seed_model.sample(2, start="Z")
    with pytest.raises(InputError, match="no sequences"):
        SequenceModel(max_iter=1).fit([])


def test_metrics_on_hand_made_outputs():
    strings = ["BTBTXSETE", "BPBPVVEPE"]
    targets = [reber_targets(s) for s in strings]
    perfect = [t * 0.9 + 0.05 for t in targets]
    assert multi_hot_step_accuracy(perfect, targets) == 1.0
    assert legal_next_accuracy(perfect, targets) == 1.0
    assert long_range_accuracy(perfect, strings, REBER_ALPHABET) == 1.0
    swapped = [p.copy() for p in perfect]
    for p in swapped:
        p[-2, [1, 4]] = p[-2, [4, 1]]  # T and P exchanged at the long-range step
    assert long_range_accuracy(swapped, strings, REBER_ALPHABET) == 0.0
    assert grammar_fraction(["BTXSE", "BTXE"], in_reber_grammar) == 0.5


@pytest.mark.slow
def test_w4_default_lstm_solves_embedded_reber():
    """Issue 3: the default LSTM on 5,000 embedded strings of the seed's kind, no tuning."""
    train = make_embedded_reber(5000, np.random.default_rng(0))
    test = make_embedded_reber(1000, np.random.default_rng(1000))
    m = SequenceModel("lstm", random_state=0).fit(train, alphabet=REBER_ALPHABET)
    assert long_range_accuracy(m.predict_proba(test), test, REBER_ALPHABET) >= 0.99
    samples = m.sample(1000, n_stops=2, random_state=0)
    assert grammar_fraction(samples, in_embedded_reber_grammar) >= 0.99


def test_length_buckets_minimise_padding():
    from itertools import combinations

    from hiddenstate.estimators._sequence import length_buckets

    rng = np.random.default_rng(0)
    for _ in range(20):
        lengths = rng.integers(1, 60, rng.integers(1, 40))
        row_bucket, buckets = length_buckets(lengths, max_buckets=3, step=4)
        padded = -(-lengths // 4) * 4
        assert len(buckets) <= 3 and buckets[-1] == padded.max()
        assert all(b % 4 == 0 for b in buckets)
        assert np.all(np.asarray(buckets)[row_bucket] >= lengths)
        cost = sum(np.asarray(buckets)[row_bucket])
        cands = sorted(set(padded.tolist()))
        best = min(sum(min(c for c in (*chosen, cands[-1]) if c >= p) for p in padded)
                   for k in range(min(3, len(cands)))
                   for chosen in combinations(cands[:-1], k))
        assert cost == best


def test_online_training_in_length_buckets_compiles_once_and_learns():
    """Strings of very different lengths: bucketed batch-1 training, one compilation."""
    rng = np.random.default_rng(0)
    strings = ["ab" * int(k) for k in rng.integers(1, 20, 200)]
    kw = dict(hidden_size=8, max_iter=3, random_state=0, markers=False)
    with count_compiles() as compiles:
        m = SequenceModel("elman", **kw).fit(strings)
    first = compiles()
    with count_compiles() as compiles:
        SequenceModel("elman", **kw).fit(strings)
    assert compiles() == 0 and first >= 1
    # predict gives the next symbol after each but the last: the string shifted by one.
    assert m.predict(strings[:50]) == [s[1:] for s in strings[:50]]


# -- token sequences (a language model: the LM-LSTM pretraining of Dai & Le 2015) ----------


def _cycles(n, seed, length=6):
    """Runs of the cycle a b c d a ... of ``length`` tokens from random starts."""
    rng = np.random.default_rng(seed)
    cyc = "a b c d".split()
    return [[cyc[(int(s) + k) % 4] for k in range(length)] for s in rng.integers(0, 4, n)]


@pytest.fixture(scope="module")
def token_model():
    return SequenceModel("lstm", hidden_size=12, embedding_dim=6, batch_size=8, max_iter=12,
                         learning_rate=0.03,
                         random_state=0).fit(_cycles(48, 0))


def test_token_forward_and_loss_match_numpy():
    """The embedding lookup path of SequenceNet and the integer-target softmax loss."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    from hiddenstate.nn import SequenceNet
    from hiddenstate.objectives import SequenceObjective

    net = SequenceNet(3, 4, 5, key=jax.random.key(0), cell="elman", n_tokens=5)
    assert net.embedding.shape == (5, 3)
    ids, nxt = np.array([2, 4, 0, 3]), np.array([4, 0, 3, 1])
    E, c = np.asarray(net.embedding, np.float64), net.cells[0]
    W, U, b = (np.asarray(a, np.float64) for a in (c.W, c.U, c.b))
    h, zs = np.asarray(c.h0, np.float64), []
    for i in ids:
        h = np.tanh(E[i] @ W + h @ U + b)
        zs.append(h @ np.asarray(net.V) + np.asarray(net.c))
    z = np.stack(zs)
    jit = eqx.filter_jit  # one program each (eagerly, each small operation compiles alone)
    np.testing.assert_allclose(np.asarray(jit(net)(jnp.asarray(ids))), z, atol=1e-5)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    mask = np.array([1.0, 1.0, 1.0, 0.0])  # the last step is padding
    want = -(logp[np.arange(4), nxt] * mask).sum() / 3
    batch = (jnp.asarray(ids[None]), jnp.asarray(nxt[None]), jnp.asarray(mask[None]))
    got = jit(SequenceObjective("softmax").per_example)(net, batch)
    np.testing.assert_allclose(np.asarray(got), [want], rtol=1e-5)


def test_token_language_model_learns_a_cycle(token_model):
    m = token_model
    assert m.alphabet_ is None and sorted(m.vocabulary_.tokens) == ["a", "b", "c", "d"]
    assert (m.n_features_in_, m.n_outputs_) == (6, 6)
    test = _cycles(40, 1)
    probs = m.predict_proba(test[:2] + [["c"]])
    assert [p.shape for p in probs] == [(6, 6), (6, 6), (1, 6)]
    np.testing.assert_allclose([p.sum(-1) for p in probs[:2]], 1.0, rtol=1e-5)
    pred = m.predict(test)
    assert all(isinstance(p, list) and len(p) == 6 for p in pred)
    # every next token but the last (the end marker) follows the cycle
    acc = np.mean([a == b for s, p in zip(test, pred, strict=True)
                   for a, b in zip(s[1:], p[:-1], strict=True)])
    assert acc > 0.95
    assert np.mean([p[-1] == "</s>" for p in pred]) > 0.9
    assert -1.0 < m.score(test) < 0
    # a token never seen is id 0 (<unk>), not an error
    assert len(m.predict([["a", "never-seen", "c"]])[0]) == 3
    with pytest.raises(InputError, match="token sequences"):
        m.sample(2)


def test_token_warm_start_and_partial_fit_keep_the_vocabulary():
    m = SequenceModel("elman", hidden_size=4, embedding_dim=2, max_iter=1, random_state=0)
    m.fit([["a", "b", "a"]])
    vocabulary = m.vocabulary_
    m.set_params(warm_start=True).fit([["a", "b", "new"]])
    assert m.vocabulary_ is vocabulary and "new" not in m.vocabulary_.index
    m.partial_fit([["new", "word"]])
    assert m.vocabulary_ is vocabulary and m.model_.embedding.shape == (4, 2)


def test_token_save_load_round_trip(tmp_path, token_model, seed_model):
    from hiddenstate import _serialize

    path = tmp_path / "lm.safetensors"
    token_model.save(path)
    back = hs.load(path)
    assert back.vocabulary_ == token_model.vocabulary_ and back.alphabet_ is None
    seqs = [["a", "b", "zzz"], ["d"]]
    for a, b in zip(token_model.predict_proba(seqs), back.predict_proba(seqs), strict=True):
        np.testing.assert_array_equal(a, b)
    # a vocabulary that does not match the sizes, or the tensors (embedding rows, outputs)
    config, tensors = token_model._to_file()
    config["vocabulary"] = config["vocabulary"][:-1]
    _serialize.save(tmp_path / "bad.safetensors", "SequenceModel", config, tensors)
    with pytest.raises(ModelFileError, match="do not match the vocabulary"):
        hs.load(tmp_path / "bad.safetensors")
    config["n_outputs"] = 5
    _serialize.save(tmp_path / "bad.safetensors", "SequenceModel", config, tensors)
    with pytest.raises(ModelFileError, match=r"the settings need float32\[12, 5\]"):
        hs.load(tmp_path / "bad.safetensors")
    # a file written before token sequences (no "vocabulary" key) still loads
    config, tensors = seed_model._to_file()
    del config["vocabulary"]
    _serialize.save(tmp_path / "old.safetensors", "SequenceModel", config, tensors)
    old = hs.load(tmp_path / "old.safetensors")
    assert old.vocabulary_ is None and old.alphabet_ == REBER_ALPHABET


def test_token_bad_input(token_model, seed_model):
    with pytest.raises(InputError, match="sequence 1: empty sequence"):
        SequenceModel(max_iter=1).fit([["a", "b"], []])
    with pytest.raises(ValueError, match="output='softmax'"):
        SequenceModel(output="sigmoid", max_iter=1).fit([["a", "b"]])
    with pytest.raises(InputError, match="no targets"):
        SequenceModel(max_iter=1).fit([["a", "b"]], [np.ones((2, 1))])
    with pytest.raises(InputError, match="trained on token sequences .*not symbol strings"):
        token_model.predict(["abc"])
    with pytest.raises(InputError, match="trained on token sequences .*not real-valued"):
        token_model.predict_proba([np.ones((3, 6))])
    with pytest.raises(InputError, match="trained on symbol strings, not token sequences"):
        seed_model.predict([["B", "T"]])


def test_encoder_parts(token_model, seed_model):
    parts = token_model._encoder_parts()
    assert set(parts) == {"cell", "hidden_size", "cells", "embedding", "vocabulary",
                          "n_features_in", "scaling"}
    assert (parts["cell"], parts["hidden_size"], parts["n_features_in"]) == ("lstm", 12, 6)
    assert parts["cells"] == token_model.model_.cells and len(parts["cells"]) == 1
    assert parts["embedding"].shape == (6, 6) and parts["vocabulary"] is token_model.vocabulary_
    parts = seed_model._encoder_parts()
    assert parts["embedding"] is None and parts["vocabulary"] is None
    assert (parts["cell"], parts["n_features_in"]) == ("elman", 7)
    assert parts["cells"][0].W.shape == (7, 10)
