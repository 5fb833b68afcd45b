"""The ``hiddenstate`` command: thin parsing and dispatch over the library.

One module per command group (``autoencoder``, ``rnn``, ``seqae``, ``rae``, ``classify``,
``detect``, ``export``, ``reproduce``, ``bench``, ``datasets``); each registers its parser
with a help line and builds the rest only when it is the group being run, so ``hiddenstate --help``
imports neither the estimators nor JAX. Each command sets ``func``; ``main``
calls it.

Errors a user can cause end in one line on stderr (``hiddenstate: error: ...``)
and exit status 2, never a traceback: bad data, options, files and sizes
(:class:`~hiddenstate.HiddenstateError`, ``ValueError``, ``OSError``), memory
exhaustion (``MemoryError``, XLA's ``RESOURCE_EXHAUSTED``), numbers too
large (``OverflowError``) and inputs nested too deeply (``RecursionError``).
Any other exception is a bug of hiddenstate: one line ``hiddenstate: internal
error: ...`` and exit status 1. ``--debug`` (anywhere
before ``--``) prints the traceback as well.
"""

from __future__ import annotations

import os
import sys

from . import (
    autoencoder,
    bench,
    classify,
    datasets,
    detect,
    export,
    rae,
    reproduce,
    rnn,
    seqae,
)
from ._options import Parser

__all__ = ["build_parser", "main"]

#: The command groups, in the order ``--help`` lists them.
GROUPS = (reproduce, bench, autoencoder, rnn, seqae, rae, classify, detect, export, datasets)


def build_parser() -> Parser:
    """The whole command line; each group's arguments are added when it is parsed."""
    parser = Parser(
        prog="hiddenstate",
        description="Classic hidden-representation models (autoencoders, RNNs) on JAX.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--debug", action="store_true",
                        help="on an error, print the traceback too (may be given anywhere)")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (2 for every error a user can cause)."""
    from .._errors import HiddenstateError

    os.environ.setdefault("MPLBACKEND", "Agg")
    argv, debug = _take_debug(sys.argv[1:] if argv is None else list(argv))
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    except HiddenstateError as exc:  # building a command's options loads the library
        print(f"hiddenstate: error: {exc}", file=sys.stderr)  # (a bad compilation cache)
        return 2
    if args.version:
        from .._version import version

        print(version())
        return 0
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    args.debug = debug or args.debug
    return _run(args)


def _take_debug(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--debug`` (wherever it stands before ``--``), and whether it was there."""
    end = argv.index("--") if "--" in argv else len(argv)
    kept = [a for a in argv[:end] if a != "--debug"]
    return kept + argv[end:], len(kept) < end


#: Exceptions a user can cause (besides HiddenstateError): printed as one line, status 2.
_USER_ERRORS = (ValueError, OSError, MemoryError, OverflowError, RecursionError)


def _message(exc: BaseException) -> str:
    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        message = f"{exc.filename}: {exc.strerror}"
    elif isinstance(exc, MemoryError):
        message = f"out of memory{': ' + message if message != 'MemoryError' else ''}"
    elif isinstance(exc, RecursionError):
        message = f"the input is nested too deeply ({message})"
    # One line: the first line of a long message (XLA's carry their own tracebacks).
    first = message.splitlines()[0] if message.splitlines() else message
    return first if len(first) <= 2000 else first[:2000] + " ..."


def _is_out_of_memory(exc: BaseException) -> bool:
    """XLA's allocation failure (``XlaRuntimeError: RESOURCE_EXHAUSTED``), a RuntimeError."""
    return type(exc).__name__ in ("XlaRuntimeError", "JaxRuntimeError") and (
        "RESOURCE_EXHAUSTED" in str(exc) or "Out of memory" in str(exc))


def _run(args) -> int:
    import warnings

    from .._errors import HiddenstateError

    warnings.formatwarning = lambda message, category, *a, **k: (
        f"hiddenstate: warning: {message}\n"
    )
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("hiddenstate: interrupted", file=sys.stderr)
        _leave_run("interrupted", 130)
        return 130
    except BrokenPipeError:  # e.g. `hiddenstate ... | head`: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - every error ends in one line, see the docstring
        if getattr(args, "debug", False):
            import traceback

            traceback.print_exc()
        peer = _peer_failure(exc)
        if peer or isinstance(exc, (HiddenstateError, *_USER_ERRORS)) or _is_out_of_memory(exc):
            message = peer or _message(exc)
            if _is_out_of_memory(exc):
                message = f"out of memory: {message}"
            print(f"hiddenstate: error: {message}", file=sys.stderr)
            _leave_run(message, 2)
            return 2
        print(f"hiddenstate: internal error: {type(exc).__name__}: {_message(exc)} (a bug of "
              "hiddenstate; rerun with --debug for the traceback and report it)",
              file=sys.stderr)
        _leave_run(f"internal error: {type(exc).__name__}", 1)
        return 1


def _peer_failure(exc: BaseException) -> str | None:
    """In a multi-process run, why a collective failed (another process stopped)."""
    distributed = sys.modules.get("hiddenstate.distributed")
    return None if distributed is None else distributed.collective_failed(exc)


def _leave_run(message: str, status: int) -> None:
    """In a multi-process run, tell the other processes why this one stops and exit now
    (JAX's shutdown at exit would wait for them); otherwise nothing."""
    distributed = sys.modules.get("hiddenstate.distributed")
    if distributed is not None and distributed.is_initialized():
        distributed.abandon(message, status)
