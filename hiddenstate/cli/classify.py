"""``hiddenstate classify``: read a whole sequence, predict its label (SequenceClassifier)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ._common import (
    add_format_option,
    add_missing_option,
    check_not_numeric,
    is_series,
    load_model,
    read_series_data,
)
from ._options import Parser, add_estimator_options, estimator_kwargs, number
from ._outputs import add_raw_text_option, check_checkpoint_dir, check_out, fit_save_report

__all__ = ["register"]

#: What DATA may be, for every command that reads labelled data.
_DATA_HELP = """\
DATA is one of:
  a text file    one sequence per line (UTF-8; split into words by --tokenizer,
                 or every character a token with --analyzer char), labelled by
                 --labels FILE: one label per line, the same number of lines;
  a folder       holding rt-polarity.pos and rt-polarity.neg (the movie-review
                 sentences of Pang & Lee 2005; labels positive and negative);
  embedded-reber built in: embedded Reber strings (their symbols the tokens;
                 --analyzer char unless given, so predict reads BTSXSE),
                 labelled consistent, or swapped when the second-to-last
                 symbol was swapped (T <-> P): the only difference lies more
                 than 10 steps after the symbol it must repeat;
  a .ts file     real-valued series of the UEA & UCR archive, their labels
                 in the file (@classLabel true ...), missing values as ?;
  a series file  .csv, .tsv or .npy: one row per step, one column per
                 feature, a blank line between sequences (a first column of
                 times, named time/date/year/... or holding dates, is not a
                 feature), labelled by --labels FILE, one label per sequence;
                 .npy: (T, F) one sequence, (N, T, F) N sequences.
