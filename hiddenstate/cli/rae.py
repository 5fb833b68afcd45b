"""``hiddenstate rae``: Socher's recursive autoencoder for sentence sentiment."""

from __future__ import annotations

import json
from pathlib import Path

from ._common import load_model
from ._options import add_estimator_options, estimator_kwargs
from ._outputs import check_checkpoint_dir, check_out, fit_save_report
from .classify import add_encoding_option

__all__ = ["register"]


def register(sub) -> None:
    sub.add_parser("rae", help="Socher's recursive autoencoder for sentence sentiment",
                   build=_build)


def _build(parser) -> None:
    actions = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    actions.add_parser("fit", help="train on DATA, write MODEL", build=_build_fit)
    predict_parser = actions.add_parser("predict",
                                        help="label, probability and tree (JSON lines)")
    predict_parser.add_argument("model", metavar="MODEL")
    predict_parser.add_argument("sentences", nargs="+", metavar="SENTENCE",
                                help="a sentence, split into words as at fit (the model's "
                                     "tokenizer)")
    predict_parser.set_defaults(func=predict)


def _build_fit(fit_parser) -> None:
    fit_parser.add_argument("data", metavar="DATA",
                            help="folder with rt-polarity.pos/.neg, or a sentences file")
    fit_parser.add_argument("--labels", metavar="FILE",
                            help="one label per line, for a file DATA")
    fit_parser.add_argument("--out", required=True, metavar="MODEL")
    add_encoding_option(fit_parser)
    add_estimator_options(fit_parser, "RecursiveAutoencoder")
    fit_parser.set_defaults(func=fit)


def _data(args, tokenizer: str):
    """(sentences, labels): :func:`hiddenstate.datasets.load_labelled_text` (an rt-polarity
    folder, or a sentences file and its --labels), each sentence of a file split by
    ``tokenizer`` and checked for the recursive autoencoder (some words, not too many)."""
    from .._errors import InputError
    from .._limits import MAX_SENTENCE_WORDS
    from ..datasets import load_labelled_text
    from ..estimators._tokens import tokenize

    sentences, labels = load_labelled_text(args.data, args.labels, encoding=args.encoding)
    if Path(args.data).is_dir():
        return sentences, labels
    for number, sentence in enumerate(sentences, start=1):
        words = tokenize(sentence, tokenizer)
        if not words:
            raise InputError("no words in this sentence", path=args.data, line=number)
        if len(words) > MAX_SENTENCE_WORDS:
            raise InputError(f"a sentence of {len(words):,} words; the recursive autoencoder "
                             f"takes at most {MAX_SENTENCE_WORDS:,} (its trees cost the square "
                             "of the length)", path=args.data, line=number)
    return sentences, labels


def fit(args) -> int:
    from ..estimators import RecursiveAutoencoder

    kwargs = estimator_kwargs(args, RecursiveAutoencoder)
    check_out(args.out, args.data, args.labels)
    check_checkpoint_dir(kwargs.get("checkpoint_dir"))
    est = RecursiveAutoencoder(**kwargs)
    sentences, labels = _data(args, est.get_params()["tokenizer"])
    fit_save_report(est, args.out, lambda: est.fit(sentences, labels),
                    inputs=f"{len(sentences)} sentences",
                    notes=[lambda: f"training accuracy {est.score(sentences, labels):.4f}"])
    return 0


def predict(args) -> int:
    from .._errors import InputError
    from .._limits import MAX_SENTENCE_WORDS
    from ..estimators import RecursiveAutoencoder
    from ..estimators._tokens import tokenize

    model = load_model(args.model, RecursiveAutoencoder)
    # Every sentence is checked before any is printed, and an error names the sentence
    # by its place among the arguments (1-based) and its text.
    for number, sentence in enumerate(args.sentences, start=1):
        words = tokenize(sentence, model.tokenizer)
        if not words:
            raise InputError(f"SENTENCE {number} ({sentence!r}) has no words")
        if len(words) > MAX_SENTENCE_WORDS:
            raise InputError(f"SENTENCE {number} has {len(words):,} words; at most "
                             f"{MAX_SENTENCE_WORDS:,}")
    for sentence in args.sentences:
        proba = model.predict_proba([sentence])[0]
        k = int(proba.argmax())
        print(json.dumps({"sentence": sentence, "label": str(model.classes_[k]),
                          "probability": float(proba[k]), "tree": model.parse(sentence)}))
    return 0
