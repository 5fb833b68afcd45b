"""The user's own symbol sequences: a text file with one sequence per line."""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import InputError
from .._limits import MAX_LINE_CHARS
from ._lines import read_text, split_lines

__all__ = ["load_sequences"]


def load_sequences(path: str | os.PathLike, alphabet: str | None = None, *,
                   encoding: str = "utf-8") -> tuple[list[str], str]:
    """Read one sequence per line: every character of a line is a symbol.

    Lines are read as :mod:`hiddenstate.datasets._lines` reads every file of one
    item per line (UTF-8 with an optional BOM that never becomes a symbol, or the
    text ``encoding`` named, e.g. ``"latin-1"``: bytes it cannot decode are an error
    naming the line; lines end at ``"\\n"`` only, so U+2028 or a form feed is a
    symbol, not a break; lines of at most :data:`~hiddenstate._limits.MAX_LINE_CHARS`
    characters); here blank lines are skipped and trailing blanks (spaces, tabs,
    ``"\\r"``) dropped.

    Returns ``(sequences, alphabet)``; the alphabet is inferred (sorted symbols) when
    not given. A given alphabet must not repeat a symbol; a symbol outside it is an
    :class:`InputError` naming the file, line and column.
    """
    path = Path(path)
    if alphabet is not None:
        _check_alphabet(alphabet)
    seqs, lines = [], []
    text = read_text(path, "sequence", encoding=encoding, max_line_chars=MAX_LINE_CHARS)
    for number, line in enumerate(split_lines(text), 1):
        line = line.rstrip(" \t\r\v")
        if len(line) > MAX_LINE_CHARS:
            raise InputError(f"a sequence of {len(line):,} symbols; a line may have at most "
                             f"{MAX_LINE_CHARS:,}", path=path, line=number)
        if line:
            seqs.append(line)
            lines.append(number)
    if not seqs:
        raise InputError("no sequences (the file is empty)", path=path)
    if alphabet is None:
        alphabet = "".join(sorted(set("".join(seqs))))
    allowed = set(alphabet)
    for s, number in zip(seqs, lines, strict=True):
        for col, ch in enumerate(s, 1):
            if ch not in allowed:
                raise InputError(f"symbol {ch!r} is not in the alphabet {alphabet!r}",
                                 path=path, line=number, column=col)
        if len(s) < 2:
            raise InputError("a sequence needs at least 2 symbols", path=path, line=number)
    return seqs, alphabet


def _check_alphabet(alphabet: str) -> None:
    if not isinstance(alphabet, str) or not alphabet:
        raise InputError(f"the alphabet must be a non-empty string of symbols, got {alphabet!r}")
    seen: dict[str, int] = {}
    for i, ch in enumerate(alphabet):
        if ch in seen:
            raise InputError(f"the alphabet {alphabet!r} repeats the symbol {ch!r} (positions "
                             f"{seen[ch] + 1} and {i + 1}); each symbol must appear once")
        seen[ch] = i
