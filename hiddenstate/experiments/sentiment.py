"""Socher et al. (2011) recursive autoencoder on the movie-review sentences, beside a baseline."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from .. import plotting
from ..datasets import load_rt_polarity
from ..estimators._recursive import RecursiveAutoencoder
from ..report import ExperimentResult, ResultRow
from ._common import Timer, figure_path

NAME = "sentiment"
TITLE = "Movie-review polarity: semi-supervised recursive autoencoder (seed 001's readers)"

#: The paper's 10-fold accuracy with random word vectors (Socher et al. 2011, table 1).
PAPER_ACCURACY = 0.768


@dataclasses.dataclass(frozen=True)
class Config:
    """Protocol: a 90/10 split (seeded permutation) and, unless quick, 10-fold CV.

    Both the RAE and the baseline (binary bag-of-words, scikit-learn
    LogisticRegression, C=1) train and test on exactly the same sentences.
    """

    n_components: int = 50
    alpha: float = 0.5
    epochs: int = 5
    learning_rate: float = 3e-3
    batch_size: int = 32
    l2: float = 1e-4
    l2_words: float = 1e-4
    C: float = 0.1
    folds: int = 10
    test_fraction: float = 0.1
    random_state: int = 0
    example: str = "the movie is not good , but the actors are wonderful ."

    @classmethod
    def quick(cls) -> Config:
        """``reproduce --quick``: the 90/10 split only, no cross-validation."""
        return cls(folds=0)


def available(data_dir: Path | None) -> bool:
    return data_dir is not None and (Path(data_dir) / "rt-polarity").is_dir()


def rae(config: Config) -> RecursiveAutoencoder:
    """The RAE with this config's settings."""
    return RecursiveAutoencoder(
        config.n_components,
        alpha=config.alpha,
        max_iter=config.epochs,
        learning_rate=config.learning_rate,
        batch_size=config.batch_size,
        l2=config.l2,
        l2_words=config.l2_words,
        C=config.C,
        random_state=config.random_state,
    )


def baseline():
    """Binary bag of words (space-separated tokens as given) + logistic regression."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        CountVectorizer(token_pattern=r"[^ ]+", lowercase=False, binary=True),
        LogisticRegression(C=1.0, max_iter=2000),
    )


def _both(config: Config, sentences, y, train, test):
    docs = [" ".join(s) for s in sentences]
    with Timer() as t_rae:
        est = rae(config).fit([sentences[i] for i in train], y[train])
    acc_rae = float(est.score([sentences[i] for i in test], y[test]))
    with Timer() as t_bow:
        bow = baseline().fit([docs[i] for i in train], y[train])
    acc_bow = float(bow.score([docs[i] for i in test], y[test]))
    return est, (acc_rae, t_rae.seconds), (acc_bow, t_bow.seconds)


def run(config: Config, out_dir: Path, *, data_dir: Path) -> ExperimentResult:
    sentences, y = load_rt_polarity(Path(data_dir) / "rt-polarity")
    n = len(sentences)
    rows, figures = [], {}
    with Timer() as total:
        perm = np.random.default_rng(config.random_state).permutation(n)
        n_test = int(round(config.test_fraction * n))
        test, train = np.sort(perm[:n_test]), np.sort(perm[n_test:])
        est, (acc_rae, s_rae), (acc_bow, s_bow) = _both(config, sentences, y, train, test)
        split = f"90/10 split ({train.size} train, {test.size} test)"
        rows.append(
            ResultRow(
                NAME,
                f"accuracy, {split}",
                PAPER_ACCURACY,
                acc_rae,
                s_rae,
                "RAE (random word vectors)",
                target="report beside baseline",
                source="paper",
            )
        )
        rows.append(
            ResultRow(
                NAME,
                f"accuracy, {split}",
                None,
                acc_bow,
                s_bow,
                "bag-of-words logistic regression",
                target="baseline",
            )
        )
        accs = {"RAE, 90/10": acc_rae, "bag of words, 90/10": acc_bow}
        path = figure_path(out_dir, "sentiment_curve.png")
        plotting.learning_curves(
            {"RAE training loss": est.loss_curve_},
            path=path,
            title="RAE training loss (alpha E_rec + (1-alpha) E_ce)",
        )
        figures["RAE training loss per epoch (90/10 split)"] = str(path)

        folds = int(config.folds)
        if folds > 1:
            from sklearn.model_selection import StratifiedKFold

            cv = StratifiedKFold(folds, shuffle=True, random_state=config.random_state)
            fold_rae, fold_bow, sec_rae, sec_bow = [], [], 0.0, 0.0
            for tr, te in cv.split(np.zeros(n), y):
                _, (a, s), (b, sb) = _both(config, sentences, y, tr, te)
                fold_rae.append(a)
                fold_bow.append(b)
                sec_rae, sec_bow = sec_rae + s, sec_bow + sb
            label = f"accuracy, {folds}-fold CV (mean; std {np.std(fold_rae):.3f})"
            rows.append(
                ResultRow(
                    NAME,
                    label,
                    PAPER_ACCURACY,
                    float(np.mean(fold_rae)),
                    sec_rae,
                    "RAE (random word vectors)",
                    passed=float(np.mean(fold_rae)) >= PAPER_ACCURACY,
                    target=">= 0.768 (the paper, random vectors)",
                    source="paper",
                )
            )
            rows.append(
                ResultRow(
                    NAME,
                    f"accuracy, {folds}-fold CV (mean; std {np.std(fold_bow):.3f})",
                    None,
                    float(np.mean(fold_bow)),
                    sec_bow,
                    "bag-of-words logistic regression",
                    target="baseline",
                )
            )
            accs[f"RAE, {folds}-fold"] = float(np.mean(fold_rae))
            accs[f"bag of words, {folds}-fold"] = float(np.mean(fold_bow))
        accs["paper (random vectors)"] = PAPER_ACCURACY
        path = figure_path(out_dir, "sentiment_accuracy.png")
        plotting.bar_chart(
            accs, path=path, ylabel="accuracy", title="Movie-review polarity accuracy"
        )
        figures["Accuracy: RAE, bag-of-words baseline, the paper"] = str(path)
        tree = est.parse(config.example)
        label = est.predict([config.example])[0]
        proba = float(est.predict_proba([config.example])[0].max())
    settings = {**dataclasses.asdict(config), "sentences": n}
    return ExperimentResult(
        NAME,
        rows,
        figures,
        settings,
        total.seconds,
        notes=f"Protocol: rt-polarity v1.0 (5,331 + 5,331 sentences, tokens as given); a "
        f"seeded 90/10 split, and {folds}-fold stratified CV when not quick; the RAE "
        f"and a binary bag-of-words logistic regression are trained on the same folds. "
        f"Parse of {config.example!r}: {tree!r}; label {label} (p={proba:.2f}).",
    )
