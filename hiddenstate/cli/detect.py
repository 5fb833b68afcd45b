"""``hiddenstate detect``: anomaly detection with a calibrated false-alarm rate
(``AnomalyDetector``): fit on normal data, score new data row by row or sequence by sequence."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import (
    BUILTIN_DATA,
    add_format_option,
    add_header_option,
    add_missing_option,
    add_preparation_options,
    check_not_numeric,
    fit_preparation,
    frame,
    is_series,
    load_prepared,
    preparation_used,
    read_data,
    read_prepared,
    read_series_data,
)
from ._options import (
    Parser,
    _insane,
    add_estimator_options,
    estimator_kwargs,
    estimator_options,
    number,
    option_names,
)
from ._outputs import add_raw_text_option, check_checkpoint_dir, check_out, fit_save_report
from .classify import add_encoding_option

__all__ = ["register"]

#: ``--model`` names and the estimator each one trains.
MODELS = {"autoencoder": "Autoencoder", "sequence-ae": "SequenceAutoencoder",
          "sequence-model": "SequenceModel"}
DEFAULT_MODEL = "autoencoder"
#: Built-in sequence data (``--n-strings`` strings drawn with ``--data-seed``).
BUILTIN_SEQUENCES = "embedded-reber"
BUILTIN_STRINGS = 1000
#: Options that only the sequence models take (named in the error for an autoencoder).
_SEQUENCE_ONLY = {"--analyzer": ("sequence-ae", "sequence-model"),
                  "--n-strings": ("sequence-ae", "sequence-model"),
                  "--data-seed": ("sequence-ae", "sequence-model"),
                  "--alphabet": ("sequence-model",),
                  "--encoding": ("sequence-ae", "sequence-model"),
                  "--format": ("sequence-ae", "sequence-model")}
#: The autoencoder's options for tables: refused by name for a sequence model that has
#: no setting of that name (a SequenceAutoencoder has its own ``--scale``).
_TABLE_ONLY = ("--scale", "--columns", "--drop", "--id-column", "--header", "--no-header")
#: The detector's own settings; ``random_state`` is the model's ``--random-state``.
_DETECTOR_OPTIONS = {
    "contamination": "false-alarm rate: flag inputs whose conformal p-value is at most this "
                     "(auto: 0.01 with at least 99 calibration inputs, else 1/(n+1))",
    "calibration_fraction": "share of DATA held out to calibrate the threshold, when no "
                            "--calibration FILE is given",
    "aggregate": "how an input's per-feature or per-step errors become its score (max: "
                 "anomalies confined to one step or feature; sum: a sequence's whole "
                 "negative log-likelihood)",
}

_FIT_EPILOG = """\
DATA is one of:
  a table        .csv, .tsv, .txt or .npy (--model autoencoder; a header line
                 names the features, and explanations use the names), or a
                 built-in table: {tables};
  a text file    one sequence per line (--model sequence-ae or sequence-model,
                 UTF-8 or --encoding, e.g. latin-1; no blank lines): with
                 --analyzer char (the default) every character is a symbol
                 (BTSXSE); with --analyzer word a sequence-ae splits the
                 words by its --tokenizer (lower-cased, punctuation split
                 off, by default), a sequence-model on whitespace; a file of
                 numbers only is refused unless --format text;
  a series file  --model sequence-ae or sequence-model: a .ts file (the UEA &
                 UCR archive's format; its labels not used) or .csv, .tsv,
                 .npy (one row per step, one column per feature, a blank
                 line between sequences; a first column of times is not a
                 feature): real-valued sequences, scored per step;
  {builtin} built in: --n-strings embedded Reber strings (default
                 {n}) drawn with --data-seed (sequence models).
DATA should hold normal inputs only. The model trains on DATA less the
--calibration-fraction held out (or on all of DATA with --calibration FILE);
the held-out inputs set the threshold, so --contamination is the rate of
false alarms on normal inputs like them. --random-state seeds both the model
and the held-out draw. Each --model has its own settings: `hiddenstate detect
fit --model sequence-model --help` lists them."""

_SCORE_EPILOG = """\
One output row per input of DATA, in order (CSV: on standard output, or in
--out FILE, .csv or .tsv): index (0-based; a text file's line is index + 1),
score (higher = more normal), p_value (the conformal p-value against the
calibration scores), outlier (1 when p_value <= the contamination in effect,
else 0) and, unless --top 0, top_features or top_steps: the K features or
steps with the largest error, largest first, as "name=error; name=error"
(steps as "position:symbol=error", position 0 being a sequence's first
symbol and </s> a token sequence's end; the error is a sequence-model's
surprisal in nats, a sequence-ae's reconstruction error). DATA is read as in
`detect fit`."""


class _FitParser(Parser):
    """The ``fit`` parser: ``--model`` is read first, then the options of that model are
    built (two phases), so ``--model sequence-model --help`` shows the SequenceModel's."""

    model_name = DEFAULT_MODEL

    def __init__(self, *args, model_option: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.model_option = model_option

    def parse_known_args(self, args=None, namespace=None):
        if not self.model_option:
            return super().parse_known_args(args, namespace)
        if self._build is not None:
            self.model_name = _model_in(sys.argv[1:] if args is None else list(args))
        namespace, extras = super().parse_known_args(args, namespace)
        if getattr(namespace, "model", self.model_name) != self.model_name:
            self.error(f"write --model {namespace.model} in full")
        for arg in extras:
            flag = arg.split("=", 1)[0]
            owners = _owners(flag)
            if owners == ("autoencoder",) and flag in _TABLE_ONLY:
                self.error(f"{flag} is for tables (--model autoencoder) only, not for "
                           f"--model {self.model_name} (sequences)")
            if owners and self.model_name not in owners:
                self.error(f"{flag} is a setting of --model {' or '.join(owners)}, not of "
                           f"--model {self.model_name}")
        return namespace, extras


def _model_in(args: list[str]) -> str:
    """The ``--model`` among ``args`` (the default when absent or misspelt: the full
    parse then reports it)."""
    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    pre.add_argument("--model", default=DEFAULT_MODEL)
    try:
        known, _ = pre.parse_known_args(args)
    except argparse.ArgumentError:
        return DEFAULT_MODEL
    return known.model if known.model in MODELS else DEFAULT_MODEL


def _owners(flag: str) -> tuple[str, ...]:
    """The ``--model`` names that have option ``flag``."""
    if flag in _SEQUENCE_ONLY:
        return _SEQUENCE_ONLY[flag]
    if flag == "--missing":  # series (the sequence models), and a model's own setting
        return tuple(m for m in MODELS if m != "autoencoder"
                     or "missing" in option_names(MODELS[m]))
    if not flag.startswith("--"):
        return ()
    name = flag[2:].replace("-", "_")
    if name.startswith("no_"):  # --no-tied, --no-shuffle
        name = name[3:]
    owners = tuple(m for m in MODELS if name in option_names(MODELS[m]))
    if flag in _TABLE_ONLY:  # the autoencoder's table options (preparation, header)
        owners = ("autoencoder", *(m for m in owners if m != "autoencoder"))
    return owners


def _model_class(name: str):
    from .. import estimators

    return getattr(estimators, MODELS[name])


def register(sub) -> None:
    sub.add_parser("detect", help="anomaly detection with a calibrated false-alarm rate: fit "
                                  "on normal data, score new data", build=_build)


def _build(parser) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    actions = parser.add_subparsers(dest="command", metavar="ACTION", required=True,
                                    parser_class=_FitParser)
    epilog = _FIT_EPILOG.format(tables=", ".join(BUILTIN_DATA), n=BUILTIN_STRINGS,
                                builtin=f"{BUILTIN_SEQUENCES:<14}")
    actions.add_parser("fit", help="train a model on normal DATA and calibrate its "
                                   "threshold, write DET",
                       build=_build_fit, model_option=True, epilog=epilog, formatter_class=raw)
    actions.add_parser("score", help="score, p-value, outlier flag and top features or steps "
                                     "of each input of DATA",
                       build=_build_score, epilog=_SCORE_EPILOG, formatter_class=raw)


def _build_score(p) -> None:
    p.add_argument("detector", metavar="DET", help="a detector file written by `detect fit`")
    p.add_argument("data", metavar="DATA", help="a table, a text file of sequences (one per "
                                                 "line), or a built-in data set")
    p.add_argument("--out", metavar="FILE", help=".csv or .tsv (default: CSV on stdout)")
    add_raw_text_option(p)
    add_header_option(p)
    p.add_argument("--top", type=_count, default=3, metavar="K",
                   help="features or steps named per input (default: 3; 0: no column)")
    p.add_argument("--contamination", type=_contamination, metavar="auto|X",
                   default=argparse.SUPPRESS,
                   help="the false-alarm rate for this call (default: the detector's own); "
                        "the threshold moves, nothing is retrained")
    p.add_argument("--aggregate", choices=["mean", "sum", "max"], default=argparse.SUPPRESS,
                   help="how an input's errors become its score, for this call (default: the "
                        "detector's own); the file holds the calibration of each, nothing "
                        "is retrained")
    p.add_argument("--analyzer", choices=["char", "word"], default=argparse.SUPPRESS,
                   help="how a line becomes a sequence (default: as in training)")
    add_encoding_option(p, default=None)
    add_format_option(p)
    add_missing_option(p)
    _add_builtin_options(p, data_seed=1)
    p.set_defaults(func=score)


def _contamination(text: str):
    """'auto' or a rate in (0, 0.5], as the detector's constraint (the estimators, hence
    JAX, are not imported for ``score --help``)."""
    if text == "auto":
        return text
    try:
        value = None if _insane(text) else float(text)
    except ValueError:
        value = None
    if value is None or not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a float in the range (0.0, "
                                         f"0.5], got {text!r}{_insane(text)}")
    return value


def _count(text: str) -> int:
    try:
        value = -1 if _insane(text) else int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a count (0 or more), got {text!r}"
                                         f"{_insane(text)}")
    return value


def _add_builtin_options(parser, *, data_seed: int) -> None:
    group = parser.add_argument_group(f"built-in {BUILTIN_SEQUENCES} data")
    group.add_argument("--n-strings", type=_count, default=argparse.SUPPRESS, metavar="N",
                       help=f"strings to draw (default: {BUILTIN_STRINGS})")
    group.add_argument("--data-seed", type=number(int), default=argparse.SUPPRESS, metavar="N",
                       help=f"seed of the strings (default: {data_seed})")
    parser.set_defaults(builtin_seed=data_seed)


def _build_fit(fit_parser: _FitParser) -> None:
    name = fit_parser.model_name
    cls = MODELS[name]  # the estimator's name in the option table: nothing is imported
    fit_parser.add_argument("data", metavar="DATA", help="normal inputs: a table, a text file "
                                                         "of sequences, or a built-in name")
    fit_parser.add_argument("--model", choices=list(MODELS), default=DEFAULT_MODEL,
                            help=f"what scores the inputs (default: {DEFAULT_MODEL}): an "
                                 f"Autoencoder's reconstruction error per feature (rows), a "
                                 f"SequenceAutoencoder's per step, or a SequenceModel's "
                                 f"surprisal per step (sequences)")
    fit_parser.add_argument("--out", required=True, metavar="DET",
                            help="detector file to write")
    fit_parser.add_argument("--calibration", metavar="FILE",
                            help="normal inputs the model does not train on, to set the "
                                 "threshold (default: --calibration-fraction of DATA)")
    detector = fit_parser.add_argument_group(
        "AnomalyDetector settings",
        "Each defaults to the detector's own default; --random-state (below) also seeds "
        "the held-out draw.")
    settings = estimator_options("AnomalyDetector")
    for option, help_text in _DETECTOR_OPTIONS.items():
        forms, default = settings[option].forms, settings[option].default
        detector.add_argument("--" + option.replace("_", "-"), type=forms,
                              metavar=forms.metavar(), default=argparse.SUPPRESS,
                              help=f"{help_text} (default: {default})")
    if name == "autoencoder":
        add_header_option(fit_parser)
        add_preparation_options(fit_parser)
    else:
        seq = fit_parser.add_argument_group("sequences")
        seq.add_argument("--analyzer", choices=["char", "word"], default=argparse.SUPPRESS,
                         help="char: every character of a line is a symbol (default); word: "
                              "tokens split on whitespace")
        if name == "sequence-model":
            seq.add_argument("--alphabet", metavar="SYMBOLS",
                             help="--analyzer char: every symbol the model knows (default: "
                                  "those in DATA)")
        add_encoding_option(seq, default=None)
        add_format_option(seq)
        _add_builtin_options(fit_parser, data_seed=0)
    add_estimator_options(fit_parser, cls)
    if name != "autoencoder":
        add_missing_option(fit_parser, cls)
    fit_parser.set_defaults(func=fit)


# -- data ------------------------------------------------------------------------------------


class _Table:
    """Rows of a table file: values, column names (or None) and where they came from."""

    def __init__(self, spec: str, header: bool | None = None, prepared=None):
        self.spec = spec
        self.ids = None
        if prepared is None:
            self.X, self.columns = read_data(spec, header)
        else:
            self.X, self.columns, self.ids = prepared
        self.n = int(self.X.shape[0])


class _Lines:
    """Sequences, one per line of a text file (or drawn from the built-in data)."""

    def __init__(self, spec: str, analyzer: str, n_strings: int, data_seed: int,
                 encoding: str | None = None):
        from .classify import _lines

        self.spec, self.analyzer = spec, analyzer
        if _is_builtin(spec):
            import numpy as np

            from ..datasets import make_embedded_reber

            if encoding is not None:
                raise ValueError(f"--encoding is for files; {BUILTIN_SEQUENCES} is built in")
            if n_strings < 1:
                raise ValueError(f"--n-strings must be at least 1, got {n_strings}")
            if analyzer == "word":
                raise ValueError(f"{BUILTIN_SEQUENCES} strings are symbol strings: drop "
                                 "--analyzer word")
            self.lines = make_embedded_reber(n_strings, np.random.default_rng(data_seed))
            self.path = None
        else:
            self.lines = _lines(spec, encoding=encoding or "utf-8")
            self.path = spec
        self.n = len(self.lines)

    def inputs(self, kind: str, tokenizer: str = "whitespace") -> list:
        """What the model reads: symbol strings (a SequenceModel with char), else token
        lists (characters with char; with word, the words ``tokenizer`` splits: a
        SequenceAutoencoder's own setting, whitespace for a SequenceModel, which has
        none)."""
        from ..estimators._tokens import tokenize

        if kind == "sequence-model" and self.analyzer == "char":
            return list(self.lines)
        if self.analyzer == "char":
            return [list(s) for s in self.lines]
        return [tokenize(s, tokenizer) for s in self.lines]

    def where(self, exc):
        """``exc``, an error about the n-th sequence, re-raised naming the file and line."""
        from .._errors import InputError

        if not isinstance(exc, InputError) or exc.index is None:
            return exc
        if self.path is None:
            return InputError(exc.message, path=self.spec, index=exc.index, column=exc.column)
        return InputError(exc.message, path=self.path, line=exc.index + 1, column=exc.column)

    def check_strings(self, alphabet: str) -> None:
        """Symbol strings for a SequenceModel: at least 2 symbols each, all in ``alphabet``."""
        from .._errors import InputError

        allowed = set(alphabet)
        for i, s in enumerate(self.lines):
            if len(s) < 2:
                raise self.where(InputError("a string needs at least 2 symbols (an input "
                                            "and a next one)", index=i))
            for j, ch in enumerate(s):
                if ch not in allowed:
                    raise self.where(InputError(
                        f"symbol {ch!r} is not in the alphabet {alphabet!r}", index=i,
                        column=j + 1))


class _Series:
    """Real-valued sequences of a series file (a .ts file's labels are not used)."""

    def __init__(self, spec: str, args):
        typed = [flag for flag, given in (("--analyzer", hasattr(args, "analyzer")),
                                          ("--alphabet", getattr(args, "alphabet", None)))
                 if given]
        if typed:
            raise ValueError(f"{typed[0]} is for text; {spec} is read as a real-valued series")
        if args.encoding is not None and Path(spec).suffix.lower() != ".ts":
            raise ValueError(f"--encoding is for text and .ts files; {spec} is read as a "
                             "series")
        self.spec = self.path = spec
        self.read = read_series_data(spec, getattr(args, "missing", "error"),
                                     encoding=args.encoding)
        self.n = len(self.read.sequences)

    def inputs(self, kind: str, tokenizer: str = "whitespace") -> list:
        return self.read.sequences

    def where(self, exc):
        return self.read.where(exc)


def _is_builtin(spec: str) -> bool:
    return spec == BUILTIN_SEQUENCES and not Path(spec).exists()


def _read(spec: str, kind: str, args, analyzer: str):
    """DATA as a :class:`_Table` (autoencoder) or :class:`_Lines` (sequence models)."""
    typed = [f"--{n.replace('_', '-')}" for n in ("n_strings", "data_seed") if hasattr(args, n)]
    if kind == "autoencoder":
        if _is_builtin(spec) or Path(spec).suffix.lower() == ".ts":
            raise ValueError(f"{spec} is sequence data: use --model sequence-ae or "
                             f"sequence-model (tables: a file or {', '.join(BUILTIN_DATA)})")
        if getattr(args, "prepare", False):
            return _Table(spec, prepared=read_prepared(
                spec, args.header, columns=args.columns, drop=args.drop,
                id_column=args.id_column))
        return _Table(spec, getattr(args, "header", None))
    if typed and not _is_builtin(spec):
        raise ValueError(f"{typed[0]} is for the built-in {BUILTIN_SEQUENCES} data, not "
                         f"a file ({spec})")
    fmt = getattr(args, "format", "auto")
    if is_series(spec, fmt):
        return _Series(spec, args)
    if hasattr(args, "missing"):
        raise ValueError(f"--missing is for real-valued series; {spec} is read as text")
    lines = _Lines(spec, analyzer, getattr(args, "n_strings", BUILTIN_STRINGS),
                   getattr(args, "data_seed", args.builtin_seed), args.encoding)
    if fmt == "auto" and lines.path is not None:
        check_not_numeric(lines.lines, spec)
    return lines


# -- fit -------------------------------------------------------------------------------------


def fit(args) -> int:
    from ..estimators import AnomalyDetector
    from ..estimators._anomaly import (
        CalibrationError,
        expected_false_alarms,
        false_alarm_interval,
    )

    check_out(args.out, args.data, args.calibration)
    kind = args.model
    cls = _model_class(kind)
    analyzer = getattr(args, "analyzer", "char")
    model_kwargs = estimator_kwargs(args, cls)
    check_checkpoint_dir(model_kwargs.get("checkpoint_dir"))
    det_kwargs = {k: getattr(args, k) for k in _DETECTOR_OPTIONS if hasattr(args, k)}
    if "random_state" in model_kwargs:
        det_kwargs["random_state"] = model_kwargs["random_state"]
    det = AnomalyDetector(cls(**model_kwargs), **det_kwargs)
    args.prepare = kind == "autoencoder" and preparation_used(args)
    data = _read(args.data, kind, args, analyzer)
    cal = _read_calibration(args, kind, analyzer, data)
    fit_params = {}
    try:
        n_train, n_cal = det.check_calibration(data.n, None if cal is None else cal.n)
    except CalibrationError as exc:
        raise ValueError(_fit_too_few(exc, args, det)) from None
    scaler = None
    if args.prepare:
        X, calibration, scaler = _prepared_split(args, det, data, cal, n_cal)
    elif kind == "autoencoder":
        X = frame(data.X, data.columns)
        calibration = None if cal is None else _calibration_table(data, cal)
    elif isinstance(data, _Series):
        if "tokenizer" in model_kwargs:
            raise ValueError("--tokenizer splits text; DATA is read as a real-valued series")
        if kind == "sequence-model":  # as `rnn fit` on a series: it predicts the next values
            if model_kwargs.get("output", "linear") != "linear":
                raise ValueError(f"a series model predicts values: --output linear, not "
                                 f"{model_kwargs['output']}")
            det.model.set_params(output="linear")
        X = data.inputs(kind)
        calibration = None if cal is None else cal.inputs(kind)
    else:
        if analyzer == "char" and "tokenizer" in model_kwargs:
            raise ValueError("--tokenizer splits words; --analyzer char makes every "
                             "character a token")
        tokenizer = getattr(det.model, "tokenizer", "whitespace")
        X = data.inputs(kind, tokenizer)
        calibration = None if cal is None else cal.inputs(kind, tokenizer)
        if kind == "sequence-model" and analyzer == "char":
            # One alphabet for the trained part and the held-out part of DATA alike.
            alphabet = args.alphabet or "".join(sorted(set("".join(data.lines))))
            data.check_strings(alphabet)
            if cal is not None:
                cal.check_strings(alphabet)
            fit_params["alphabet"] = alphabet
        elif getattr(args, "alphabet", None):
            raise ValueError("--alphabet is for --analyzer char (symbol strings)")
    print(f"AnomalyDetector({MODELS[kind]}) on {args.data}: {n_train} inputs to train, "
          f"{n_cal} to calibrate"
          + (f" ({args.calibration})" if cal is not None else " (held out)"), file=sys.stderr)
    preparation = None
    if args.prepare:
        preparation = {"scaler": scaler, "columns": data.columns, "id_column": args.id_column}

    def report(seconds: float) -> str:
        n = det.calibration_scores_.size
        expected = expected_false_alarms(det.contamination_, n)
        low, high = false_alarm_interval(det.contamination_, n)
        return (f"contamination_ {det.contamination_:.4g} ({_rate_note(det)}); threshold "
                f"offset_ {det.offset_:.6g} (aggregate {det.aggregate}); false alarms expected "
                f"on normal inputs {expected:.2%} (95% of draws of {n} calibration inputs "
                f"give {low:.1%} to {high:.1%}); {seconds:.1f} s; wrote {args.out}")

    fit_save_report(det, args.out, lambda: det.fit(X, calibration=calibration, **fit_params),
                    preparation=preparation, report=report)
    return 0


def _read_calibration(args, kind: str, analyzer: str, data):
    """The --calibration inputs (None without it), read as DATA was."""
    if args.calibration is None:
        return None
    if args.calibration in BUILTIN_DATA + (BUILTIN_SEQUENCES,) and not Path(
            args.calibration).exists():
        raise ValueError(f"--calibration {args.calibration}: give a file of normal "
                         f"inputs the model does not train on")
    if args.prepare:  # the columns DATA gave, found by name
        return _Table(args.calibration, prepared=read_prepared(
            args.calibration, args.header, columns=data.columns, id_column=args.id_column))
    if kind == "autoencoder":
        return _Table(args.calibration, args.header)
    if is_series(args.calibration, args.format) != isinstance(data, _Series):
        what = "a real-valued series" if isinstance(data, _Series) else "text"
        raise ValueError(f"--calibration {args.calibration}: DATA is read as {what}; give "
                         "the calibration inputs in the same kind of file")
    if isinstance(data, _Series):
        return _Series(args.calibration, args)
    lines = _Lines(args.calibration, analyzer, 0, 0, args.encoding)
    if args.format == "auto":
        check_not_numeric(lines.lines, args.calibration)
    return lines


def _prepared_split(args, det, data: _Table, cal: _Table | None, n_cal: int):
    """``(training rows, calibration rows, scaler)`` with the scaler fitted on the
    training rows only. Without --calibration the rows are held out as the detector
    itself would (the same seeded draw), and given to it as its calibration."""
    import numpy as np

    if cal is not None:
        train, held = data.X, cal.X
    else:
        seed = det.random_state
        if seed is None:  # one draw for the split here; the detector is given both parts
            seed = int(np.random.default_rng().integers(2**32 - 1))
            det.set_params(random_state=seed)
        order = np.random.default_rng(seed).permutation(data.n)
        train, held = data.X[np.sort(order[n_cal:])], data.X[np.sort(order[:n_cal])]
    scaler, X = fit_preparation(args, train, data.columns)
    calibration = frame(held, data.columns)
    if scaler is not None:
        calibration = scaler.transform(calibration)
    return X, calibration, scaler


def _too_few(exc) -> str:
    """The rate part of the detector's :class:`CalibrationError` ``exc``, in the words of
    the options."""
    needed = f"{exc.needed}" if exc.needed < 10**9 else f"{exc.needed:.3g}"  # not 30 digits
    return (f"--contamination {exc.contamination:g} needs at least {needed} calibration "
            f"inputs (the smallest p-value of n is 1/(n+1))")


def _fit_too_few(exc, args, det) -> str:
    """``detect fit``'s words for ``exc``: which option holds the calibration inputs, and
    the smallest --contamination they allow."""
    fraction, n_cal = det.calibration_fraction, exc.n_calibration
    if exc.contamination is None:  # too few to split DATA
        return (f"{args.data}: {exc.n_samples} inputs are too few to hold out "
                f"--calibration-fraction {fraction:g} of them and train on the rest; give "
                f"more data or --calibration FILE")
    if args.calibration is not None:
        held = f"--calibration {args.calibration} has {n_cal}: give more inputs there"
    else:
        held = (f"--calibration-fraction {fraction:g} of DATA's {exc.n_samples} inputs "
                f"holds out {n_cal}: give more data, a larger --calibration-fraction or "
                f"--calibration FILE")
    return f"{_too_few(exc)}; {held}, or --contamination {exc.smallest:g} or more"


def _rate_note(det) -> str:
    n = det.calibration_scores_.size
    if det.contamination != "auto":
        return "as asked"
    if det.contamination_ > 0.01:
        return f"auto: 1/({n}+1), the smallest rate {n} calibration inputs allow"
    return "auto"


def _calibration_table(data: _Table, cal: _Table):
    """The calibration rows, with DATA's column names; their width and names checked
    before training."""
    from .._errors import InputError

    width, cal_width = data.X.shape[1], cal.X.shape[1]
    if cal_width != width:
        raise InputError(f"{cal_width} columns, DATA ({data.spec}) has {width}", path=cal.spec)
    if data.columns and cal.columns and list(cal.columns) != list(data.columns):
        raise InputError(f"columns {_names(cal.columns)} differ from DATA's "
                         f"{_names(data.columns)}", path=cal.spec)
    return frame(cal.X, data.columns)


def _names(columns, limit: int = 6) -> str:
    shown = ", ".join(str(c) for c in list(columns)[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


# -- score -----------------------------------------------------------------------------------


def score(args) -> int:
    import numpy as np

    from ..estimators import AnomalyDetector

    out_format = _out_format(args.out)
    check_out(args.out, args.detector, args.data)
    loaded = load_prepared(args.detector, AnomalyDetector)
    det = loaded.estimator
    if hasattr(args, "aggregate"):
        det.set_params(aggregate=args.aggregate)
    if hasattr(args, "contamination"):
        from ..estimators._anomaly import CalibrationError, check_contamination

        try:
            check_contamination(args.contamination, det.calibration_scores_.size)
        except CalibrationError as exc:
            raise ValueError(f"{_too_few(exc)}; this detector has {exc.n_calibration}: use "
                             f"--contamination {exc.smallest:g} or more, or fit it again "
                             f"with more calibration inputs") from None
        det.set_params(contamination=args.contamination)
    name = _model_name(det)
    # How DATA is read: as a table for a model of rows, else as that model's sequences.
    kind = "autoencoder" if det.model_.item_unit == "feature" else name
    if kind == "autoencoder":
        typed = [f"--{n.replace('_', '-')}" for n in ("analyzer", "n_strings", "data_seed",
                                                      "missing") if hasattr(args, n)] + (
            ["--encoding"] if args.encoding is not None else []) + (
            ["--format"] if args.format != "auto" else [])
        if typed:
            raise ValueError(f"{typed[0]} is for sequences; {args.detector} holds "
                             f"{_a(name)} {name} detector (rows)")
    elif args.header is not None:
        flag = "--header" if args.header else "--no-header"
        raise ValueError(f"{flag} is for tables; {args.detector} holds {_a(name)} {name} "
                         f"detector (sequences)")
    analyzer = getattr(args, "analyzer", None) or _trained_analyzer(det)
    if loaded.columns is not None or loaded.id_column is not None or loaded.scalers:
        data = _Table(args.data, prepared=loaded.read(args.data, args.header, args.detector,
                                                      ids_optional=True))
        X = loaded.prepare(data)
        if loaded.id_column is not None and data.ids is None:
            data.ids = [str(i) for i in range(data.n)]
            print(f"hiddenstate: note: {args.data} has no column {loaded.id_column!r} (the "
                  f"detector's id column): its ids are the row numbers", file=sys.stderr)
    elif kind == "autoencoder":
        data = _read(args.data, kind, args, analyzer)
        X = _score_table(det, data)
    else:
        _check_series_model(det, args)
        data = _read(args.data, kind, args, analyzer)
        X = data.inputs(kind, getattr(det.model_, "tokenizer", "whitespace"))
        _warn_unknown_tokens(det, X, args.data)
    try:
        scores = det.score_samples(X)
        pvalues = det.pvalues(X)
        top = det.explain(X, top=args.top).to_strings() if args.top else None
    except ValueError as exc:
        raise data.where(exc) if isinstance(data, _Lines) else exc from None
    outlier = scores < det.offset_  # predict's rule: p-value <= contamination_
    ids = getattr(data, "ids", None)
    header = ([loaded.id_column] if ids is not None else []) + ["index", "score", "p_value",
                                                                  "outlier"]
    if top is not None:
        header.append("top_features" if kind == "autoencoder" else "top_steps")
    rows = []
    for i in range(len(scores)):
        row = ([ids[i]] if ids is not None else []) + [
            i, f"{scores[i]:.7g}", f"{pvalues[i]:.6g}", int(outlier[i])]
        rows.append(row if top is None else [*row, top[i]])
    if args.out is None:
        _write_rows(sys.stdout, out_format, header, rows, args.raw_text)
    else:
        from .._io import atomic_write

        with atomic_write(args.out, "w", newline="", encoding="utf-8") as handle:
            _write_rows(handle, out_format, header, rows, args.raw_text)
    n_flagged = int(np.sum(outlier))
    wrote = f"; wrote {args.out}" if args.out else ""
    print(f"{n_flagged} of {len(scores)} inputs flagged ({n_flagged / len(scores):.1%}) at "
          f"contamination {det.contamination_:.4g} (threshold offset_ {det.offset_:.6g})"
          f"{wrote}", file=sys.stderr)
    return 0


def _check_series_model(det, args) -> None:
    """DATA of the kind the detector's model read: real-valued series, or text."""
    series = det.model_._input_kind() == "sequences"
    if is_series(args.data, args.format) != series:
        what = "real-valued series (.ts, .csv, .tsv, .npy)" if series else "text"
        raise ValueError(f"{args.detector}: this detector's model reads {what}; {args.data} "
                         f"is read as {'text' if series else 'a series'} (see --format)")
    if series and hasattr(args, "analyzer"):
        raise ValueError(f"--analyzer is for text; {args.detector}'s model reads series")


def _write_rows(handle, out_format: str, header: list[str], rows: list[list],
                raw_text: bool = False) -> None:
    """CSV or TSV by the csv module: a cell holding the delimiter, a quote or a line break
    is quoted; text a spreadsheet would run as a formula gets a leading ' unless
    ``raw_text``."""
    from ..datasets._tables import write_text_rows

    write_text_rows(handle, header, rows, delimiter="\t" if out_format == "tsv" else ",",
                    raw_text=raw_text)


def _out_format(out: str | None) -> str:
    if out is None:
        return "csv"
    ext = Path(out).suffix.lower()
    if ext not in (".csv", ".tsv"):
        raise ValueError(f"--out {out}: write a .csv or .tsv file (a text column holds the "
                         "top features or steps)")
    return ext[1:]


def _model_name(det) -> str:
    """The ``--model`` name of the detector's model, else its class name."""
    cls_name = type(det.model_).__name__
    return next((m for m, c in MODELS.items() if c == cls_name), cls_name)


def _a(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _trained_analyzer(det) -> str:
    """How lines became sequences in training: a SequenceModel knows (symbol strings or
    tokens); a SequenceAutoencoder's tokens were characters if they are all one long."""
    model = det.model_
    if hasattr(model, "alphabet_"):
        return "char" if model.alphabet_ is not None else "word"
    vocabulary = getattr(model, "vocabulary_", None)
    if vocabulary is None:
        return "char"
    return "char" if all(len(t) == 1 for t in vocabulary.tokens) else "word"


def _warn_unknown_tokens(det, X, spec: str) -> None:
    vocabulary = getattr(det.model_, "vocabulary_", None)
    if vocabulary is None:
        return
    share = vocabulary.oov_fraction(X)
    if share > 0:
        print(f"{share:.1%} of {spec}'s tokens are not in the model's vocabulary (scored as "
              f"one unknown token)", file=sys.stderr)


def _score_table(det, data: _Table):
    """DATA's rows as the detector's model reads them (its feature names, when it has
    them); a table of another width or other names is a one-line error."""
    from .._errors import InputError

    width = data.X.shape[1]
    if width != det.n_features_in_:
        raise InputError(f"{width} columns, the detector was trained on {det.n_features_in_}",
                         path=data.spec)
    names = getattr(det, "feature_names_in_", None)
    if names is None:
        return data.X
    names = [str(n) for n in names]
    if data.columns and list(data.columns) != names:
        raise InputError(f"columns {_names(data.columns)} differ from the detector's "
                         f"{_names(names)}", path=data.spec)
    return frame(data.X, names)
