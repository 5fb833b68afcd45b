"""The Reber grammar and the embedded Reber grammar (seed 002; WORKLOADS.md W3, W4).

Strings include the start symbol ``B`` and the end symbol ``E``.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "REBER_ALPHABET",
    "make_reber",
    "make_embedded_reber",
    "reber_targets",
    "in_reber_grammar",
    "in_embedded_reber_grammar",
    "make_sincos",
]

REBER_ALPHABET = "BTSXPVE"

#: node -> ((next node, emitted symbol), ...); start after 'B' at node 0, end at node 6.
_GRAPH = {
    0: ((1, "T"), (5, "P")),
    1: ((1, "S"), (2, "X")),
    2: ((3, "S"), (5, "X")),
    3: ((6, "E"),),
    4: ((3, "V"), (2, "P")),
    5: ((4, "V"), (5, "T")),
}


def _one_reber(rng: np.random.Generator) -> str:
    node, out = 0, ["B"]
    while node != 6:
        nxt, sym = _GRAPH[node][int(rng.integers(len(_GRAPH[node])))]
        out.append(sym)
        node = nxt
    return "".join(out)


def _generator(rng) -> np.random.Generator:
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, int | np.integer):
        return np.random.default_rng(int(rng))
    return rng


#: The largest ``min_length`` the generators accept (a string is about that long).
MAX_MIN_LENGTH = 100_000

#: Below this chance of drawing a long-enough string, strings are drawn directly from
#: the grammar conditioned on their length instead of by rejection.
_REJECTION_FLOOR = 1e-3


@functools.lru_cache(maxsize=16)
def _log_tail(min_length: int) -> np.ndarray:
    """``log P(a walk from node k emits at least r more symbols)``, ``(min_length + 1, 7)``."""
    out = np.full((min_length + 1, 7), -np.inf)
    out[0] = 0.0
    for r in range(1, min_length + 1):
        for node, edges in _GRAPH.items():
            out[r, node] = np.logaddexp.reduce(
                [out[r - 1, nxt] - np.log(len(edges)) for nxt, _ in edges])
    out.setflags(write=False)
    return out


def _one_long_reber(rng: np.random.Generator, min_length: int) -> str:
    """A Reber string of more than ``min_length`` symbols, drawn from the grammar's
    distribution conditioned on that length (exactly what rejection would give, in
    one pass): each move is weighted by the chance that the walk after it is still
    long enough."""
    tail = _log_tail(min_length)
    node, need, out = 0, min_length, ["B"]
    while node != 6:
        edges = _GRAPH[node]
        logw = np.array([tail[max(need - 1, 0), nxt] for nxt, _ in edges])
        w = np.exp(logw - logw.max())
        k = int(np.searchsorted(np.cumsum(w / w.sum()), rng.random(), side="right"))
        node, sym = edges[min(k, len(edges) - 1)]
        out.append(sym)
        need = max(need - 1, 0)
    return "".join(out)


def _check_sizes(n, min_length) -> tuple[int, int]:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    if (isinstance(min_length, bool) or not isinstance(min_length, int | np.integer)
            or not 0 <= min_length <= MAX_MIN_LENGTH):
        raise ValueError(f"min_length must be an integer in [0, {MAX_MIN_LENGTH}], "
                         f"got {min_length!r}")
    return int(n), int(min_length)


def make_reber(n: int, rng=None, min_length: int = 10) -> list[str]:
    """``n`` strings of the Reber grammar with more than ``min_length`` symbols.

    Strings that are too short are regenerated (WORKLOADS.md W3); ``min_length=0``
    gives the grammar's own distribution. When fewer than one string in 1,000 is
    long enough (``min_length`` above 26), each string is drawn directly from the
    same conditional distribution instead, so any ``min_length`` up to
    :data:`MAX_MIN_LENGTH` takes time proportional to the strings' length.
    """
    n, min_length = _check_sizes(n, min_length)
    rng = _generator(rng)
    out = []
    if np.exp(_log_tail(min_length)[min_length, 0]) < _REJECTION_FLOOR:
        return [_one_long_reber(rng, min_length) for _ in range(n)]
    while len(out) < n:
        s = _one_reber(rng)
        if len(s) > min_length:
            out.append(s)
    return out


def make_embedded_reber(n: int, rng=None, min_length: int = 10) -> list[str]:
    """``'B' + e + reber + e + 'E'`` with ``e`` uniform in {T, P} (the same twice).

    The inner Reber string has more than ``min_length`` symbols (seed 002), so the
    dependency between the two ``e`` spans at least ``min_length + 1`` steps;
    ``min_length=0`` is the classic grammar of Hochreiter & Schmidhuber (1997).
    """
    n, min_length = _check_sizes(n, min_length)
    rng = _generator(rng)
    out = []
    for _ in range(n):
        e = "TP"[int(rng.integers(2))]
        inner = make_reber(1, rng, min_length)[0]
        out.append("B" + e + inner + e + "E")
    return out


def make_long_range_pairs(n: int, rng=None, min_length: int = 10
                          ) -> tuple[list[list[str]], np.ndarray]:
    """The embedded Reber grammar's long-range dependency as a classification task.

    ``n`` embedded Reber strings (:func:`make_embedded_reber`) and the same strings
    with the second-to-last symbol swapped (T <-> P): ``2n`` symbol lists (each
    string as a list of its characters, the order alternating) and labels, 1 for a
    string of the grammar, 0 for its swapped twin. The only difference is that one
    symbol, which must repeat the second one, ``min_length + 2`` or more steps
    earlier: a classifier must carry the second symbol across the inner string.
    """
    strings = make_embedded_reber(n, rng, min_length)
    X: list[list[str]] = []
    for s in strings:
        swapped = s[:-2] + ("P" if s[-2] == "T" else "T") + s[-1]
        X += [list(s), list(swapped)]
    return X, np.tile(np.array([1, 0], np.int64), len(strings))


def _reber_allowed(s: str) -> list[str] | None:
    """Allowed next symbols after each prefix of a Reber string (None if illegal)."""
    if not s or s[0] != "B":
        return None
    allowed = ["TP"]
    node = 0
    for sym in s[1:]:
        if node == 6:
            return None
        moves = dict((b, a) for a, b in _GRAPH[node])
        if sym not in moves:
            return None
        node = moves[sym]
        allowed.append("".join(b for _, b in _GRAPH[node]) if node != 6 else "")
    return allowed


def in_reber_grammar(s: str) -> bool:
    """Whether ``s`` is a complete string of the Reber grammar (``B ... E``)."""
    allowed = _reber_allowed(s)
    return allowed is not None and s.endswith("E") and allowed[-1] == ""


def in_embedded_reber_grammar(s: str) -> bool:
    """Whether ``s`` is a complete string of the embedded Reber grammar."""
    return (
        len(s) >= 4
        and s[0] == "B"
        and s[1] in "TP"
        and s[-1] == "E"
        and s[-2] == s[1]
        and in_reber_grammar(s[2:-2])
    )


def reber_targets(s: str, embedded: bool | None = None) -> np.ndarray:
    """Allowed-next multi-hot targets ``(len(s) - 1, 7)``: row t is what may follow ``s[:t+1]``.

    Works for Reber and embedded Reber strings (detected when ``embedded`` is None).
    """
    if embedded is None:
        embedded = in_embedded_reber_grammar(s)
    if embedded:
        e = s[1]
        inner = _reber_allowed(s[2:-2])
        if inner is None:
            raise ValueError(f"not an embedded Reber string: {s!r}")
        rows = ["TP", "B", *inner[:-1], e, "E"]
    else:
        allowed = _reber_allowed(s)
        if allowed is None or not s.endswith("E"):
            raise ValueError(f"not a Reber string: {s!r}")
        rows = allowed[:-1]
    out = np.zeros((len(s) - 1, len(REBER_ALPHABET)), np.float32)
    for t, symbols in enumerate(rows):
        for sym in symbols:
            out[t, REBER_ALPHABET.index(sym)] = 1.0
    return out


def make_sincos() -> tuple[np.ndarray, np.ndarray]:
    """W6: inputs ``S`` (2, 32, 2) and targets ``T = roll(S, 1, axis=1)``."""
    x = np.arange(0, 2 * np.pi, 0.2)
    s = np.stack([np.sin(x), np.cos(x)], axis=1)
    S = np.stack([s, np.roll(s, 1, axis=0)]).astype(np.float32)
    return S, np.roll(S, 1, axis=1)
