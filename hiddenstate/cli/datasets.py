"""``hiddenstate datasets``: print generated data sets."""

from __future__ import annotations

from ._options import number

__all__ = ["register"]

#: Strings generated and printed at a time: any ``-n`` runs in bounded memory.
_CHUNK = 10_000


def register(sub) -> None:
    sub.add_parser("datasets", help="print generated data sets", build=_build)


def _build(parser) -> None:
    names = parser.add_subparsers(dest="command", metavar="NAME", required=True)
    reber_parser = names.add_parser("reber", help="Reber grammar strings, one per line")
    reber_parser.add_argument("-n", type=number(int), default=1000, help="strings (default: 1000)")
    reber_parser.add_argument("--embedded", action="store_true")
    reber_parser.add_argument("--seed", type=number(int), default=0)
    reber_parser.add_argument("--min-length", type=number(int), default=10, metavar="N",
                              help="each (inner) string has more than N symbols "
                                   "(default: 10; at most 100000)")
    reber_parser.set_defaults(func=reber)


def reber(args) -> int:
    import sys

    import numpy as np

    from .. import datasets
    from .._errors import InputError
    from ..datasets._reber import MAX_MIN_LENGTH

    if args.n < 0:
        raise InputError(f"-n must be at least 0, got {args.n}")
    if not 0 <= args.min_length <= MAX_MIN_LENGTH:
        raise InputError(f"--min-length must be in [0, {MAX_MIN_LENGTH}], got {args.min_length}")
    if not 0 <= args.seed < 2**63:
        raise InputError(f"--seed must be in [0, 2**63), got {args.seed}")
    rng = np.random.default_rng(args.seed)
    make = datasets.make_embedded_reber if args.embedded else datasets.make_reber
    # In blocks from one generator: the same strings as one call, in bounded memory.
    for start in range(0, args.n, _CHUNK):
        block = make(min(_CHUNK, args.n - start), rng, min_length=args.min_length)
        sys.stdout.write("".join(s + "\n" for s in block))
    return 0