A text file whose every token is a number is refused (a series read as
words would be meaningless): --format text reads it as words.
Files are UTF-8 (a BOM allowed; --encoding for another, e.g. latin-1) and
lines end at a newline only; a blank
line is an error (blank lines at the end are ignored): every line is one
sequence, or one label. Labels that are numbers are taken by value: 1, 1.0
and +1 are the class 1."""

_PRETRAINERS = {"sequence-ae": "SequenceAutoencoder", "language-model": "SequenceModel"}


def add_encoding_option(parser, *, default: str | None = "utf-8") -> None:
    """``--encoding``: the text encoding of the user's files (sentences, sequences,
    labels); every command that reads lines of text takes it. ``default=None`` for a
    command that also reads inputs without an encoding (series, tables, built-in data),
    which refuses a typed ``--encoding``: None tells "not typed" apart (read as UTF-8)."""
    parser.add_argument("--encoding", default=default, metavar="NAME",
                        help="text encoding of the files read (default: utf-8, a BOM "
                             "allowed; e.g. latin-1, cp1252, utf-16)")


class _IntermixedParser(Parser):
    """Options may follow the sequences (``predict MODEL "a film" --proba``): plain
    argparse gives every positional its values at once, and words after an option
    would be left over."""

    _parsing = False

    def parse_known_args(self, args=None, namespace=None):
        self.built()
        if self._parsing:  # parse_known_intermixed_args calls this twice
            return super().parse_known_args(args, namespace)
        self._parsing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._parsing = False


def register(sub) -> None:
    sub.add_parser("classify", help="classify whole sequences (sentences, symbol strings)",
                   build=_build)


def _build(parser) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="command", metavar="ACTION", required=True,
                                    parser_class=_IntermixedParser)
    actions.add_parser("fit", help="train a SequenceClassifier on labelled DATA, write MODEL",
                       build=_build_fit, epilog=_DATA_HELP, formatter_class=raw)
    predict_parser = actions.add_parser(
        "predict", help="label and probability of each sequence (tab-separated)",
        epilog="Each TEXT, each line of --file FILE, or each line of standard input (TEXT "
               "-) is one sequence, split into tokens as in training (the model's "
               "analyzer and tokenizer). A model trained on real-valued series reads a "
               "series file (.ts, .csv, .tsv, .npy; --file FILE, or FILE as the one TEXT), "
               "one output line per sequence.",
        formatter_class=raw)
    predict_parser.add_argument("model", metavar="MODEL")
    predict_parser.add_argument("texts", nargs="*", metavar="TEXT",
                                help="a sequence to classify; - reads them from stdin")
    predict_parser.add_argument("--file", metavar="FILE", help="one sequence per line")
    predict_parser.add_argument("--proba", action="store_true",
                                help="every class's probability (columns named on the "
                                     "first line)")
    add_raw_text_option(predict_parser)
    add_encoding_option(predict_parser)
    add_missing_option(predict_parser)
    predict_parser.set_defaults(func=predict)
    eval_parser = actions.add_parser("evaluate", help="accuracy and per-class counts on DATA",
                                     epilog=_DATA_HELP, formatter_class=raw)
    eval_parser.add_argument("model", metavar="MODEL")
    _add_data(eval_parser, data_seed=1)
    eval_parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_missing_option(eval_parser)
    eval_parser.set_defaults(func=evaluate)


def _add_data(parser, *, data_seed: int) -> None:
    parser.add_argument("data", metavar="DATA",
                        help="text file (with --labels), rt-polarity folder, embedded-reber, "
                             "a .ts file, or a series file (with --labels)")
    parser.add_argument("--labels", metavar="LABELS",
                        help="one label per line, for a text file or a series file")
    add_format_option(parser)
    parser.add_argument("--n-pairs", type=number(int), default=1000, metavar="N",
                        help="embedded-reber: strings, each also swapped (default: 1000)")
    parser.add_argument("--data-seed", type=number(int), default=data_seed, metavar="N",
                        help=f"embedded-reber: seed of the strings (default: {data_seed})")
    add_encoding_option(parser)


def _build_fit(fit_parser) -> None:
    _add_data(fit_parser, data_seed=0)
    fit_parser.add_argument("--out", required=True, metavar="MODEL")
    pre = fit_parser.add_argument_group(
        "pretraining (Dai & Le 2015)",
        "Start the classifier's first recurrent layers and embedding from a model\n"
        "trained without labels, with the same --cell, --hidden-size,\n"
        "--embedding-dim and (a SequenceAutoencoder's) --tokenizer (--init-from:\n"
        "the pretrained model's, unless typed).")
    how = pre.add_mutually_exclusive_group()
    how.add_argument("--pretrain", choices=sorted(_PRETRAINERS),
                     help="first fit a sequence autoencoder (SA-LSTM) or a language model "
                          "(LM-LSTM) on DATA's sequences and the --unlabelled ones")
    how.add_argument("--init-from", metavar="MODEL",
                     help="a fitted SequenceAutoencoder or SequenceModel file")
    pre.add_argument("--unlabelled", action="append", default=[], metavar="FILE",
                     help="more sequences for --pretrain, one per line (repeatable)")
    pre.add_argument("--pretrain-max-iter", type=number(int), metavar="N",
                     default=argparse.SUPPRESS,
                     help="epochs of --pretrain (default: the pretraining model's own)")
    pre.add_argument("--pretrain-batch-size", type=number(int), metavar="N",
                     default=argparse.SUPPRESS,
                     help="minibatch size of --pretrain (default: the pretraining model's "
                          "own; the language model's is 1, online)")
    pre.add_argument("--pretrain-out", metavar="MODEL",
                     help="also write the pretrained model there")
    add_estimator_options(fit_parser, "SequenceClassifier")
    add_missing_option(fit_parser, "SequenceClassifier")
    fit_parser.set_defaults(func=fit)


# -- data ------------------------------------------------------------------------------------


def _lines(path, what: str = "sequence", *, encoding: str = "utf-8") -> list[str]:
    """The lines of a text file (or ``-``: standard input) in ``encoding`` (UTF-8 by
    default), stripped: see :func:`hiddenstate.datasets._lines.read_lines` (a BOM is no
    part of the first line, lines end at ``"\\n"`` only, a blank line, an empty file or
    bytes the encoding cannot decode are an error naming the file and line)."""
    from ..datasets._lines import read_lines

    return read_lines(path, what, encoding=encoding)


def _tokens(seqs: list, analyzer: str, tokenizer: str) -> list[list[str]]:
    """Token lists of ``seqs`` (strings split as the classifier's ``analyzer`` and
    ``tokenizer`` split them; token lists as they are)."""
    from ..estimators._tokens import as_token_sequences

    return as_token_sequences(seqs, analyzer=analyzer, tokenizer=tokenizer)


def _data(args, missing: str = "error") -> tuple[list, list[str]]:
    """``(sequences, labels)`` of DATA: real-valued sequences of a series file
    (:func:`_series`), the built-in embedded-reber task (symbol lists), else
    :func:`hiddenstate.datasets.load_labelled_text` (a labelled text file, its lines
    split by the classifier, or an rt-polarity folder, token lists); a text file of
    numbers only is refused (:func:`check_not_numeric`)."""
    from ..datasets import load_labelled_text

    if is_series(args.data, args.format):
        return _series(args, missing)
    if hasattr(args, "missing"):
        raise ValueError("--missing is for real-valued series; DATA is read as text")
    if _is_builtin(args.data):
        return _embedded_reber(args.n_pairs, args.data_seed)
    seqs, labels = load_labelled_text(args.data, args.labels, what="sequence",
                                      encoding=args.encoding)
    if args.format == "auto" and seqs and isinstance(seqs[0], str):
        check_not_numeric(seqs, args.data, labels=True)
    return seqs, labels


def _series(args, missing: str) -> tuple[list, list[str]]:
    """A series file's sequences and labels: a .ts file's own (``@classLabel true``), or
    --labels FILE's, one per sequence."""
    from .._errors import InputError
    from ..datasets._lines import canonical_label, read_labels

    read = read_series_data(args.data, getattr(args, "missing", missing),
                            encoding=args.encoding)
    if read.labels is not None:
        if read.labels.dtype.kind == "f":
            raise InputError("holds regression targets (@targetLabel true); classify needs "
                             "class labels", path=args.data)
        if args.labels is not None:
            raise InputError(f"holds its own class labels (@classLabel true): drop --labels "
                             f"{args.labels}", path=args.data)
        return read.sequences, [canonical_label(str(c)) for c in read.labels]
    if args.labels is None:
        what = ("has no class labels (@classLabel false)" if read.ts
                else "is a series file, its sequences unlabelled")
        raise InputError(f"{what}: give --labels FILE, one label per sequence",
                         path=args.data)
    labels = read_labels(args.labels, encoding=args.encoding)
    n = len(read.sequences)
    if len(labels) != n:
        raise InputError(f"{len(labels)} labels for the {n} sequences of {args.data} (a "
                         "blank line ends a sequence): give one label per sequence",
                         path=args.labels)
    return read.sequences, labels


