"""``hiddenstate rnn``: Elman/LSTM/GRU sequence models on symbol strings and real-valued
series."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import SERIES_EXTENSIONS, is_series, load_model
from ._options import add_estimator_options, estimator_kwargs, number
from ._outputs import (
    add_raw_text_option,
    check_out,
    fit_save_report,
    print_settings,
    verbose_prints_settings,
    write_or_print,
)
from .classify import add_encoding_option

__all__ = ["register"]

# Strings in the built-in reber / embedded-reber data (fit, and evaluate's fresh strings). The
# seed's recipe (WORKLOADS.md W3, W4) trains on 1000; on 1000 Reber strings the default
# SequenceModel (softmax next symbol, 8 epochs) learns those strings more than the grammar and
# samples about 0.989 of its strings in the grammar (random states 0-9); 24 epochs reach only
# about 0.997 (the training loss falls below the grammar's entropy); 5000 give about 0.999.
BUILTIN_STRINGS = 5000
#: ``--format``: what DATA holds (``symbols``, the older name, is ``text``).
FORMATS = ("auto", "series", "text", "symbols")


def register(sub) -> None:
    sub.add_parser("rnn", help="Elman/LSTM/GRU sequence models on symbol strings and series",
                   build=_build)


def _build(parser) -> None:
    actions = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    actions.add_parser("fit", help="train on DATA (symbol strings, one per line, or a "
                       "real-valued series), write MODEL", build=_build_fit)
    sample_parser = actions.add_parser(
        "sample", help="generate strings, one per line",
        description="Draw strings from a model trained on symbol strings. A model that adds "
                    "its own begin and end markers (the default for strings that do not "
                    "begin with B and end with E) needs neither --start nor --stop.")
    sample_parser.add_argument("model", metavar="MODEL")
    sample_parser.add_argument("-n", type=number(int), default=20,
                               help="strings to draw (default: 20)")
    sample_parser.add_argument("--temperature", type=number(float), default=1.0,
                               help="divides the log-probabilities: below 1 more likely "
                                    "strings, above 1 more varied ones (default: 1)")
    sample_parser.add_argument("--seed", type=number(int), default=None,
                               help="random seed (default: a fresh one)")
    sample_parser.add_argument("--start", default=None,
                               help="a prefix every string continues (default: none with "
                                    "markers, else B)")
    sample_parser.add_argument("--stop", default=None,
                               help="a symbol that ends a string (kept; default: the end "
                                    "marker, else E)")
    sample_parser.add_argument("--n-stops", type=number(int), default=1,
                               help="end at the N-th --stop symbol (2 for the embedded Reber "
                                    "grammar; default: 1)")
    sample_parser.add_argument("--max-length", type=number(int), default=100,
                               help="most symbols in a string, --start included (default: 100)")
    sample_parser.set_defaults(func=sample)
    eval_parser = actions.add_parser("evaluate", help="score, next-symbol and grammar figures")
    eval_parser.add_argument("model", metavar="MODEL")
    eval_parser.add_argument("data", metavar="DATA")
    eval_parser.add_argument("--data-seed", type=number(int), default=1)
    eval_parser.add_argument("--json", action="store_true")
    add_encoding_option(eval_parser, default=None)
    _add_format(eval_parser, "symbol strings (evaluate takes only those)")
    eval_parser.set_defaults(func=evaluate)
    score_parser = actions.add_parser(
        "score", help="log-likelihood of each sequence in DATA (higher: more usual)",
        description="Write one row per sequence of DATA: its log-likelihood under MODEL (for "
                    "symbols, in nats; for series, minus the summed squared error of each "
                    "next-step prediction). With --per-step, one row per step.")
    score_parser.add_argument("model", metavar="MODEL")
    score_parser.add_argument("data", metavar="DATA",
                              help="a file like the one the model was trained on")
    score_parser.add_argument("--per-step", action="store_true",
                              help="one row per predicted step: sequence, step, score")
    add_encoding_option(score_parser, default=None)
    _add_format(score_parser, "what the model was trained on")
    score_parser.add_argument("--out", metavar="FILE",
                              help="write a table (.csv, .tsv, .npy) instead of printing")
    score_parser.set_defaults(func=score)
    forecast_parser = actions.add_parser(
        "forecast", help="predict the next values of each series in DATA",
        description="For a model trained on a real-valued series: continue each series of "
                    "DATA (each file block, or the whole file) by --steps values, each "
                    "prediction fed back as the next input. Writes rows of sequence, step "
                    "(1 = the first value after the series), the time of that step where "
                    "DATA has a first column of evenly spaced times or dates (years, months, "
                    "weeks, ...; continued from its last one; left out of a .npy table when "
                    "they are dates), then one column per feature.")
    forecast_parser.add_argument("model", metavar="MODEL")
    forecast_parser.add_argument("data", metavar="DATA",
                                 help="series file (.csv, .tsv, .npy; blocks separated by "
                                      "blank lines are separate series)")
    forecast_parser.add_argument("--steps", type=number(int), required=True,
                                 help="values to predict past the end of each series")
    forecast_parser.add_argument("--interval", type=number(float, 0, 1, above=True),
                                 default=None, metavar="P",
                                 help="also write a prediction interval of coverage P (e.g. "
                                      "0.9): columns NAME_lower and NAME_upper after the "
                                      "forecasts (split conformal; models fitted with "
                                      "--horizon, --steps at most the horizon)")
    forecast_parser.add_argument("--out", metavar="FILE",
                                 help="write a table (.csv, .tsv, .npy) instead of printing")
    add_raw_text_option(forecast_parser)
    _add_format(forecast_parser, "series (forecast reads only those)")
    forecast_parser.set_defaults(func=forecast)
    _build_backtest(actions)


def _build_backtest(actions) -> None:
    parser = actions.add_parser(
        "backtest", help="rolling-origin evaluation of a forecaster against baselines",
        description="Fit hiddenstate's forecaster (SequenceModel with --horizon, the "
                    "defaults of hiddenstate.forecasting.FORECAST_DEFAULTS) and the baselines "
                    "(naive, seasonal naive, an autoregression with its order by AIC) on "
                    "SERIES before its last --test-size steps; forecast --horizon steps from "
                    "each of those steps; print RMSE and MAE per horizon and the coverage "
                    "of hiddenstate's intervals.")
    parser.add_argument("series", metavar="SERIES",
                        help="one series (.csv, .tsv, .npy: one row per step, one column per "
                             "feature; a first column of times is skipped by the reader)")
    parser.add_argument("--horizon", type=number(int, 1), required=True, metavar="H",
                        help="steps forecast from each origin (the model is trained for them)")
    parser.add_argument("--test-size", type=number(int, 1), required=True, metavar="N",
                        help="the last N steps are the forecast origins")
    parser.add_argument("--random-state", type=number(int, 0), default=None, metavar="S",
                        help="seed of hiddenstate's model (default: a fresh one)")
    parser.add_argument("--period", type=number(int, 1), default=None, metavar="P",
                        help="the seasonal naive's period (default: detected from the "
                             "autocorrelation of the training part; 1 when none)")
    parser.add_argument("--refit", default="once", metavar="WHEN",
                        help="fit the models once (at the first origin; default), at every "
                             "origin ('every'), or every N origins")
    parser.add_argument("--missing", choices=("error", "interpolate"), default="error",
                        help="missing values (empty or NaN cells): refuse them (default) or "
                             "interpolate them linearly")
    parser.add_argument("--interval", type=number(float, 0, 1, above=True), default=0.9,
                        metavar="P", help="nominal coverage of the intervals (default: 0.9)")
    parser.add_argument("--adapt", type=number(float, 0), default=argparse.SUPPRESS,
                        metavar="STEP",
                        help="step size of adaptive conformal inference over the origins: the "
                             "intervals' quantile level moves with the misses of the forecasts "
                             "whose truth has been seen (default: 0.1, hiddenstate.forecasting."
                             "ADAPT_STEP); 0: each fit's split conformal intervals, the same "
                             "at every origin")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    parser.add_argument("--plot", metavar="PNG",
                        help="draw the 1-step and H-step forecasts and the interval band")
    _add_format(parser, "series (backtest reads only those)")
    parser.set_defaults(func=backtest)


def _build_fit(fit_parser) -> None:
    fit_parser.add_argument(
        "data", metavar="DATA",
        help=f"text file of symbol strings (one per line; the model adds its own begin and "
             f"end markers unless every line begins with B and ends with E), a real-valued "
             f"series ({', '.join(SERIES_EXTENSIONS)}: one row per step, one column per "
             f"feature, blank lines between series), or built-in: reber or embedded-reber, "
             f"{BUILTIN_STRINGS} strings each of more than 10 symbols (the seed's recipe, "
             f"WORKLOADS.md W3/W4, trains on 1000: too few for the default model to sample "
             f">= 99.5%% of its strings in the grammar)")
    fit_parser.add_argument("--out", required=True, metavar="MODEL")
    fit_parser.add_argument("--format", choices=FORMATS, default="auto",
                            help=f"what DATA holds: series, or text (symbol strings; "
                                 f"'symbols' is the same) (default: auto, series for "
                                 f"{', '.join(SERIES_EXTENSIONS)} files, else text; a text "
                                 f"file of numbers with separators is refused as one)")
    fit_parser.add_argument("--alphabet", help="the symbols (default: those in DATA)")
    fit_parser.add_argument("--window", type=number(int), default=None, metavar="N",
                            help="series: train on every run of N steps (and the value after "
                                 "it) instead of on each whole series")
    fit_parser.add_argument("--stride", type=number(int), default=None, metavar="N",
                            help="series with --window: steps between window starts "
                                 "(default: 1)")
    fit_parser.add_argument("--data-seed", type=number(int), default=0,
                            help="seed of built-in data")
    add_encoding_option(fit_parser, default=None)
    add_estimator_options(fit_parser, "SequenceModel")
    verbose_prints_settings(fit_parser)
    fit_parser.set_defaults(func=fit)


def _add_format(parser, auto: str) -> None:
    """``--format auto|series|text`` of a command whose DATA's kind is fixed (``auto``)."""
    parser.add_argument("--format", choices=FORMATS, default="auto",
                        help=f"what DATA holds: series or text (symbol strings; 'symbols' is "
                             f"the same) (default: auto, {auto})")


