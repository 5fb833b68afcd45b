"""``hiddenstate autoencoder``: fit, transform, reconstruct, score and plot on table files."""

from __future__ import annotations

import sys
from pathlib import Path

from ._common import (
    BUILTIN_DATA,
    add_header_option,
    add_preparation_options,
    fit_preparation,
    load_prepared,
    preparation_used,
    read_data,
    read_prepared,
)
from ._options import add_estimator_options, estimator_kwargs, number
from ._outputs import (
    add_raw_text_option,
    check_checkpoint_dir,
    check_out,
    console,
    fit_save_report,
    print_settings,
    verbose_prints_settings,
    write_or_print,
    write_with_ids,
)

__all__ = ["register"]

def register(sub) -> None:
    sub.add_parser("autoencoder", help="fit and apply autoencoders on your files", build=_build)


def _build(parser) -> None:
    actions = parser.add_subparsers(dest="command", metavar="ACTION", required=True)
    actions.add_parser("fit", help="train on DATA, write MODEL", build=_build_fit)
    for action, help_text in _APPLY.items():
        p = actions.add_parser(action, help=help_text)
        p.add_argument("model", metavar="MODEL")
        p.add_argument("data", metavar="DATA")
        p.add_argument("--out", metavar="FILE", help=".npy/.csv/.tsv (default: CSV on stdout)")
        add_raw_text_option(p)
        add_header_option(p)
        p.set_defaults(func=apply)
    plot_parser = actions.add_parser("plot", help="feature tiles or the learning curve as PNG")
    plot_parser.add_argument("model", metavar="MODEL")
    plot_parser.add_argument("--kind", choices=["auto", "tiles", "curve"], default="auto",
                             help="auto: tiles when the inputs form a square image, else the curve")
    plot_parser.add_argument("--out", required=True, metavar="PNG")
    plot_parser.set_defaults(func=plot)


def _build_fit(fit_parser) -> None:
    from .._limits import MAX_PROCESSES, MAX_TIMEOUT
    fit_parser.add_argument(
        "data", metavar="DATA",
        help=f".csv, .tsv, .txt or .npy file, or one of {', '.join(BUILTIN_DATA)}")
    fit_parser.add_argument("--out", required=True, metavar="MODEL", help="model file to write")
    add_header_option(fit_parser)
    add_preparation_options(fit_parser)
    fit_parser.add_argument("--chunk-rows", type=number(int), metavar="N",
                            help="stream the file in blocks of N rows (bounded memory; not "
                                 "with --early-stopping, --checkpoint-dir or several "
                                 "processes)")
    dist = fit_parser.add_argument_group("several processes (jax.distributed)")
    dist.add_argument("--coordinator", metavar="HOST:PORT",
                      help="address of process 0's coordinator")
    dist.add_argument("--num-processes", type=number(int, high=MAX_PROCESSES), default=1,
                      metavar="N")
    dist.add_argument("--process-id", type=number(int), default=0, metavar="I",
                      help="this process, in [0, N) (default: 0)")
    dist.add_argument("--distributed-timeout", type=number(float, 0, MAX_TIMEOUT, above=True),
                      default=300, metavar="SECONDS",
                      help="give up (exit status 2) when not every process has joined "
                           "after this long (default: 300)")
    add_estimator_options(fit_parser, "Autoencoder")
    verbose_prints_settings(fit_parser)
    fit_parser.set_defaults(func=fit)


# -- fit ------------------------------------------------------------------------------------


def _check_fit_options(args, kwargs: dict) -> None:
    """Options that cannot work together are refused before anything is read or trained."""
    from .._errors import InputError

    if args.num_processes < 1:
        raise InputError(f"--num-processes must be at least 1, got {args.num_processes}")
    if args.process_id < 0:
        raise InputError(f"--process-id must be at least 0, got {args.process_id}")
    if args.process_id >= args.num_processes:
        raise InputError(f"--process-id {args.process_id} needs --num-processes N with N > "
                         f"{args.process_id} (and --coordinator HOST:PORT); --num-processes is "
                         f"{args.num_processes}")
    if args.num_processes > 1 and not args.coordinator:
        raise InputError("--num-processes > 1 needs --coordinator HOST:PORT")
    if args.coordinator and args.num_processes == 1:
        raise InputError("--coordinator is for several processes: give --num-processes N "
                         "(N > 1) and --process-id I")
    if not args.distributed_timeout > 0:
        raise InputError(f"--distributed-timeout must be positive, got "
                         f"{args.distributed_timeout}")
    if preparation_used(args) and (args.chunk_rows is not None or args.num_processes > 1):
        raise InputError(f"--scale, --columns, --drop and --id-column read the whole file in "
                         f"one process: drop them or "
                         f"{'--chunk-rows' if args.chunk_rows is not None else '--num-processes'}")
    if args.chunk_rows is not None:
        if args.chunk_rows < 1:
            raise InputError(f"--chunk-rows must be at least 1, got {args.chunk_rows}")
        clash = [flag for flag, on in (
            ("--early-stopping", kwargs.get("early_stopping")),
            ("--checkpoint-dir", kwargs.get("checkpoint_dir") is not None),
            ("--resume", kwargs.get("resume")),
            ("--num-processes", args.num_processes > 1)) if on]
        if clash:
            raise InputError(f"--chunk-rows cannot be combined with {clash[0]}: streaming the "
                             "file block by block keeps no validation split, checkpoints or "
                             "shared rows; drop one of the two")
        if args.data in BUILTIN_DATA and not Path(args.data).exists():
            raise InputError(f"--chunk-rows streams a file; {args.data} is built-in data: "
                             "drop --chunk-rows")
    check_out(args.out, args.data)
    check_checkpoint_dir(kwargs.get("checkpoint_dir"))


