"""Socher's recursive autoencoder: greedy trees, NumPy forward, gradients, learning, errors."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from sklearn.base import clone

import hiddenstate
from hiddenstate import InputError, RecursiveAutoencoder
from hiddenstate.nn import RecursiveAutoencoderNet
from hiddenstate.objectives import RAEObjective

from .conftest import count_compiles


def _np(m):
    return {
        k: np.asarray(getattr(m, k), np.float64)
        for k in ("embedding", "W1", "b1", "W2", "b2", "Wc", "bc")
    }


def _compose(p, c1, c2):
    z = np.tanh(np.concatenate([c1, c2]) @ p["W1"] + p["b1"])
    return z / np.linalg.norm(z)


def _rec(p, parent, c1, c2, n1, n2):
    r = parent @ p["W2"] + p["b2"]
    d = c1.size
    return (n1 * np.sum((c1 - r[:d]) ** 2) + n2 * np.sum((c2 - r[d:]) ** 2)) / (n1 + n2)


def _numpy_greedy(p, word_ids):
    """Brute force: every step scores every adjacent pair afresh."""
    L = 8
    nodes = [(p["embedding"][w], 1, i) for i, w in enumerate(word_ids)]
    merges, errors, t = [], [], 0
    while len(nodes) > 1:
        scored = []
        for k in range(len(nodes) - 1):
            (a, na, _), (b, nb, _) = nodes[k], nodes[k + 1]
            par = _compose(p, a, b)
            scored.append((_rec(p, par, a, b, na, nb), k, par))
        err, k, par = min(scored, key=lambda s: s[0])
        merges.append((nodes[k][2], nodes[k + 1][2]))
        errors.append(err)
        nodes[k : k + 2] = [(par, nodes[k][1] + nodes[k + 1][1], L + t)]
        t += 1
    return merges, errors, nodes[0][0]


@eqx.filter_jit
def _tree_table_errors(m, words, n):
    """The net's forward pass, compiled once for every ``n`` below (eagerly, each of its
    many small operations would be compiled on its own)."""
    tree, table = m(words, n)
    return tree, table, m.tree_errors(table, tree)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_greedy_tree_and_node_vectors_match_numpy(n):
    m = RecursiveAutoencoderNet(20, 6, 2, key=jax.random.key(n), word_scale=0.5)
    p = _np(m)
    rng = np.random.default_rng(n)
    words = np.zeros(8, np.int32)
    words[:n] = rng.integers(1, 20, n)
    tree, table, errs = _tree_table_errors(m, jnp.asarray(words), jnp.asarray(n))
    merges, errors, root = _numpy_greedy(p, words[:n])
    assert [tuple(int(c) for c in ch) for ch in np.asarray(tree.children)[: n - 1]] == merges
    assert int(tree.node_mask.sum()) == 2 * n - 1
    np.testing.assert_allclose(np.asarray(table)[int(tree.root)], root, atol=1e-5)
    errs = np.asarray(errs)
    np.testing.assert_allclose(errs[: n - 1], errors, rtol=1e-4, atol=1e-6)
    assert (errs[n - 1 :] == 0).all()
    assert np.asarray(tree.sizes)[int(tree.root)] == n


def test_parents_are_unit_vectors_and_features_shape():
    m = RecursiveAutoencoderNet(10, 4, 3, key=jax.random.key(0))
    words = jnp.asarray([1, 2, 3, 4, 0, 0, 0, 0], jnp.int32)

    @eqx.filter_jit  # one program (eagerly, each small operation would compile alone)
    def forward(m, words, n):
        tree, table = m(words, n)
        return table, m.features(table, tree), m.node_logits(table)

    table, features, logits = forward(m, words, jnp.asarray(4))
    norms = np.linalg.norm(np.asarray(table)[8:11], axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert features.shape == (8,)
    assert logits.shape == (15, 3)


def test_gradients_through_the_greedy_tree_match_finite_differences():
    """The loss with the tree the greedy search picks (rebuilt at each evaluation)."""
    with jax.enable_x64(True):
        m = RecursiveAutoencoderNet(
            12, 4, 2, key=jax.random.key(3), word_scale=0.5, dtype=jnp.float64
        )
        rng = np.random.default_rng(0)
        words = np.zeros((3, 6), np.int32)
        lengths = np.array([6, 4, 2], np.int32)
        for i, n in enumerate(lengths):
            words[i, :n] = rng.integers(1, 12, n)
        batch = (jnp.asarray(words), jnp.asarray(lengths), jnp.asarray([0, 1, 1]))
        obj = RAEObjective(alpha=0.3, l2=1e-3, l2_words=1e-3)
        w = jnp.ones(3, jnp.float64)
        check_grads(
            jax.jit(lambda mm: obj(jax.tree.map(jnp.asarray, mm), batch, w, None)),
            (m,),
            order=1,
            modes=["rev"],
            eps=1e-6,
            atol=1e-5,
            rtol=1e-5,
        )


def _toy(n=300, seed=0):
    """Sentences of filler words with one polarity word somewhere; label = its polarity."""
    rng = np.random.default_rng(seed)
    filler = ["the", "a", "film", "is", "was", "of", "and", "it", "movie", "story"]
    sents, y = [], []
    for _ in range(n):
        k = int(rng.integers(3, 9))
        words = list(rng.choice(filler, k))
        label = int(rng.integers(0, 2))
        words.insert(
            int(rng.integers(0, k + 1)),
            rng.choice(["great", "fine", "superb"])
            if label
            else rng.choice(["awful", "dull", "poor"]),
        )
        sents.append(" ".join(words))
        y.append(label)
    return sents, np.asarray(y)


#: The recipe of the shared fit below (and of test_cli.py's ``rae fit``: the same programs,
#: which the run's compilation cache serves to whichever of the two runs second).
RECIPE = dict(n_components=8, max_iter=15, learning_rate=1e-2)


def _labels(y):
    return np.where(y == 1, "pos", "neg")


@pytest.fixture(scope="module")
def small():
    """``(est, X, y)``: one fitted RAE with string labels on the toy polarity task, shared
    by the tests below (the same shapes as the recompilation test's fit: nothing compiles
    twice)."""
    X, y = _toy(300)
    y = _labels(y)
    return RecursiveAutoencoder(**RECIPE, random_state=0).fit(X, y), X, y


def test_learns_a_toy_polarity_task(small):
    est = small[0]
    Xt, yt = _toy(200, seed=1)
    assert est.score(Xt, _labels(yt)) >= 0.9
    assert est.transform(Xt).shape == (200, 16)
    proba = est.predict_proba(Xt[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert est.loss_curve_[-1] < est.loss_curve_[0]


def test_parse_returns_nested_words(small):
    est = small[0]
    tree = est.parse("the film was great")

    def leaves(t):
        return [t] if isinstance(t, str) else leaves(t[0]) + leaves(t[1])

    assert leaves(tree) == ["the", "film", "was", "great"]
    assert est.parse("unseenword") == "unseenword"
    assert est.parse(["a", "b"]) == ("a", "b")


def test_second_fit_does_not_recompile(small):
    _, X, y = small  # fitted with these shapes and settings: everything is compiled
    with count_compiles() as n:
        RecursiveAutoencoder(**RECIPE, random_state=1).fit(X, y)
    assert n() == 0


def test_save_load_round_trip(tmp_path, small):
    est, X, _ = small
    est.save(tmp_path / "rae.hs")
    back = hiddenstate.load(tmp_path / "rae.hs")
    assert isinstance(back, RecursiveAutoencoder)
    np.testing.assert_allclose(back.predict_proba(X), est.predict_proba(X), rtol=1e-6)
    assert list(back.predict(X)) == list(est.predict(X))
    assert back.parse(X[0]) == est.parse(X[0])


def test_clone_and_params():
    est = RecursiveAutoencoder(7, alpha=0.5, max_iter=3)
    c = clone(est)
    assert c.get_params() == est.get_params()


def test_bad_input(small):
    X, y = _toy(20)
    with pytest.raises(InputError, match="sentence 2.*empty"):
        RecursiveAutoencoder(4, max_iter=1).fit(X[:2] + ["   "] + X[3:], y)
    with pytest.raises(InputError, match="one label per sentence"):
        RecursiveAutoencoder(4, max_iter=1).fit(X, y[:-1])
    with pytest.raises(InputError, match="single class"):
        RecursiveAutoencoder(4, max_iter=1).fit(X, np.zeros(len(X)))
    with pytest.raises(InputError, match="not one string"):
        RecursiveAutoencoder(4, max_iter=1).fit("a b c", [1])
    with pytest.raises(InputError, match="empty"):
        RecursiveAutoencoder(4, max_iter=1).fit([], [])
    est = small[0]
    with pytest.raises(InputError, match="label 'maybe' is not one of the classes"):
        est.set_params(warm_start=True).fit(small[1][:8], ["pos"] * 7 + ["maybe"])
    est.set_params(warm_start=False)
    with pytest.raises(InputError, match="empty sentence"):
        est.predict(["fine", ""])
    with pytest.raises(InputError, match="empty"):
        est.parse("")
    with pytest.raises(ValueError, match="alpha"):
        RecursiveAutoencoder(alpha=2.0).fit(X, y)


@pytest.mark.slow  # the whole sentiment experiment (22 s); the RAE learns a toy task in make test
def test_sentiment_experiment_on_toy_files(tmp_path):
    from hiddenstate.experiments import EXPERIMENTS
    from hiddenstate.experiments.sentiment import Config, available, run

    X, y = _toy(120)
    folder = tmp_path / "data" / "rt-polarity"
    folder.mkdir(parents=True)
    for name, label in (("pos", 1), ("neg", 0)):
        text = "\n".join(s for s, t in zip(X, y, strict=True) if t == label) + "\n"
        (folder / f"rt-polarity.{name}").write_bytes(text.encode("latin-1"))
    assert EXPERIMENTS["sentiment"].needs_data
    assert available(tmp_path / "data") and not available(tmp_path)
    cfg = Config(n_components=4, epochs=2, folds=2, example="the film was great")
    result = run(cfg, tmp_path / "out", data_dir=tmp_path / "data")
    assert len(result.rows) == 4
    assert all(0.0 <= r.ours <= 1.0 for r in result.rows)
    assert "Parse of" in result.notes


@pytest.mark.slow
def test_movie_reviews_90_10_split(shared_data, tmp_path):
    """The quick protocol on rt-polarity: RAE at least the bag-of-words baseline minus 1 point."""
    from hiddenstate.experiments.sentiment import Config, run

    result = run(Config.quick(), tmp_path, data_dir=shared_data)
    rae, bow = result.rows[0].ours, result.rows[1].ours
    assert rae >= 0.76
    assert rae >= bow - 0.01
