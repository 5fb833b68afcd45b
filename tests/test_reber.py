"""The Reber grammars, their targets, and the W6 data."""

from __future__ import annotations

import numpy as np

from hiddenstate.datasets import (
    REBER_ALPHABET,
    in_embedded_reber_grammar,
    in_reber_grammar,
    make_embedded_reber,
    make_reber,
    make_sincos,
    reber_targets,
)


def test_reber_strings_are_in_the_grammar_and_long_enough():
    strings = make_reber(300, np.random.default_rng(0))
    assert all(in_reber_grammar(s) and len(s) > 10 for s in strings)
    assert all(s[0] == "B" and s[-1] == "E" for s in strings)
    short = make_reber(300, np.random.default_rng(0), min_length=0)
    assert min(len(s) for s in short) == 5  # BTXSE / BPVVE
    assert make_reber(5, np.random.default_rng(3)) == make_reber(5, np.random.default_rng(3))


def test_grammar_checks_reject_near_misses():
    assert in_reber_grammar("BTXSE") and in_reber_grammar("BPVVE")
    for bad in ("BTXS", "TXSE", "BTXSEE", "BTTE", "BPVVX", ""):
        assert not in_reber_grammar(bad), bad
    emb = make_embedded_reber(200, np.random.default_rng(1))
    assert all(in_embedded_reber_grammar(s) for s in emb)
    s = emb[0]
    flipped = s[:-2] + ("P" if s[-2] == "T" else "T") + "E"
    assert not in_embedded_reber_grammar(flipped)
    assert all(len(s) > 14 for s in emb)


def test_targets_are_the_allowed_next_symbols():
    t = reber_targets("BTXSE")
    allowed = ["".join(REBER_ALPHABET[j] for j in np.flatnonzero(row)) for row in t]
    assert allowed == ["TP", "SX", "SX", "E"]
    e = reber_targets("BTBPVVETE")
    rows = ["".join(REBER_ALPHABET[j] for j in np.flatnonzero(row)) for row in e]
    assert rows == ["TP", "B", "TP", "TV", "PV", "E", "T", "E"]


def test_sincos():
    S, T = make_sincos()
    assert S.shape == T.shape == (2, 32, 2)
    np.testing.assert_allclose(T[:, 1], S[:, 0])
