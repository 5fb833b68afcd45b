"""The user's own symbol sequences: a text file with one sequence per line."""

from __future__ import annotations

import os
from pathlib import Path

from .._errors import InputError

__all__ = ["load_sequences"]


def load_sequences(path: str | os.PathLike, alphabet: str | None = None) -> tuple[list[str], str]:
    """Read one sequence per line (UTF-8; blank lines skipped, trailing spaces kept out).

    Returns ``(sequences, alphabet)``; the alphabet is inferred (sorted symbols) when
    not given. A symbol outside a given alphabet is an :class:`InputError` naming the
    file, line and column.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", path=path) from None
    seqs, lines = [], []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
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