def _is_series(spec: str, fmt: str = "auto") -> bool:
    return is_series(spec, "text" if fmt == "symbols" else fmt)


def _check_format(args, series: bool, what: str) -> None:
    """Refuse a ``--format`` that names the other kind of DATA than the command reads."""
    fmt = getattr(args, "format", "auto")
    if fmt != "auto" and (fmt == "series") != series:
        from .._errors import InputError

        kind = "real-valued series" if series else "symbol strings"
        raise InputError(f"--format {fmt}: {what} reads {kind}, not "
                         f"{'symbol strings' if series else 'series'}")


def _check_not_numbers(strings: list[str], spec: str) -> None:
    """``--format auto`` on a text file of numbers with separators (``1.5,2``, ``-3``):
    a series, refused rather than read as symbols (digit strings such as ``0110`` are
    symbols)."""
    from ..datasets._series import all_numbers

    if all_numbers(strings) and any(c in s for s in strings for c in " \t,.-+eE"):
        from .._errors import InputError

        raise InputError("every line holds numbers: this looks like a numeric series, not "
                         "symbol strings. Give --format series to read it as a series (one row "
                         "per step), or --format text to read its characters as symbols",
                         path=spec)


def _series(spec: str, window: int | None = None, stride: int | None = None,
            missing: str = "error"):
    """Inputs and next-step targets from a series file (cut into windows with ``window``)."""
    from ..datasets._series import next_step_pairs, windows

    seqs = load_series_checked(spec, missing)
    if window is not None:
        seqs = windows(seqs, window, 1 if stride is None else stride)
    return next_step_pairs(seqs, what="window" if window is not None else "series")


