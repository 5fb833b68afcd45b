"""The sentence-models experiment: its configs, the NBSVM transformer against a hand
computation, the folds, and the whole run on a tiny synthetic rt-polarity folder."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import scipy.sparse as sp

from hiddenstate.experiments import EXPERIMENTS, resolved_configs
from hiddenstate.experiments import sentence_models as sm


def test_config_and_quick_config_resolve():
    full, quick = sm.Config(), sm.Config.quick()
    assert full.folds == 10 and full.models == sm.MODELS and full.check_targets
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.folds = 3
    changed = {k: v for k, v in dataclasses.asdict(quick).items()
               if dataclasses.asdict(full)[k] != v}
    assert changed == {"folds": 0, "rae_epochs": 2, "learning_rate": (1e-2,), "epochs": 3,
                       "lm_epochs": 1, "sa_epochs": 1, "check_targets": False}
    assert resolved_configs(["sentence-models"])["sentence-models"] == dataclasses.asdict(full)
    assert resolved_configs(["sentence-models"], quick=True)["sentence-models"] == \
        dataclasses.asdict(quick)
    got = resolved_configs(["sentence-models"], False,
                           ["sentence-models.learning_rate=0.1,0.3",
                            "sentence-models.models=bow,rae"])
    assert got["sentence-models"]["learning_rate"] == (0.1, 0.3)
    assert got["sentence-models"]["models"] == ("bow", "rae")
    exp = EXPERIMENTS["sentence-models"]
    assert exp.needs_data and exp.config is sm.Config


def test_nb_log_count_ratio_by_hand():
    # Columns: good, film, fun, bad, plot; rows 0-1 positive, 2-3 negative.
    X = np.array([[1, 1, 0, 0, 0], [1, 0, 1, 0, 0], [0, 1, 0, 1, 0], [0, 0, 0, 1, 1]], float)
    y = np.array(["pos", "pos", "neg", "neg"])
    t = sm.NBLogCountRatio(alpha=1.0).fit(X, y)
    # p = 1 + [2, 1, 1, 0, 0], q = 1 + [0, 1, 0, 2, 1], both sum to 9: r = log(p / q).
    expected = np.log([3 / 1, 2 / 2, 2 / 1, 1 / 3, 1 / 2])
    np.testing.assert_allclose(t.r_, expected, rtol=1e-12)
    assert list(t.classes_) == ["neg", "pos"]
    np.testing.assert_allclose(t.transform(X), X * expected)
    Xs = t.transform(sp.csr_matrix(X))
    assert sp.issparse(Xs)
    np.testing.assert_allclose(Xs.toarray(), X * expected)
    # Another smoothing changes the sums: p = 0.5 + [2, 1, 1, 0, 0] (sum 6.5), q likewise.
    t2 = sm.NBLogCountRatio(alpha=0.5).fit(X, y)
    p, q = 0.5 + np.array([2, 1, 1, 0, 0]), 0.5 + np.array([0, 1, 0, 2, 1])
    np.testing.assert_allclose(t2.r_, np.log(p / p.sum()) - np.log(q / q.sum()))
    with pytest.raises(ValueError, match="two classes"):
        sm.NBLogCountRatio().fit(X, ["a"] * 4)


def test_nbsvm_pipeline_scales_the_vectorizer_columns():
    docs = np.array(["good film", "good fun", "bad film", "bad bad plot"], dtype=object)
    pipe = sm.nbsvm(C=1.0).fit(docs, [1, 1, 0, 0])
    vec, ratio = pipe.steps[0][1], pipe.steps[1][1]
    r = dict(zip(vec.get_feature_names_out(), ratio.r_, strict=True))
    # Ten uni+bigrams; positive counts sum to 6 (+10 smoothing), negative ones to 7.
    assert len(r) == 10 and "good film" in r and "bad bad" in r
    assert np.isclose(r["film"], np.log(2 / 16) - np.log(2 / 17))
    assert np.isclose(r["good"], np.log(3 / 16) - np.log(1 / 17))
    assert list(pipe.predict(["good", "bad"])) == [1, 0]


def test_splits_nest_and_share_one_fitting_size():
    y = np.array([0, 1] * 53 + [1])
    folds = sm.splits(y, sm.Config(folds=5))
    tests = np.concatenate([s.test for s in folds])
    assert np.array_equal(np.sort(tests), np.arange(y.size))
    assert len({s.fit.size for s in folds}) == 1
    for s in folds:
        assert np.array_equal(np.union1d(s.fit, s.val), s.train)
        assert np.intersect1d(s.fit, s.val).size == 0
        assert np.intersect1d(s.train, s.test).size == 0
        assert abs(y[s.val].mean() - 0.5) < 0.2
    one = sm.splits(y, sm.Config(folds=0))
    assert len(one) == 1 and one[0].test.size == round(0.1 * y.size)


def _tiny_data(folder, n=60, seed=0):
    rng = np.random.default_rng(seed)
    filler = ["the", "a", "film", "is", "was", "of", "and", "it"]
    lines = {"pos": [], "neg": []}
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        # One length and every word in every fold: each network compiles once, not per fold.
        words = list(rng.choice(filler, 3))
        cue = ["great", "superb", "fine"] if label == "pos" else ["awful", "dull", "poor"]
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(cue)))
        lines[label].append(" ".join(words))
    folder.mkdir(parents=True)
    for label, sents in lines.items():
        (folder / f"rt-polarity.{label}").write_bytes(("\n".join(sents) + "\n").encode("latin-1"))


@pytest.mark.slow  # every model of the experiment (20 s)
def test_run_on_tiny_data_every_model_on_the_same_folds(tmp_path, monkeypatch):
    _tiny_data(tmp_path / "data" / "rt-polarity")
    assert sm.available(tmp_path / "data") and not sm.available(tmp_path)
    seen = []
    one = sm.fit_and_score

    def spy(name, config, sentences, docs, y, s):
        seen.append((name, s.fold, s.test_digest))
        return one(name, config, sentences, docs, y, s)

    monkeypatch.setattr(sm, "fit_and_score", spy)
    cfg = sm.Config(folds=2, hidden_size=4, embedding_dim=4, max_features=30, epochs=2,
                    learning_rate=(1e-2,), lm_epochs=1, sa_epochs=1, pretrain_batch_size=8,
                    batch_size=8, rae_n_components=4, rae_epochs=1, rae_C=(1.0,),
                    bow_C=(1.0,), nbsvm_C=(1.0,), verbose=False)
    result = sm.run(cfg, tmp_path / "out", data_dir=tmp_path / "data")
    variants = [r.variant for r in result.rows]
    assert variants[:6] == [sm.LABELS[m] for m in sm.MODELS]
    assert all(0.0 <= r.ours <= 1.0 for r in result.rows[:6])
    # Every model saw every fold, with the same test rows (two folds: the fewest there are).
    assert len(seen) == 6 * 2
    for fold in range(2):
        assert len({d for _, f, d in seen if f == fold}) == 1
        assert {m for m, f, _ in seen if f == fold} == set(sm.MODELS)
    record = json.loads((tmp_path / "out" / "sentence_models.json").read_text())
    tests = sorted(i for fold in record["test_indices"] for i in fold)
    assert tests == list(range(60))
    for m in sm.MODELS:
        accs = record["models"][m]["accuracy"]
        assert len(accs) == 2
        assert np.isclose(np.mean(accs), record["models"][m]["mean"], atol=1e-3)
    assert record["models"]["lstm"]["chosen"][0]["epochs"] in (1, 2)
    assert record["models"]["sa-lstm"]["pretrain_seconds"][0] > 0
    assert result.settings["per_fold"]["bow"]["accuracy"] == record["models"]["bow"]["accuracy"]
    for path in result.figures.values():
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    # The separable toy task: the linear models learn it.
    assert record["models"]["nbsvm"]["mean"] >= 0.8
