"""Figures of merit of the classic experiments."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["multi_hot_step_accuracy", "legal_next_accuracy", "long_range_accuracy",
           "grammar_fraction"]


def multi_hot_step_accuracy(probs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> float:
    """Fraction of steps where ``probs > 0.5`` equals the multi-hot target exactly (W3 (a))."""
    hits = total = 0
    for p, t in zip(probs, targets, strict=True):
        hits += int(np.all((p > 0.5) == (t > 0.5), axis=-1).sum())
        total += len(t)
    return hits / total


def legal_next_accuracy(probs: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> float:
    """Fraction of steps whose most likely next symbol is an allowed one."""
    hits = total = 0
    for p, t in zip(probs, targets, strict=True):
        hits += int((t[np.arange(len(t)), p.argmax(-1)] > 0.5).sum())
        total += len(t)
    return hits / total


def long_range_accuracy(probs: Sequence[np.ndarray], strings: Sequence[str],
                        alphabet: str) -> float:
    """Embedded Reber: argmax over {T, P} at the second-to-last step equals the string's ``e``.

    ``probs[i][t]`` is the prediction after ``strings[i][: t + 1]``; the long-range
    symbol is predicted after the inner string's ``E``, at step ``len(s) - 3``.
    """
    t_idx, p_idx = alphabet.index("T"), alphabet.index("P")
    hits = 0
    for p, s in zip(probs, strings, strict=True):
        row = p[len(s) - 3]
        guess = "T" if row[t_idx] >= row[p_idx] else "P"
        hits += guess == s[1]
    return hits / len(strings)


def grammar_fraction(strings: Sequence[str], in_grammar: Callable[[str], bool]) -> float:
    """Fraction of ``strings`` that are complete strings of the grammar."""
    return sum(bool(in_grammar(s)) for s in strings) / len(strings)