def load_series_checked(spec: str, missing: str = "error"):
    """A series file's sequences, a missing value refused naming its file and line (or
    interpolated: ``missing``, the model's setting)."""
    from ._common import read_series_data

    return read_series_data(spec, missing).sequences


def _series_settings(kwargs: dict, window: int | None) -> dict:
    """A series' settings: a whole series trains a forecaster (``--horizon``, default 1)
    with :data:`~hiddenstate.forecasting.FORECAST_DEFAULTS` under what was given (early
    stopping on the held-out part ends it, so no ConvergenceWarning rule is at stake);
    windows (``--window``) a next-step model with SequenceModel's own defaults."""
    from .._errors import InputError
    from ..forecasting import FORECAST_DEFAULTS

    if window is None:
        return {**FORECAST_DEFAULTS, "horizon": 1, **kwargs}
    for name in ("horizon", "lags", "context"):
        if name in kwargs:
            raise InputError(f"--{name} trains a forecaster on the whole series; --window "
                             "cuts it into next-step windows: give one or the other")
    return kwargs


def _refuse_encoding(encoding: str | None, why: str) -> None:
    if encoding is not None:
        from .._errors import InputError

        raise InputError(f"--encoding is for files of symbol strings; {why}")


def _data(spec: str, alphabet: str | None, seed: int, encoding: str | None = None):
    import numpy as np

    from .. import datasets

    rng = np.random.default_rng(seed)
    if spec in ("reber", "embedded-reber") and not Path(spec).exists():
        _refuse_encoding(encoding, f"{spec} is built in")
        make = datasets.make_reber if spec == "reber" else datasets.make_embedded_reber
        return make(BUILTIN_STRINGS, rng), datasets.REBER_ALPHABET
    return datasets.load_sequences(spec, alphabet, encoding=encoding or "utf-8")


