"""``hiddenstate seqae``: the sequence autoencoder on a user's files - fit, transform (one
code per sequence), reconstruct and score (reconstruction error per sequence)."""

from __future__ import annotations

from pathlib import Path

from ._common import add_format_option, add_missing_option, is_series, load_model
from ._options import add_estimator_options, estimator_kwargs, number
from ._outputs import check_out, fit_save_report, write_or_print
from .classify import add_encoding_option

__all__ = ["register"]

_DATA_HELP = ("a real-valued series file (.ts: the UEA & UCR archive's format, its labels not "
              "used; .csv, .tsv, .npy: one row per step, one column per feature; blank lines "
              "separate sequences; a first column of times is not a feature; .npy: (T, F) one "
              "sequence, (N, T, F) N sequences) or a text file, one sequence per line "
              "(--analyzer word: words, split by the model's --tokenizer; char: every "
              "character a symbol; a file of numbers only is refused unless --format text)")


def register(sub) -> None:
    sub.add_parser("seqae", help="sequence autoencoder: one code per sequence, and its "
                   "reconstruction error", build=_build)


def _add_data_options(p, *, fit: bool) -> None:
    add_format_option(p)
    p.add_argument("--analyzer", choices=("word", "char"), default=None,
                   help="text: how a line splits into tokens, as at fit (default: word)")
    add_encoding_option(p, default=None)
    if fit:
        p.add_argument("--window", type=number(int), default=None, metavar="N",
                       help="series: train on every run of N steps instead of on each whole "
                            "series")
        p.add_argument("--stride", type=number(int), default=None, metavar="N",
                       help="series with --window: steps between window starts (default: 1)")


def _build(parser) -> None:
    actions = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    actions.add_parser("fit", help="train on DATA, write MODEL", build=_build_fit)
    for action, help_text in (
            ("transform", "one code per sequence of DATA (rows: sequences)"),
            ("score", "reconstruction error per sequence of DATA (higher: more unusual)")):
        p = actions.add_parser(action, help=help_text)
        p.add_argument("model", metavar="MODEL")
        p.add_argument("data", metavar="DATA", help=_DATA_HELP)
        p.add_argument("--out", metavar="FILE",
                       help="write a table (.csv, .tsv, .npy) instead of printing")
        _add_data_options(p, fit=False)
        add_missing_option(p)
        p.set_defaults(func=apply)


def _build_fit(fit_parser) -> None:
    fit_parser.add_argument("data", metavar="DATA", help=_DATA_HELP)
    fit_parser.add_argument("--out", required=True, metavar="MODEL", help="model file to write")
    _add_data_options(fit_parser, fit=True)
    add_estimator_options(fit_parser, "SequenceAutoencoder")
    add_missing_option(fit_parser, "SequenceAutoencoder")
    fit_parser.set_defaults(func=fit)


def _read(args, *, trained_on_text: bool | None = None, window=None, stride=None,
          missing: str = "error"):
    """DATA as the model reads it: a list of (T, F) arrays, or of token lists."""
    from .._errors import InputError
    from ._common import check_not_numeric, read_series_data

    series = is_series(args.data, args.format)
    if trained_on_text is not None and series == trained_on_text:
        what = "text (token sequences)" if trained_on_text else "real-valued series"
        raise InputError(f"this model was trained on {what}; give DATA of that kind "
                         "(or --format)")
    typed = [option for option, given in (
        ("--analyzer", args.analyzer is not None), ("--encoding", args.encoding is not None),
        ("--tokenizer", hasattr(args, "tokenizer"))) if given]
    if series:
        if Path(args.data).suffix.lower() == ".ts":  # a text format: its encoding may be given
            typed = [t for t in typed if t != "--encoding"]
        if typed:
            raise InputError(f"{typed[0]} is for text; DATA is read as a series")
        from ..datasets._series import windows

        seqs = read_series_data(args.data, getattr(args, "missing", missing),
                                encoding=args.encoding).sequences
        if window is not None:
            seqs = windows(seqs, window, 1 if stride is None else stride)
            return [w[:-1] for w in seqs]  # the run of `window` steps
        return seqs
    if window is not None or stride is not None:
        raise InputError("--window and --stride are for real-valued series; DATA is read as "
                         "text (give --format series for a series file)")
    if hasattr(args, "missing"):
        raise InputError("--missing is for real-valued series; DATA is read as text")
    from .classify import _lines

    lines = _lines(args.data, encoding=args.encoding or "utf-8")
    if args.format == "auto":
        check_not_numeric(lines, args.data)
    if (args.analyzer or "word") == "char":
        if "--tokenizer" in typed:
            raise InputError("--tokenizer splits words; --analyzer char makes every "
                             "character a symbol")
        return [list(s) for s in lines]
    return lines  # the model splits them by its tokenizer, at fit and at every later command


def fit(args) -> int:
    from ..estimators import SequenceAutoencoder

    check_out(args.out, args.data)
    X = _read(args, window=args.window, stride=args.stride)
    est = SequenceAutoencoder(**estimator_kwargs(args, SequenceAutoencoder))
    fit_save_report(est, args.out, lambda: est.fit(X), inputs=f"{len(X)} sequences")
    return 0


def apply(args) -> int:
    import numpy as np

    from ..estimators import SequenceAutoencoder

    check_out(args.out, args.data, args.model, table=True)
    model = load_model(args.model, SequenceAutoencoder)
    X = _read(args, trained_on_text=model.vocabulary_ is not None,
              missing=getattr(model, "missing", "error"))
    if args.command == "transform":
        codes = model.transform(X)
        write_or_print(codes, args.out, [f"code{j}" for j in range(codes.shape[1])])
    else:
        errors = model.reconstruction_error(X)
        write_or_print(np.column_stack([np.arange(len(errors)), errors]), args.out,
                               ["sequence", "reconstruction_error"])
    return 0
