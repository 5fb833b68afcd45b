"""``hiddenstate rae``: Socher's recursive autoencoder for sentence sentiment."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ._common import add_estimator_options, estimator_kwargs, load_model

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
    predict_parser.add_argument("sentences", nargs="+", metavar="SENTENCE")
    predict_parser.set_defaults(func=predict)


def _build_fit(fit_parser) -> None:
    from ..estimators import RecursiveAutoencoder

    fit_parser.add_argument("data", metavar="DATA",
                            help="folder with rt-polarity.pos/.neg, or a sentences file")
    fit_parser.add_argument("--labels", metavar="FILE",
                            help="one label per line, for a file DATA")
    fit_parser.add_argument("--out", required=True, metavar="MODEL")
    add_estimator_options(fit_parser, RecursiveAutoencoder)
    fit_parser.set_defaults(func=fit)


def _lines(path) -> list[str]:
    from .._errors import InputError

    try:
        return [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()
                if ln.strip()]
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path) from None


def _data(args):
    """(sentences, labels): an rt-polarity folder, or a sentences file with --labels."""
    from .._errors import InputError
    from ..datasets import load_rt_polarity

    path = Path(args.data)
    if path.is_dir():
        return load_rt_polarity(path)
    if not args.labels:
        raise ValueError(f"{path}: give a folder with rt-polarity.pos/.neg, or a sentences file "
                         "(one per line) with --labels FILE (one label per line)")
    sentences, labels = _lines(path), _lines(args.labels)
    if len(sentences) != len(labels):
        raise InputError(f"{len(sentences)} sentences but {len(labels)} labels in "
                         f"{args.labels}", path=path)
    if not sentences:
        raise InputError("no sentences", path=path)
    return [s.split() for s in sentences], labels


def fit(args) -> int:
    from ..estimators import RecursiveAutoencoder

    sentences, labels = _data(args)
    est = RecursiveAutoencoder(**estimator_kwargs(args, RecursiveAutoencoder))
    t0 = time.perf_counter()
    est.fit(sentences, labels)
    est.save(args.out)
    print(f"trained on {len(sentences)} sentences in {time.perf_counter() - t0:.1f} s; "
          f"training accuracy {est.score(sentences, labels):.4f}; wrote {args.out}",
          file=sys.stderr)
    return 0


def predict(args) -> int:
    from ..estimators import RecursiveAutoencoder

    model = load_model(args.model, RecursiveAutoencoder)
    for sentence in args.sentences:
        proba = model.predict_proba([sentence])[0]
        k = int(proba.argmax())
        print(json.dumps({"sentence": sentence, "label": str(model.classes_[k]),
                          "probability": float(proba[k]), "tree": model.parse(sentence)}))
    return 0