def _load(path):
    from ..estimators import SequenceModel

    return load_model(path, SequenceModel)


def fit(args) -> int:
    from .._errors import InputError
    from ..estimators import SequenceModel

    check_out(args.out, args.data)
    kwargs = estimator_kwargs(args, SequenceModel)
    if _is_series(args.data, args.format):
        if args.alphabet is not None:
            raise InputError("--alphabet is for symbol strings; DATA is read as a series")
        if kwargs.setdefault("output", "linear") != "linear":
            raise InputError(f"a series model predicts values: --output linear, not "
                             f"{kwargs['output']}")
        _refuse_encoding(args.encoding, "DATA is read as a series (UTF-8 text or .npy)")
        for name in ("embedding_dim", "min_count", "max_features", "markers"):
            if name in kwargs:
                raise InputError(f"--{name.replace('_', '-')} is for token sequences or symbol "
                                 "strings; it has no effect on a series")
        if args.stride is not None and args.window is None:
            raise InputError("--stride spaces the windows of --window; give --window N too")
        kwargs = _series_settings(kwargs, args.window)
        if args.window is None:  # a forecaster of the whole series
            seqs, targets = load_series_checked(args.data, kwargs.get("missing", "error")), None
        else:
            seqs, targets = _series(args.data, args.window, args.stride,
                                    kwargs.get("missing", "error"))
        fit_kwargs = {}
    else:
        for option in ("window", "stride"):
            if getattr(args, option) is not None:
                raise InputError(f"--{option} is for real-valued series; DATA is read as "
                                 "symbol strings (give --format series for a series file)")
        seqs, alphabet = _data(args.data, args.alphabet, args.data_seed, args.encoding)
        if args.format == "auto" and Path(args.data).exists():
            _check_not_numbers(seqs, args.data)
        targets, fit_kwargs = None, {"alphabet": alphabet}
    est = SequenceModel(**kwargs)
    print_settings(est, f"{args.data} ({len(seqs)} sequences)")
    chosen = [] if est.horizon is None else [lambda: f"forecaster {est.forecaster_}"]
    fit_save_report(est, args.out, lambda: est.fit(seqs, targets, **fit_kwargs),
                    inputs=f"{len(seqs)} sequence{'' if len(seqs) == 1 else 's'}", notes=chosen)
    return 0