def fit(args) -> int:
    from ..estimators import Autoencoder

    kwargs = estimator_kwargs(args, Autoencoder)
    _check_fit_options(args, kwargs)
    est = Autoencoder(**kwargs)
    out = console(stderr=True)
    if args.chunk_rows is not None:
        return _fit_in_blocks(args, est, out)
    prepared = preparation_used(args)
    ids = None
    if args.num_processes > 1:
        X, columns = _read_process_rows(args, est)
    elif prepared:
        X, columns, ids = read_prepared(args.data, args.header, columns=args.columns,
                                        drop=args.drop, id_column=args.id_column)
    else:
        X, columns = read_data(args.data, args.header)
    print_settings(est, args.data, X.shape)
    scaler, data = fit_preparation(args, X, columns)
    if args.process_id != 0:  # its --out is not written: process 0 saves (to its own --out)
        fit_save_report(est, None, lambda: est.fit(data), report=lambda seconds: (
            f"process {args.process_id}: trained {est.n_iter_} epochs in {seconds:.2f} s; "
            f"process 0 saves the model to its --out, this process writes nothing"))
        return 0
    preparation = {"scaler": scaler, "columns": columns, "id_column": args.id_column}
    fit_save_report(est, args.out, lambda: est.fit(data), inputs=f"{len(data)} rows",
                    preparation=preparation if prepared else None,
                    notes=[lambda: f"reconstruction error {-est.score(data):.6g}"])
    return 0


def _fit_in_blocks(args, est, out) -> int:
    out.print(f"[bold]Autoencoder[/] on {args.data} in blocks of {args.chunk_rows} rows")
    fit_save_report(est, args.out, lambda: est.fit_file(
        args.data, chunk_rows=args.chunk_rows, header=args.header))
    return 0


def _read_process_rows(args, est):
    """Join the multi-process run, check that every process runs the same version,
    settings and data; read this process's rows, then gather everyone's."""
    import numpy as np

    from .. import distributed

    distributed.initialize(args.coordinator, args.num_processes, args.process_id,
                           timeout=args.distributed_timeout)
    distributed.agree(**_run_fingerprint(args, est))
    if str(args.data).endswith(".npy") and Path(args.data).exists():
        whole = np.load(args.data, mmap_mode="r", allow_pickle=False)
        if whole.ndim != 2:
            raise ValueError(f"{args.data}: needs a 2-D array, found shape {whole.shape}")
        mine = np.asarray(whole[distributed.process_rows(whole.shape[0])], np.float32)
        columns = None
    else:  # text and built-in data: parsed whole, then this process's block is kept
        X, columns = read_data(args.data, args.header)
        mine = X[distributed.process_rows(X.shape[0])]
    return distributed.allgather_rows(mine), columns


def _run_fingerprint(args, est) -> dict[str, str]:
    """What every process of a run must share: the versions, the settings (all but
    --verbose, --out and --process-id) and the data (its file's bytes, or a built-in
    name). Hashing the file reads it once; every process holds all rows afterwards."""
    import hashlib
    import json
    import platform

    import jax

    from .._version import version

    settings = {k: v for k, v in est.get_params().items() if k != "verbose"}
    settings.update(header=args.header, num_processes=args.num_processes)
    path = Path(args.data)
    if path.is_file():
        with open(path, "rb") as handle:
            data = "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()
    else:
        data = f"name:{args.data}"
    return {"version": f"hiddenstate {version()}, jax {jax.__version__}, python "
                       f"{platform.python_version()}",
            "settings": json.dumps(settings, sort_keys=True, default=str),
            "data": data}


# -- transform, reconstruct, score ----------------------------------------------------------

_APPLY = {
    "transform": "codes of DATA",
    "reconstruct": "reconstructions of DATA",
    "score": "per-row reconstruction error of DATA (higher = more anomalous)",
}


def _load(path):
    from ..estimators import Autoencoder

    return load_prepared(path, Autoencoder)


def apply(args) -> int:
    check_out(args.out, args.model, args.data, table=True)
    loaded = _load(args.model)
    model = loaded.estimator
    data = loaded.read(args.data, args.header, args.model)
    X = loaded.prepare(data)
    if args.command == "transform":
        result = model.transform(X)
        names = [str(n) for n in model.get_feature_names_out()]
    elif args.command == "reconstruct":
        result = model.predict(X)
        if loaded.scalers:  # back in the units of DATA
            for scaler in reversed(loaded.scalers):
                result = scaler.inverse_transform(result)
        names = data.columns
    else:
        result = model.reconstruction_error(X)
        names = ["reconstruction_error"]
    if loaded.id_column is not None:
        write_with_ids(result, args.out, names, data.ids, loaded.id_column,
                       raw_text=args.raw_text)
    else:
        write_or_print(result, args.out, names, raw_text=args.raw_text)
    return 0


# -- plot -----------------------------------------------------------------------------------


def plot(args) -> int:
    import math

    import numpy as np

    from .. import plotting

    check_out(args.out, args.model)
    model = _load(args.model).estimator
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