def _is_builtin(data: str) -> bool:
    return data == "embedded-reber" and not Path(data).exists()


def _embedded_reber(n_pairs: int, seed: int) -> tuple[list[list[str]], list[str]]:
    """Each embedded Reber string, then the same with its second-to-last symbol swapped."""
    from ..datasets import make_long_range_pairs

    if n_pairs < 1:
        raise ValueError(f"--n-pairs must be at least 1, got {n_pairs}")
    seqs, y = make_long_range_pairs(n_pairs, seed)
    return seqs, ["consistent" if v else "swapped" for v in y]


# -- fit -------------------------------------------------------------------------------------

#: The classifier's settings a pretrained model fixes: (classifier name, name in
#: SequenceModel, name in SequenceAutoencoder).
_SHARED = (("cell", "cell", "cell"), ("hidden_size", "hidden_size", "n_components"),
           ("embedding_dim", "embedding_dim", "embedding_dim"))


def _adopt(kwargs: dict, source) -> dict:
    """``kwargs`` with the pretrained model's cell and sizes (and an autoencoder's
    tokenizer, the rule of its vocabulary's tokens) where the user typed none."""
    from ..estimators import SequenceModel

    column = 1 if isinstance(source, SequenceModel) else 2
    params = source.get_params()
    adopted = {names[0]: params[names[column]] for names in _SHARED if names[0] not in kwargs}
    if isinstance(source, SequenceModel) and "num_layers" not in kwargs:
        adopted["num_layers"] = params["num_layers"]
    if "tokenizer" in params and "tokenizer" not in kwargs:
        adopted["tokenizer"] = params["tokenizer"]
    return {**kwargs, **adopted}


def _init_from(path):
    from .._serialize import load
    from ..estimators import SequenceAutoencoder, SequenceModel

    model = load(path)
    if not isinstance(model, SequenceAutoencoder | SequenceModel):
        raise ValueError(f"{path}: --init-from needs a SequenceAutoencoder or SequenceModel "
                         f"file, this holds a {type(model).__name__}")
    return model