def sample(args) -> int:
    model = _load(args.model)
    for s in model.sample(args.n, start=args.start, stop=args.stop, n_stops=args.n_stops,
                          max_length=args.max_length, temperature=args.temperature,
                          random_state=args.seed):
        print(s)
    return 0


def _model_data(model, spec: str, encoding: str | None = None, args=None):
    """DATA read the way ``model`` was trained: ``(X, Y or None)``."""
    from .._errors import InputError
    from ..datasets import load_sequences

    if model.vocabulary_ is not None:
        raise InputError("this model reads token sequences; use it from Python")
    _check_format(args, model.alphabet_ is None, "this model")
    if model.alphabet_ is not None:
        return load_sequences(spec, model.alphabet_, encoding=encoding or "utf-8")[0], None
    _refuse_encoding(encoding, "this model reads real-valued series (UTF-8 text or .npy)")
    if getattr(model, "horizon_", None):  # a forecaster scores the series themselves
        return load_series_checked(spec, model.missing), None
    return _series(spec, missing=model.missing)


def score(args) -> int:
    import numpy as np


    check_out(args.out, args.data, args.model, table=True)
    model = _load(args.model)
    X, Y = _model_data(model, args.data, args.encoding, args)
    if args.per_step:
        steps = model.score_samples(X, Y, per_step=True)
        rows = np.array([(i, t, v) for i, s in enumerate(steps) for t, v in enumerate(s)])
        write_or_print(rows, args.out, ["sequence", "step", "log_likelihood"])
    else:
        scores = model.score_samples(X, Y)
        write_or_print(np.column_stack([np.arange(len(scores)), scores]), args.out,
                               ["sequence", "log_likelihood"])
    return 0


def forecast(args) -> int:
    import numpy as np

    from ._common import read_series_data

    check_out(args.out, args.data, args.model, table=True)
    _check_format(args, True, "rnn forecast")
    model = _load(args.model)
    if isinstance(args.steps, bool) or args.steps < 1:
        from .._errors import InputError

        raise InputError(f"--steps must be a positive number of values, got {args.steps}")
    read = read_series_data(args.data, model.missing)
    seqs, names = read.sequences, read.names
    got = model.forecast(seqs, args.steps, interval=args.interval)
    parts = [got] if args.interval is None else list(got)
    rows = [np.column_stack([np.full(args.steps, i), np.arange(1, args.steps + 1),
                             *(p[i] for p in parts)]) for i in range(len(seqs))]
    columns = names or [f"x{j}" for j in range(parts[0][0].shape[1])]
    if args.interval is not None:
        columns = [*columns, *(f"{c}_lower" for c in columns), *(f"{c}_upper" for c in columns)]
    table, header = np.concatenate(rows), ["sequence", "step", *columns]
    times = _forecast_times(read, args.steps)
    if times is None:
        write_or_print(table, args.out, header, raw_text=args.raw_text)
    elif times.dtype.kind != "M":
        write_or_print(np.column_stack([table[:, :2], times, table[:, 2:]]), args.out,
                       [*header[:2], read.time_name or "time", *header[2:]],
                       raw_text=args.raw_text)
    else:
        _write_dated(table, times, args.out, [*header[:2], read.time_name or "time",
                                              *header[2:]], raw_text=args.raw_text)
    return 0


