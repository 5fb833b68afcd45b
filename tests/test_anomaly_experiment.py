"""The ``anomaly`` experiment (issue 12): its n-gram baseline, splits and violations, figures,
and a reduced run of the parts that need no data."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hiddenstate import plotting
from hiddenstate.datasets import in_embedded_reber_grammar, make_embedded_reber
from hiddenstate.experiments import EXPERIMENTS, anomaly


def test_ngram_surprisal_matches_counts():
    g = anomaly.NGramModel(2, "ab", k=0.5).fit(["aab", "ab"])
    # bigrams: a->a 1, a->b 2; b is never followed
    (s,) = g.surprisal(["aab"])
    p_aa, p_ab = (1 + 0.5) / (3 + 1.0), (2 + 0.5) / (3 + 1.0)
    np.testing.assert_allclose(s, [-np.log(p_aa), -np.log(p_ab)])
    # a trigram's first context is (start, first symbol): one score per symbol after the first
    t = anomaly.NGramModel(3, "ab", k=0.1).fit(["aab", "abb"])
    assert [len(v) for v in t.surprisal(["abab", "ab"])] == [3, 1]
    with pytest.raises(ValueError, match="n >= 2"):
        anomaly.NGramModel(1, "ab")


def test_ngram_cannot_see_the_long_range_symbol():
    strings = make_embedded_reber(300, np.random.default_rng(0))
    g = anomaly.NGramModel(3, "BTSXPVE").fit(strings)
    swapped = [s[:-2] + ("P" if s[-2] == "T" else "T") + s[-1] for s in strings[:50]]
    # the swapped symbol follows the inner E, which is followed by T or P equally often
    diff = [abs(a.sum() - b.sum()) for a, b in zip(g.surprisal(strings[:50]),
                                                    g.surprisal(swapped), strict=True)]
    assert np.median(diff) < 0.2


def test_reber_violations_leave_the_grammar():
    config = dataclasses.replace(anomaly.Config(), reber_train=20, reber_calibration=5,
                                 reber_test=40)
    train, cal, test, long_range, local = anomaly.reber_sets(config)
    assert (len(train), len(cal), len(test)) == (20, 5, 40)
    assert all(in_embedded_reber_grammar(s) for s in train + cal + test)
    assert not any(in_embedded_reber_grammar(s) for s in long_range + local)
    for s, lr, lo in zip(test, long_range, local, strict=True):
        assert lr[:-2] == s[:-2] and lr[-2] != s[-2]
        diff = [i for i, (a, b) in enumerate(zip(s, lo, strict=True)) if a != b]
        assert len(diff) == 1 and 3 <= diff[0] <= len(s) - 4  # inside the inner string


def test_mnist_splits_share_one_training_size():
    y = np.repeat(np.arange(10), 30)
    config = dataclasses.replace(anomaly.Config(), mnist_train=15)
    splits = anomaly.mnist_splits(y, config)
    for d, (train, test) in splits.items():
        assert len(train) == 15 and np.all(y[train] == d)
        assert np.intersect1d(train, test).size == 0 and len(train) + len(test) == len(y)
    with pytest.raises(ValueError, match="rarest digit"):
        anomaly.mnist_splits(y, dataclasses.replace(config, mnist_train=30))


def test_figures(tmp_path):
    fpr = np.linspace(0, 1, 11)
    fig = plotting.roc_curves({"a": {"x (0.5)": (fpr, fpr)}, "b": {"y": (fpr, np.sqrt(fpr))},
                               "c": {}}, path=tmp_path / "roc.png", ncols=2, title="t")
    assert (tmp_path / "roc.png").stat().st_size > 0 and len(fig.axes) == 4
    with pytest.raises(ValueError, match="equal"):
        plotting.roc_curves({"a": {"x": (fpr, fpr[:3])}})
    with pytest.raises(ValueError, match="at least one panel"):
        plotting.roc_curves({})
    img = np.random.default_rng(0).random(784)
    plotting.error_explanation(img, img * 0.5, (img * 0.5) ** 2, marks=[0, 783],
                               path=tmp_path / "ex.png")
    assert (tmp_path / "ex.png").stat().st_size > 0
    with pytest.raises(ValueError, match="equal"):
        plotting.error_explanation(img, img[:10], img)


def test_registered_and_runs_without_data():
    exp = EXPERIMENTS["anomaly"]
    assert exp.uses_data and not exp.needs_data and exp.available(None)
    assert not anomaly.Config.quick().mnist


def test_reduced_run_without_data(tmp_path):
    config = dataclasses.replace(
        anomaly.Config.quick(), mnist=True, reber_train=120, reber_calibration=30, reber_test=40,
        sequence_epochs=2, cancer_epochs=20)
    result = anomaly.run(config, tmp_path, data_dir=tmp_path / "nothing")
    assert "MNIST one-class part skipped" in result.notes
    aucs = [r for r in result.rows if "ROC AUC" in r.figure]
    # 5 breast-cancer detectors; LSTM, Elman, bigram, trigram x 2 violations x 2 aggregates
    assert len(aucs) == 5 + 4 * 2 * 2
    assert all(isinstance(r.ours, float) and 0.0 <= r.ours <= 1.0 for r in aucs)
    assert all(r.passed is None for r in result.rows)  # quick: reported, not checked
    planted = [r for r in result.rows if r.figure.startswith("planted")]
    assert len(planted) == 1 and 0.0 <= planted[0].ours <= 1.0
    false_alarms = [r for r in result.rows if "false-alarm" in r.figure]
    assert len(false_alarms) == 2 and all(0.0 <= r.ours <= 1.0 for r in false_alarms)
    assert len(result.figures) == 2
    assert all((tmp_path / "figures" / p.split("/")[-1]).exists()
               for p in result.figures.values())
