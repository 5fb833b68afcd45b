"""``hiddenstate datasets``: print generated data sets."""

from __future__ import annotations

__all__ = ["register"]


def register(sub) -> None:
    sub.add_parser("datasets", help="print generated data sets", build=_build)


def _build(parser) -> None:
    names = parser.add_subparsers(dest="command", metavar="NAME", required=True)
    reber_parser = names.add_parser("reber", help="Reber grammar strings, one per line")
    reber_parser.add_argument("-n", type=int, default=1000)
    reber_parser.add_argument("--embedded", action="store_true")
    reber_parser.add_argument("--seed", type=int, default=0)
    reber_parser.add_argument("--min-length", type=int, default=10)
    reber_parser.set_defaults(func=reber)


def reber(args) -> int:
    import numpy as np

    from .. import datasets

    rng = np.random.default_rng(args.seed)
    make = datasets.make_embedded_reber if args.embedded else datasets.make_reber
    for s in make(args.n, rng, min_length=args.min_length):
        print(s)
    return 0