def _forecast_times(read, steps: int):
    """The times of the forecast steps, every sequence's in one column, where each
    sequence of DATA has regular times (:func:`~hiddenstate.datasets._series.future_times`);
    else None."""
    import numpy as np

    from ..datasets._series import future_times

    if not read.times:
        return None
    ahead = [future_times(t, steps) for t in read.times]
    if any(t is None for t in ahead) or len({t.dtype.kind for t in ahead}) > 1:
        return None
    return np.concatenate(ahead)


def _write_dated(table, dates, out: str | None, header: list[str], *, raw_text: bool) -> None:
    """The forecast ``table`` with a column of dates after its first two (sequence,
    step): text cells, so CSV or TSV (a ``.npy`` table holds numbers: the dates are left
    out of it, and said so)."""
    import numpy as np

    from .._io import atomic_write
    from ..datasets._tables import write_text_rows

    if out and Path(out).suffix.lower() == ".npy":
        print(f"{out}: a .npy table holds numbers; the {header[2]} column (dates) is left out",
              file=sys.stderr)
        write_or_print(table, out, [*header[:2], *header[3:]], raw_text=raw_text)
        return
    fmt = "%.17g" if out else "%.7g"  # as write_table's float64 and the printed tables
    text = np.datetime_as_string(dates).tolist()
    rows = ([fmt % v for v in row[:2]] + [when] + [fmt % v for v in row[2:]]
            for row, when in zip(table.astype(np.float64), text, strict=True))
    if not out:
        write_text_rows(sys.stdout, header, rows, raw_text=raw_text)
        return
    with atomic_write(out, "w", encoding="utf-8", newline="") as handle:
        write_text_rows(handle, header, rows, delimiter="\t" if Path(out).suffix.lower()
                        in (".tsv", ".txt") else ",", raw_text=raw_text)
    print(f"wrote {out} ({len(table)} rows)", file=sys.stderr)


def _refit(text: str):
    from .._errors import InputError

    if text in ("once", "every"):
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"--refit must be once, every or a positive number of origins, got "
                         f"{text!r}")
    return value


def backtest(args) -> int:
    import numpy as np

    from .._errors import InputError
    from .._io import atomic_write
    from ..forecasting import ADAPT_STEP
    from ..forecasting import backtest as run
    from ._common import read_series_data

    for option, path in (("--json", args.json), ("--plot", args.plot)):
        check_out(path, args.series, option=option)
    refit = _refit(args.refit)
    _check_format(args, True, "rnn backtest")
    read = read_series_data(args.series, args.missing)
    seqs, times = read.sequences, read.times
    if len(seqs) != 1:
        raise InputError(f"backtest reads one series; {args.series} holds {len(seqs)} "
                         "(blocks separated by blank lines)")
    with _progress(args, refit) as step:
        result, forecasts = run(seqs[0], args.horizon, args.test_size, period=args.period,
                                refit=refit, random_state=args.random_state,
                                interval=args.interval,
                                adapt=getattr(args, "adapt", ADAPT_STEP), missing=args.missing,
                                return_forecasts=True, progress=step)
    _print_backtest(result, args.interval)
    if args.json:
        with atomic_write(args.json, "w", encoding="utf-8") as handle:
            json.dump(result, handle, indent=1)
            handle.write("\n")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        from ..plotting import forecast_figure

        series = np.asarray(seqs[0], float)
        forecast_figure(series, forecasts, path=args.plot, times=times and times[0],
                        title=f"{Path(args.series).stem}: rolling-origin forecasts")
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def _progress(args, refit):
    """A rich progress bar over the fits (one fit: a spinner) on stderr."""
    import contextlib

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ._outputs import console

    @contextlib.contextmanager
    def bar():
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} fits"), TimeElapsedColumn(),
                      console=console(stderr=True), transient=True) as progress:
            task = progress.add_task(f"backtest ({refit} fit{'s' if refit != 'once' else ''})",
                                     total=None)
            yield lambda done, total: progress.update(task, completed=done, total=total)

    return bar()


