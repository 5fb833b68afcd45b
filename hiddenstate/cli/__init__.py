"""The ``hiddenstate`` command: thin parsing and dispatch over the library.

One module per command group (``autoencoder``, ``rnn``, ``rae``, ``classify``,
``detect``, ``reproduce``, ``bench``, ``datasets``); each registers its parser with a help
line and builds the rest only when it is the group being run, so ``hiddenstate --help``
imports neither the estimators nor JAX. Each command sets ``func``; ``main``
calls it.

Errors a user can cause end in one line on stderr (``hiddenstate: error: ...``)
and exit status 2, never a traceback.
"""

from __future__ import annotations

import os
import sys

from . import autoencoder, bench, classify, datasets, detect, rae, reproduce, rnn
from ._common import Parser

__all__ = ["build_parser", "main"]

#: The command groups, in the order ``--help`` lists them.
GROUPS = (reproduce, bench, autoencoder, rnn, rae, classify, detect, datasets)


def build_parser() -> Parser:
    """The whole command line; each group's arguments are added when it is parsed."""
    parser = Parser(
        prog="hiddenstate",
        description="Classic hidden-representation models (autoencoders, RNNs) on JAX.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (2 for every error a user can cause)."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    if args.version:
        from .. import __version__

        print(__version__)
        return 0
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return _run(args)


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