def _pretrain(args, seqs: list[list[str]], kwargs: dict):
    """The fitted pretraining model (on DATA's sequences and the unlabelled ones)."""
    from ..estimators import SequenceAutoencoder, SequenceClassifier, SequenceModel

    settings = SequenceClassifier(**kwargs).get_params()
    split = {"analyzer": settings["analyzer"], "tokenizer": settings["tokenizer"]}
    corpus = _tokens(list(seqs), **split)
    for path in args.unlabelled:
        corpus += _tokens(_lines(path, encoding=args.encoding), **split)
    shared = {k: settings[k] for k in ("embedding_dim", "min_count", "max_features",
                                       "random_state", "verbose")}
    shared.update({k: getattr(args, "pretrain_" + k) for k in ("max_iter", "batch_size")
                   if hasattr(args, "pretrain_" + k)})
    if args.pretrain == "sequence-ae":
        model = SequenceAutoencoder(n_components=settings["hidden_size"], cell=settings["cell"],
                                    tokenizer=settings["tokenizer"], **shared)
    else:
        model = SequenceModel(settings["cell"], hidden_size=settings["hidden_size"],
                              num_layers=settings["num_layers"], **shared)
    fit_save_report(model, args.pretrain_out, lambda: model.fit(corpus),
                    inputs=f"{len(corpus)} sequences",
                    trained=f"pretrained a {type(model).__name__} ({settings['cell']}) for")
    return model


def fit(args) -> int:
    from ..estimators import SequenceClassifier

    inputs = (args.data, args.labels, *args.unlabelled, args.init_from)
    check_out(args.out, *inputs)
    check_out(args.pretrain_out, *inputs, option="--pretrain-out")
    if args.pretrain_out and Path(args.pretrain_out).absolute() == Path(args.out).absolute():
        raise ValueError("--pretrain-out and --out name the same file: give two")
    if not args.pretrain:
        given = [flag for flag, typed in (
            ("--unlabelled", args.unlabelled), ("--pretrain-out", args.pretrain_out),
            ("--pretrain-max-iter", hasattr(args, "pretrain_max_iter")),
            ("--pretrain-batch-size", hasattr(args, "pretrain_batch_size"))) if typed]
        if given:
            raise ValueError(f"{given[0]} is for --pretrain sequence-ae|language-model")
    seqs, labels = _data(args)
    if is_series(args.data, args.format):
        typed = [flag for flag, given in (("--pretrain", args.pretrain),
                                          ("--init-from", args.init_from),
                                          ("--unlabelled", args.unlabelled)) if given]
        if typed:
            raise ValueError(f"{typed[0]} is for text; DATA is read as a real-valued series")
    kwargs = estimator_kwargs(args, SequenceClassifier)
    check_checkpoint_dir(kwargs.get("checkpoint_dir"))
    if _is_builtin(args.data) and "analyzer" not in kwargs:
        kwargs["analyzer"] = "char"  # symbol strings: predict reads "BTSXSE" symbol by symbol
    if args.init_from:
        source = _init_from(args.init_from)
        kwargs = _adopt(kwargs, source)
        kwargs["init_from"] = source
    elif args.pretrain:
        kwargs["init_from"] = _pretrain(args, seqs, kwargs)
    # The file holds the weights taken from init_from, not init_from itself.
    est = SequenceClassifier(**kwargs)
    fit_save_report(est, args.out, lambda: est.fit(seqs, labels), inputs=f"{len(seqs)} sequences",
                    notes=[lambda: f"training accuracy {est.score(seqs, labels):.4f}"])
    return 0


# -- predict and evaluate --------------------------------------------------------------------


def _load(path, *, series: bool | None = None):
    """The classifier in ``path``; with ``series`` (whether DATA is a real-valued
    series), refused when it reads the other kind."""
    from ..estimators import SequenceClassifier

    model = load_model(path, SequenceClassifier)
    reads_series = model.input_kind_ != "tokens"
    if series is not None and series != reads_series:
        if reads_series:
            raise ValueError(f"{path}: this classifier reads real-valued series (.ts, .csv, "
                             ".tsv, .npy), not text")
        raise ValueError(f"{path}: this classifier reads text, not a real-valued series "
                         "(--format text reads DATA as text)")
    return model