def _print_backtest(result: dict, interval) -> None:
    """RMSE and MAE per horizon, their means, and the coverage, as rich tables."""
    import numpy as np
    from rich.table import Table

    from ._outputs import console

    methods = result["methods"]
    table = Table(title=f"rolling origin: {result['test_size']} origins, horizons 1-"
                        f"{result['horizon']} (RMSE / MAE)")
    table.add_column("horizon", justify="right")
    for m in methods:
        table.add_column(m.replace("_", " "), justify="right")

    def cell(v):
        return "-" if v is None else f"{v:#.4g}"

    for k in range(result["horizon"]):
        table.add_row(str(k + 1), *(f"{cell(s['rmse'][k])} / {cell(s['mae'][k])}"
                                    for s in methods.values()))
    means = {m: [float(np.mean([v for v in s[key] if v is not None])) for key in ("rmse", "mae")]
             for m, s in methods.items()}
    table.add_row("mean", *(f"{a:#.4g} / {b:#.4g}" for a, b in means.values()), style="bold")
    out = console()
    out.print(table)
    coverage = methods["hiddenstate"]["coverage"]
    if coverage is not None:
        static = methods["hiddenstate"].get("static_coverage")
        how = "" if static is None else (f" (adaptive, step {methods['hiddenstate']['adapt']:g};"
                                         f" split conformal alone {static:.3f})")
        out.print(f"hiddenstate {interval:g} interval: empirical coverage {coverage:.3f}{how}")
    best = min((v[0], m) for m, v in means.items() if m != "hiddenstate")
    out.print(f"mean RMSE: hiddenstate {means['hiddenstate'][0]:#.4g}, best baseline "
              f"{best[1].replace('_', ' ')} {best[0]:#.4g}")
    chosen = methods["hiddenstate"].get("forecaster")
    if chosen:
        out.print(f"hiddenstate forecaster: {', '.join(dict.fromkeys(chosen))}")


def evaluate(args) -> int:
    _check_format(args, False, "rnn evaluate")
    model = _load(args.model)
    seqs, _ = _data(args.data, model.alphabet_, args.data_seed, args.encoding)
    result = _figures(model, seqs, args.data)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
    return 0


def _figures(model, seqs, spec: str) -> dict:
    """Score and next-symbol accuracy; grammar figures when the alphabet is Reber's."""
    import numpy as np

    from .. import datasets
    from ..metrics import grammar_fraction, legal_next_accuracy, long_range_accuracy

    result = {"sequences": len(seqs), "score": model.score(seqs)}
    probs = model.predict_proba(seqs)
    n = len(model.alphabet_)
    if model.markers_:  # every symbol, then the end (index n), is predicted
        nxt = [np.eye(n + 1)[[*(model.alphabet_.index(c) for c in s), n]] for s in seqs]
    else:
        nxt = [np.eye(n)[[model.alphabet_.index(c) for c in s[1:]]] for s in seqs]
    result["next_symbol_accuracy"] = legal_next_accuracy(probs, nxt)
    if set(model.alphabet_) == set(datasets.REBER_ALPHABET) and not model.markers_:
        embedded = spec == "embedded-reber" or datasets.in_embedded_reber_grammar(seqs[0])
        check = datasets.in_embedded_reber_grammar if embedded else datasets.in_reber_grammar
        samples = model.sample(1000, n_stops=2 if embedded else 1, random_state=0)
        result["sampled_in_grammar"] = grammar_fraction(samples, check)
        if embedded:
            result["long_range_accuracy"] = long_range_accuracy(probs, seqs, model.alphabet_)
    return result
