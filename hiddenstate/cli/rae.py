"""``hiddenstate rae``: Socher's recursive autoencoder for sentence sentiment."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ._common import (
    add_estimator_options,
    check_checkpoint_dir,
    check_out,
    estimator_kwargs,
    load_model,
)
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
    from ..estimators import RecursiveAutoencoder

    fit_parser.add_argument("data", metavar="DATA",
                            help="folder with rt-polarity.pos/.neg, or a sentences file")
    fit_parser.add_argument("--labels", metavar="FILE",
                            help="one label per line, for a file DATA")
    fit_parser.add_argument("--out", required=True, metavar="MODEL")
    add_encoding_option(fit_parser)
    add_estimator_options(fit_parser, RecursiveAutoencoder)
    fit_parser.set_defaults(func=fit)


#: The rt-polarity folder's labels, as load_rt_polarity codes them.
_POLARITY = {1: "positive", 0: "negative"}


def _data(args, tokenizer: str):
    """(sentences, labels): an rt-polarity folder (labels positive and negative), or a
    sentences file with --labels (its labels as written).

    A sentences file and its labels file are read alike (see
    :mod:`hiddenstate.datasets._lines`): UTF-8 with an optional BOM (or --encoding),
    lines cut at
    ``"\\n"`` only, a blank line refused with its number (so sentences and labels
    never slip out of line), labels that are numbers taken by value (``1`` and
    ``1.0`` are one class).
    """
    from .._errors import InputError
    from .._limits import MAX_SENTENCE_WORDS
    from ..datasets import load_rt_polarity
    from ..datasets._lines import read_labels, read_lines
    from ..estimators._tokens import tokenize

    path = Path(args.data)
    if path.is_dir():
        if args.labels:
            raise InputError("--labels is for a sentences file; an rt-polarity folder holds "
                             "its own labels", path=path)
        sentences, labels = load_rt_polarity(path)
        return sentences, [_POLARITY[int(v)] for v in labels]
    if not path.exists():
        raise InputError("no such file or folder (DATA: a folder with rt-polarity.pos/.neg, "
                         "or a sentences file with --labels FILE)", path=path)
    if not args.labels:
        raise InputError("give a folder with rt-polarity.pos/.neg, or a sentences file "
                         "(one per line) with --labels FILE (one label per line)", path=path)
    sentences = read_lines(path, "sentence", encoding=args.encoding)
    labels = read_labels(args.labels, encoding=args.encoding)
    if len(sentences) != len(labels):
        raise InputError(f"{len(sentences)} sentences but {len(labels)} labels in "
                         f"{args.labels}; give one label per sentence", path=path)
    for number, sentence in enumerate(sentences, start=1):
        words = tokenize(sentence, tokenizer)
        if not words:
            raise InputError("no words in this sentence", path=path, line=number)
        if len(words) > MAX_SENTENCE_WORDS:
            raise InputError(f"a sentence of {len(words):,} words; the recursive autoencoder "
                             f"takes at most {MAX_SENTENCE_WORDS:,} (its trees cost the square "
                             "of the length)", path=path, line=number)
    return sentences, labels


def fit(args) -> int:
    from ..estimators import RecursiveAutoencoder

    kwargs = estimator_kwargs(args, RecursiveAutoencoder)
    check_out(args.out, args.data, args.labels)
    check_checkpoint_dir(kwargs.get("checkpoint_dir"))
    est = RecursiveAutoencoder(**kwargs)
    sentences, labels = _data(args, est.get_params()["tokenizer"])
    t0 = time.perf_counter()
    est.fit(sentences, labels)
    est.save(args.out)
    print(f"trained on {len(sentences)} sentences in {time.perf_counter() - t0:.1f} s; "
          f"training accuracy {est.score(sentences, labels):.4f}; wrote {args.out}",
          file=sys.stderr)
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