def _model_input(model, seqs: list):
    """Series as the model reads them: a model fitted on a 2-D array (one value per
    step, one length) reads one."""
    import numpy as np

    if model.input_kind_ == "table" and all(s.shape == (len(seqs[0]), 1) for s in seqs):
        return np.stack([s[:, 0] for s in seqs])
    return seqs


def _missing(args, model) -> str:
    """``--missing`` as typed, else the model's own setting (when it has one)."""
    return getattr(args, "missing", getattr(model, "missing", "error"))


def predict(args) -> int:
    if args.file and args.texts:
        raise ValueError("give sequences as TEXT arguments or --file FILE, not both")
    model = _load(args.model)
    if model.input_kind_ != "tokens":
        if args.file is None and (len(args.texts) != 1 or args.texts == ["-"]):
            raise ValueError(f"{args.model}: this classifier reads real-valued series: give "
                             "one series file (.ts, .csv, .tsv, .npy), as FILE or --file FILE")
        spec = args.file or args.texts[0]
        read = read_series_data(spec, _missing(args, model), encoding=args.encoding)
        proba = model.predict_proba(_model_input(model, read.sequences))
        _print_proba(args, model, proba)
        return 0
    if hasattr(args, "missing"):
        raise ValueError("--missing is for real-valued series; this classifier reads text")
    if args.file:
        lines = _lines(args.file, encoding=args.encoding)
    elif args.texts == ["-"]:
        lines = _lines("-", encoding=args.encoding)
    elif args.texts:
        lines = args.texts
    else:
        raise ValueError("nothing to classify: give TEXT ..., --file FILE, or - to read "
                         "standard input")
    for i, text in enumerate(lines):
        if not text.split():
            raise ValueError(f"TEXT {i + 1} is empty: give at least one token")
    proba = model.predict_proba(lines)  # split by the model's analyzer, as in training
    _print_proba(args, model, proba)
    return 0


def _print_proba(args, model, proba) -> None:
    from ..datasets import spreadsheet_safe

    # Labels as a spreadsheet shows them (never run as formulas), unless --raw-text.
    classes = [str(c) if args.raw_text else spreadsheet_safe(str(c)) for c in model.classes_]
    if args.proba:
        print("\t".join(["label", *classes]))
    for p in proba:
        k = int(p.argmax())
        values = p if args.proba else [p[k]]
        print("\t".join([classes[k], *(f"{v:.4f}" for v in values)]))


def evaluate(args) -> int:
    import numpy as np

    from .._errors import InputError

    model = _load(args.model, series=is_series(args.data, args.format))
    seqs, labels = _data(args, _missing(args, model))
    seqs = _model_input(model, seqs) if model.input_kind_ != "tokens" else seqs
    from ..datasets._lines import canonical_label

    classes = [str(c) for c in model.classes_]
    # A model trained before labels were read by value may spell a class "1.0".
    by_value = {canonical_label(c): c for c in classes}
    labels = [label if label in classes else by_value.get(label, label) for label in labels]
    unknown = next((i for i, label in enumerate(labels) if label not in classes), None)
    if unknown is not None:
        raise InputError(f"label {labels[unknown]!r} is not one of the model's classes "
                         f"{classes}", path=args.labels or args.data,
                         line=unknown + 1 if args.labels else None)
    y = np.asarray(labels)
    pred = np.asarray([str(c) for c in model.predict(seqs)])
    per_class = {c: {"sequences": int((y == c).sum()), "predicted": int((pred == c).sum()),
                     "correct": int(((y == c) & (pred == c)).sum())} for c in classes}
    result = {"sequences": len(y), "correct": int((y == pred).sum()),
              "accuracy": float((y == pred).mean()), "classes": per_class}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"accuracy {result['accuracy']:.4f} ({result['correct']} of {len(y)} sequences)")
    width = max(len("class"), *(len(c) for c in classes))
    print(f"{'class':<{width}}  sequences  predicted  correct  recall")
    for c, n in per_class.items():
        recall = f"{n['correct'] / n['sequences']:.4f}" if n["sequences"] else "-"
        print(f"{c:<{width}}  {n['sequences']:>9}  {n['predicted']:>9}  {n['correct']:>7}  "
              f"{recall:>6}")
    return 0
