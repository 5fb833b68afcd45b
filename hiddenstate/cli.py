"""The ``hiddenstate`` command: thin parsing and dispatch over the library.

Errors a user can cause end in one line on stderr (``hiddenstate: error: ...``)
and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["main"]

BUILTIN_DATA = ("donut", "digits")


# -- options built from the estimator's parameters ------------------------------------------


def _none_or(parse):
    def convert(text: str):
        return None if text.lower() in ("none", "null", "") else parse(text)

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _int_list(text: str):
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an int or a comma-separated list of ints, got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def _batch_size(text: str):
    if text.lower() in ("auto",):
        return "auto"
    if text.lower() in ("none", "full"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an int, 'auto' or 'none' (full batch), got {text!r}"
        ) from None


#: Parsers for parameters whose default does not tell the type.
_SPECIAL = {
    "n_components": _int_list,
    "batch_size": _batch_size,
    "noise": _none_or(str),
    "clip_norm": _none_or(float),
    "init_scale": _none_or(float),
    "random_state": _none_or(int),
    "checkpoint_dir": _none_or(str),
    "devices": _none_or(int),
    "verbose": int,
}
_SKIP = {"warm_start"}


def add_estimator_options(parser: argparse.ArgumentParser, estimator_cls) -> list[str]:
    """One ``--option`` per estimator parameter, typed from its default. Returns the names."""
    from sklearn.utils._param_validation import StrOptions

    defaults = estimator_cls().get_params()
    constraints = getattr(estimator_cls, "_parameter_constraints", {})
    group = parser.add_argument_group(f"{estimator_cls.__name__} settings")
    names = []
    for name, default in defaults.items():
        if name in _SKIP:
            continue
        flag = "--" + name.replace("_", "-")
        choices = [c for c in constraints.get(name, []) if isinstance(c, StrOptions)]
        help_text = f"default: {default!r}"
        if choices:
            help_text += f"; one of {', '.join(sorted(choices[0].options))}"
        if isinstance(default, bool):
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                               help=help_text)
        else:
            parse = _SPECIAL.get(name) or type(default)
            group.add_argument(flag, type=parse, default=None, metavar=name.upper(),
                               help=help_text)
        names.append(name)
    return names


def _estimator_kwargs(args, names: list[str]) -> dict:
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


# -- data -----------------------------------------------------------------------------------


def _read_data(spec: str):
    """A table file (.csv, .tsv, .txt, .npy) or a built-in data set name."""
    from . import datasets

    if spec in BUILTIN_DATA and not Path(spec).exists():
        X, _ = datasets.make_donut() if spec == "donut" else datasets.load_digits()
        return X, None
    return datasets.read_table(spec)


def _write_or_print(array, out: str | None, column_names=None) -> None:
    import numpy as np

    from .datasets import write_table

    if out:
        write_table(out, array, column_names=column_names)
        print(f"wrote {out} ({array.shape[0]} rows)", file=sys.stderr)
        return
    array = np.atleast_2d(np.asarray(array).T).T
    if column_names:
        print(",".join(column_names))
    np.savetxt(sys.stdout, array, delimiter=",", fmt="%.7g")


def _console(stderr: bool = False):
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal:  # logs and CI: do not squeeze tables into 80 columns
        console = Console(stderr=stderr, width=150)
    return console


# -- commands -------------------------------------------------------------------------------


def cmd_autoencoder_fit(args, names) -> int:
    from .estimators import Autoencoder

    kwargs = _estimator_kwargs(args, names)
    est = Autoencoder(**kwargs)
    console = _console(stderr=True)
    if args.num_processes > 1 and not args.coordinator:
        raise ValueError("--num-processes > 1 needs --coordinator HOST:PORT")
    if args.chunk_rows is not None:
        t0 = time.perf_counter()
        console.print(f"[bold]Autoencoder[/] on {args.data} in blocks of {args.chunk_rows} rows")
        est.fit_file(args.data, chunk_rows=args.chunk_rows)
        est.save(args.out)
        console.print(
            f"trained {est.n_iter_} epochs in {time.perf_counter() - t0:.2f} s; final loss "
            f"{est.loss_curve_[-1]:.6g}; wrote {args.out}"
        )
        return 0
    if args.num_processes > 1:
        X, columns = _read_process_rows(args)
    else:
        X, columns = _read_data(args.data)
    resolved = {k: v for k, v in est.get_params().items()}
    console.print(f"[bold]Autoencoder[/] on {args.data} {X.shape}: {json.dumps(resolved)}")
    data = _frame(X, columns)
    t0 = time.perf_counter()
    est.fit(data)
    seconds = time.perf_counter() - t0
    if args.process_id != 0:
        console.print(f"process {args.process_id}: trained; process 0 writes {args.out}")
        return 0
    est.save(args.out)
    console.print(
        f"trained {est.n_iter_} epochs in {seconds:.2f} s; final loss {est.loss_curve_[-1]:.6g}; "
        f"reconstruction error {-est.score(data):.6g}; wrote {args.out}"
    )
    return 0


def _read_process_rows(args):
    """Join the multi-process run; read this process's rows, then gather everyone's."""
    import numpy as np

    from . import distributed

    distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    if str(args.data).endswith(".npy") and Path(args.data).exists():
        whole = np.load(args.data, mmap_mode="r", allow_pickle=False)
        if whole.ndim != 2:
            raise ValueError(f"{args.data}: needs a 2-D array, found shape {whole.shape}")
        mine = np.asarray(whole[distributed.process_rows(whole.shape[0])], np.float32)
        columns = None
    else:  # text and built-in data: parsed whole, then this process's block is kept
        X, columns = _read_data(args.data)
        mine = X[distributed.process_rows(X.shape[0])]
    return distributed.allgather_rows(mine), columns


def _load_autoencoder(path):
    from . import load
    from ._errors import ModelFileError
    from .estimators import Autoencoder

    model = load(path)
    if not isinstance(model, Autoencoder):
        raise ModelFileError(f"{path}: holds a {type(model).__name__}, not an Autoencoder")
    return model


def _frame(X, columns):
    """A DataFrame when the file had a header and pandas is installed (keeps the names)."""
    if not columns:
        return X
    try:
        import pandas as pd
    except ImportError:
        return X
    return pd.DataFrame(X, columns=columns)


def _model_input(model, X, columns):
    return _frame(X, columns) if hasattr(model, "feature_names_in_") else X


def cmd_autoencoder_apply(args) -> int:
    model = _load_autoencoder(args.model)
    X, columns = _read_data(args.data)
    data = _model_input(model, X, columns)
    if args.command == "transform":
        out = model.transform(data)
        names = [str(n) for n in model.get_feature_names_out()]
    elif args.command == "reconstruct":
        out = model.predict(data)
        names = columns
    else:
        out = model.reconstruction_error(data)
        names = ["reconstruction_error"]
    _write_or_print(out, args.out, names)
    return 0


def cmd_autoencoder_plot(args) -> int:
    import math

    import numpy as np

    from . import plotting

    model = _load_autoencoder(args.model)
    W = np.asarray(model.model_.weights[0])
    n = W.shape[0]
    side = int(math.isqrt(n))
    if args.kind == "auto":
        kind = "tiles" if side * side == n and n >= 16 else "curve"
    else:
        kind = args.kind
    if kind == "tiles":
        if side * side != n:
            raise ValueError(f"feature tiles need a square number of inputs, the model has {n}")
        plotting.feature_tiles(W, image_shape=(side, side), path=args.out,
                               title=f"{W.shape[1]} filters (rows of W^T)")
    else:
        plotting.learning_curves({"training loss": np.asarray(model.loss_curve_)}, path=args.out,
                                 title="learning curve")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _rnn_data(spec: str, alphabet: str | None, seed: int):
    from . import datasets

    rng = __import__("numpy").random.default_rng(seed)
    if spec == "reber" and not Path(spec).exists():
        return datasets.make_reber(1000, rng), datasets.REBER_ALPHABET, 1
    if spec == "embedded-reber" and not Path(spec).exists():
        return datasets.make_embedded_reber(5000, rng), datasets.REBER_ALPHABET, 2
    seqs, alphabet = datasets.load_sequences(spec, alphabet)
    return seqs, alphabet, 1


def cmd_rnn(args, names) -> int:
    import numpy as np

    from . import load
    from ._errors import ModelFileError
    from .estimators import SequenceModel

    if args.command == "fit":
        seqs, alphabet, _ = _rnn_data(args.data, args.alphabet, args.data_seed)
        est = SequenceModel(**_estimator_kwargs(args, names))
        t0 = time.perf_counter()
        est.fit(seqs, alphabet=alphabet)
        est.save(args.out)
        print(f"trained {est.n_iter_} epochs on {len(seqs)} sequences in "
              f"{time.perf_counter() - t0:.2f} s; final loss {est.loss_curve_[-1]:.5g}; "
              f"wrote {args.out}", file=sys.stderr)
        return 0
    model = load(args.model)
    if not isinstance(model, SequenceModel):
        raise ModelFileError(f"{args.model}: holds a {type(model).__name__}, not a SequenceModel")
    if args.command == "sample":
        for s in model.sample(args.n, start=args.start, stop=args.stop, n_stops=args.n_stops,
                              max_length=args.max_length, temperature=args.temperature,
                              random_state=args.seed):
            print(s)
        return 0
    from . import datasets
    from .metrics import grammar_fraction, legal_next_accuracy

    seqs, _, _ = _rnn_data(args.data, model.alphabet_, args.data_seed)
    result = {"sequences": len(seqs), "score": model.score(seqs)}
    probs = model.predict_proba(seqs)
    nxt = [np.eye(len(model.alphabet_))[[model.alphabet_.index(c) for c in s[1:]]] for s in seqs]
    result["next_symbol_accuracy"] = legal_next_accuracy(probs, nxt)
    if set(model.alphabet_) == set(datasets.REBER_ALPHABET):
        embedded = args.data == "embedded-reber" or datasets.in_embedded_reber_grammar(seqs[0])
        check = datasets.in_embedded_reber_grammar if embedded else datasets.in_reber_grammar
        samples = model.sample(1000, n_stops=2 if embedded else 1, random_state=0)
        result["sampled_in_grammar"] = grammar_fraction(samples, check)
        if embedded:
            from .metrics import long_range_accuracy

            result["long_range_accuracy"] = long_range_accuracy(probs, seqs, model.alphabet_)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
    return 0


def _rae_data(args):
    """(sentences, labels): an rt-polarity folder, or a sentences file with --labels."""
    from .datasets import load_rt_polarity

    path = Path(args.data)
    if path.is_dir():
        return load_rt_polarity(path)
    if not args.labels:
        raise ValueError(f"{path}: give a folder with rt-polarity.pos/.neg, or a sentences file "
                         "(one per line) with --labels FILE (one label per line)")
    from ._errors import InputError

    def lines(p):
        try:
            return [ln.strip() for ln in Path(p).read_text(encoding="utf-8").splitlines()
                    if ln.strip()]
        except FileNotFoundError:
            raise InputError("no such file", path=p) from None
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", path=p) from None

    sentences, labels = lines(path), lines(args.labels)
    if len(sentences) != len(labels):
        raise InputError(f"{len(sentences)} sentences but {len(labels)} labels in "
                         f"{args.labels}", path=path)
    if not sentences:
        raise InputError("no sentences", path=path)
    return [s.split() for s in sentences], labels


def cmd_rae(args, names) -> int:
    from . import load
    from ._errors import ModelFileError
    from .estimators import RecursiveAutoencoder

    if args.command == "fit":
        sentences, labels = _rae_data(args)
        est = RecursiveAutoencoder(**_estimator_kwargs(args, names))
        t0 = time.perf_counter()
        est.fit(sentences, labels)
        est.save(args.out)
        print(f"trained on {len(sentences)} sentences in {time.perf_counter() - t0:.1f} s; "
              f"training accuracy {est.score(sentences, labels):.4f}; wrote {args.out}",
              file=sys.stderr)
        return 0
    model = load(args.model)
    if not isinstance(model, RecursiveAutoencoder):
        raise ModelFileError(f"{args.model}: holds a {type(model).__name__}, "
                             "not a RecursiveAutoencoder")
    for sentence in args.sentences:
        proba = model.predict_proba([sentence])[0]
        k = int(proba.argmax())
        print(json.dumps({"sentence": sentence, "label": str(model.classes_[k]),
                          "probability": float(proba[k]), "tree": model.parse(sentence)}))
    return 0


def cmd_datasets(args) -> int:
    import numpy as np

    from . import datasets

    rng = np.random.default_rng(args.seed)
    make = datasets.make_embedded_reber if args.embedded else datasets.make_reber
    for s in make(args.n, rng, min_length=args.min_length):
        print(s)
    return 0


def cmd_reproduce(args) -> int:
    from . import report
    from .experiments import reproduce

    out = Path(args.out)
    data_dir = Path(args.data) if args.data else None
    console = _console()
    console.print(
        f"[bold]hiddenstate reproduce[/] {'--quick ' if args.quick else ''}"
        f"-> {out}/report.html" + (f" (data: {data_dir})" if data_dir else "")
    )

    def on_result(result):
        console.print(f"  [green]done[/] {result.name} in {result.seconds:.1f} s")

    def on_skip(name, reason):
        console.print(f"  [yellow]skipped[/] {name}: {reason}")

    t0 = time.perf_counter()
    results = reproduce(args.only, out, quick=args.quick, data_dir=data_dir,
                        on_result=on_result, on_skip=on_skip)
    console.print(report.results_table(results))
    command = "hiddenstate " + " ".join(sys.argv[1:]) if sys.argv else "hiddenstate reproduce"
    path = report.write_report(results, out, command=command, environment=report.environment_info())
    console.print(f"wrote {path} and {out / 'results.json'} in {time.perf_counter() - t0:.1f} s")
    return 0


def cmd_bench(args) -> int:
    from . import workloads

    data_dir = Path(args.data) if args.data else None
    console = _console(stderr=True)

    def on_record(rec):
        if args.json:
            print(json.dumps(rec.to_json()), flush=True)
        else:
            console.print(
                f"{rec.workload:4} {rec.variant:22} compile {rec.compile_s:7.3f} s  "
                f"train {rec.train_s:8.3f} s  {rec.step_us:9.1f} us/step  "
                f"loss {rec.final_loss:.5g}  {rec.quality_name} {rec.quality:.5g}"
            )

    if args.all and args.workloads:
        raise ValueError("give workload names or --all, not both")
    workloads.run_workloads(args.workloads or list(workloads.WORKLOADS), quick=args.quick,
                            data_dir=data_dir, on_record=on_record)
    return 0


# -- parser ---------------------------------------------------------------------------------


def build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    from .estimators import Autoencoder

    parser = argparse.ArgumentParser(
        prog="hiddenstate",
        description="Classic hidden-representation models (autoencoders, RNNs) on JAX.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")

    rep = sub.add_parser("reproduce", help="run the classic experiments, write report.html")
    rep.add_argument("--quick", action="store_true", help="shorter runs (under two minutes)")
    rep.add_argument("--only", nargs="+", metavar="NAME", help="run only these experiments")
    rep.add_argument("--data", metavar="DIR", help="folder with mnist/ (e.g. ../shared/data)")
    rep.add_argument("--out", default="results", metavar="DIR", help="output folder")

    bench = sub.add_parser("bench", help="run the WORKLOADS.md recipes, print timings")
    bench.add_argument("workloads", nargs="*", metavar="W", help="e.g. W1 W2 (default: all)")
    bench.add_argument("--all", action="store_true", help="every workload (the default)")
    bench.add_argument("--json", action="store_true", help="one JSON object per line")
    bench.add_argument("--quick", action="store_true", help="shorter quality runs")
    bench.add_argument("--data", metavar="DIR", help="folder with mnist/ for quality B")

    ae = sub.add_parser("autoencoder", help="fit and apply autoencoders on your files")
    ae_sub = ae.add_subparsers(dest="command", metavar="ACTION", required=True)
    fit = ae_sub.add_parser("fit", help="train on DATA, write MODEL")
    fit.add_argument("data", metavar="DATA",
                     help=f".csv, .tsv, .txt or .npy file, or one of {', '.join(BUILTIN_DATA)}")
    fit.add_argument("--out", required=True, metavar="MODEL", help="model file to write")
    fit.add_argument("--chunk-rows", type=int, metavar="N",
                     help="stream the file in blocks of N rows (bounded memory)")
    dist = fit.add_argument_group("several processes (jax.distributed)")
    dist.add_argument("--coordinator", metavar="HOST:PORT",
                      help="address of process 0's coordinator")
    dist.add_argument("--num-processes", type=int, default=1, metavar="N")
    dist.add_argument("--process-id", type=int, default=0, metavar="I")
    names = add_estimator_options(fit, Autoencoder)
    for action, help_text in (
        ("transform", "codes of DATA"),
        ("reconstruct", "reconstructions of DATA"),
        ("score", "per-row reconstruction error of DATA (higher = more anomalous)"),
    ):
        p = ae_sub.add_parser(action, help=help_text)
        p.add_argument("model", metavar="MODEL")
        p.add_argument("data", metavar="DATA")
        p.add_argument("--out", metavar="FILE", help=".npy/.csv/.tsv (default: CSV on stdout)")
    plot = ae_sub.add_parser("plot", help="feature tiles or the learning curve as PNG")
    plot.add_argument("model", metavar="MODEL")
    plot.add_argument("--kind", choices=["auto", "tiles", "curve"], default="auto",
                      help="auto: tiles when the inputs form a square image, else the curve")
    plot.add_argument("--out", required=True, metavar="PNG")
    from .estimators import SequenceModel

    rnn = sub.add_parser("rnn", help="Elman/LSTM/GRU sequence models on symbol strings")
    rnn_sub = rnn.add_subparsers(dest="command", metavar="ACTION", required=True)
    rfit = rnn_sub.add_parser("fit", help="train on DATA (one sequence per line), write MODEL")
    rfit.add_argument("data", metavar="DATA", help="text file, or reber / embedded-reber")
    rfit.add_argument("--out", required=True, metavar="MODEL")
    rfit.add_argument("--alphabet", help="the symbols (default: those in DATA)")
    rfit.add_argument("--data-seed", type=int, default=0, help="seed of built-in data")
    rnn_names = add_estimator_options(rfit, SequenceModel)
    rsample = rnn_sub.add_parser("sample", help="generate strings, one per line")
    rsample.add_argument("model", metavar="MODEL")
    rsample.add_argument("-n", type=int, default=20)
    rsample.add_argument("--temperature", type=float, default=1.0)
    rsample.add_argument("--seed", type=int, default=None)
    rsample.add_argument("--start", default="B")
    rsample.add_argument("--stop", default="E")
    rsample.add_argument("--n-stops", type=int, default=1)
    rsample.add_argument("--max-length", type=int, default=100)
    reval = rnn_sub.add_parser("evaluate", help="score, next-symbol and grammar figures")
    reval.add_argument("model", metavar="MODEL")
    reval.add_argument("data", metavar="DATA")
    reval.add_argument("--data-seed", type=int, default=1)
    reval.add_argument("--json", action="store_true")

    from .estimators import RecursiveAutoencoder

    rae = sub.add_parser("rae", help="Socher's recursive autoencoder for sentence sentiment")
    rae_sub = rae.add_subparsers(dest="command", metavar="ACTION", required=True)
    rae_fit = rae_sub.add_parser("fit", help="train on DATA, write MODEL")
    rae_fit.add_argument("data", metavar="DATA",
                         help="folder with rt-polarity.pos/.neg, or a sentences file")
    rae_fit.add_argument("--labels", metavar="FILE", help="one label per line, for a file DATA")
    rae_fit.add_argument("--out", required=True, metavar="MODEL")
    rae_names = add_estimator_options(rae_fit, RecursiveAutoencoder)
    rae_pred = rae_sub.add_parser("predict", help="label, probability and tree (JSON lines)")
    rae_pred.add_argument("model", metavar="MODEL")
    rae_pred.add_argument("sentences", nargs="+", metavar="SENTENCE")

    ds = sub.add_parser("datasets", help="print generated data sets")
    ds_sub = ds.add_subparsers(dest="command", metavar="NAME", required=True)
    reber = ds_sub.add_parser("reber", help="Reber grammar strings, one per line")
    reber.add_argument("-n", type=int, default=1000)
    reber.add_argument("--embedded", action="store_true")
    reber.add_argument("--seed", type=int, default=0)
    reber.add_argument("--min-length", type=int, default=10)
    return parser, {"autoencoder": names, "rnn": rnn_names, "rae": rae_names}


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MPLBACKEND", "Agg")
    parser, names = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if args.group is None:
        parser.print_help()
        return 2
    import warnings

    from ._errors import HiddenstateError

    warnings.formatwarning = lambda message, category, *a, **k: (
        f"hiddenstate: warning: {message}\n"
    )
    try:
        if args.group == "reproduce":
            return cmd_reproduce(args)
        if args.group == "bench":
            return cmd_bench(args)
        if args.group == "rnn":
            return cmd_rnn(args, names["rnn"])
        if args.group == "rae":
            return cmd_rae(args, names["rae"])
        if args.group == "datasets":
            return cmd_datasets(args)
        if args.command == "fit":
            return cmd_autoencoder_fit(args, names["autoencoder"])
        if args.command == "plot":
            return cmd_autoencoder_plot(args)
        return cmd_autoencoder_apply(args)
    except KeyboardInterrupt:
        print("hiddenstate: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `hiddenstate ... | head`: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (HiddenstateError, ValueError, OSError) as exc:
        message = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.filename}: {exc.strerror}"
        print(f"hiddenstate: error: {message}", file=sys.stderr)
        return 2
