"""Files of one item per line (sentences, sequences, labels): one reading for all.

The rules, the same for every such file the package reads:

- UTF-8, a byte order mark allowed (``utf-8-sig``): it never becomes part of the
  first word, symbol or label (nor does one at the start of a later line, left
  by concatenating files);
- lines end at ``"\\n"`` only (a ``"\\r"`` before it is dropped): U+2028, U+0085,
  form feeds and ``\\x1c``-``\\x1e`` are characters of the line, never breaks;
- a blank line inside the file is an error naming its line (every line is one
  item, so a skipped line would pair sentences with the wrong labels); blank
  lines at the end of the file are ignored;
- a line longer than :data:`~hiddenstate._limits.MAX_LINE_CHARS` characters is
  an error naming the line and the limit;
- labels: a label that reads as a finite number is that number, written
  canonically (``1``, ``1.0``, ``+1`` and ``1e0`` are the class ``1``; ``0.50``
  is ``0.5``); any other label is its text, stripped (``True`` stays ``True``).
"""

from __future__ import annotations

import math
import os
import stat
import sys
from pathlib import Path

from .._errors import InputError
from .._limits import MAX_LINE_CHARS

__all__ = ["read_text", "split_lines", "read_lines", "read_labels", "canonical_label"]

_BOM = "\ufeff"


def _read_bytes(path, what: str) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", path=path) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"a folder, not a file of one {what} per line", path=path)
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        raise InputError(f"a device, not a file of one {what} per line", path=path)
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", path=path) from None


def read_text(path: str | os.PathLike, what: str = "item") -> str:
    """The text of ``path`` (``-``: standard input), decoded as UTF-8 with an optional BOM.

    Bytes that are not UTF-8 are an :class:`InputError` naming the line.
    """
    if str(path) == "-" and not hasattr(sys.stdin, "buffer"):  # a text stream (tests, IDEs)
        return sys.stdin.read().removeprefix(_BOM)
    data = _read_bytes(path, what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                         path="<stdin>" if str(path) == "-" else path, line=line) from None


def split_lines(text: str) -> list[str]:
    """``text`` cut at ``"\\n"`` only, each line without its ``"\\r"`` and leading BOM;
    no last empty line for a final ``"\\n"``. (``str.splitlines`` would also cut at
    U+2028, U+0085, ``\\f``, ``\\x1c``, ...)"""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln.removesuffix("\r").lstrip(_BOM) for ln in lines]


def _strip(line: str) -> str:
    """``line`` without blanks or byte order marks at either end."""
    while True:
        stripped = line.strip().strip(_BOM)
        if stripped == line:
            return line
        line = stripped


def read_lines(path: str | os.PathLike, what: str = "sequence", *,
               max_chars: int = MAX_LINE_CHARS) -> list[str]:
    """The lines of ``path`` (``-``: standard input), stripped, one ``what`` each.

    Raises :class:`InputError` naming the file and line for bytes that are not
    UTF-8, a blank line before the last non-blank one, a line of more than
    ``max_chars`` characters, or a file with no ``what`` at all.
    """
    shown = "<stdin>" if str(path) == "-" else path
    lines = [_strip(ln) for ln in split_lines(read_text(path, what))]
    while lines and not lines[-1]:
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line:
            raise InputError(f"blank line: every line is one {what}", path=shown, line=number)
        if len(line) > max_chars:
            raise InputError(f"a line of {len(line):,} characters; a {what} may have at most "
                             f"{max_chars:,}", path=shown, line=number)
    if not lines:
        raise InputError(f"empty file: no {what}s", path=shown)
    return lines


def canonical_label(text: str) -> str:
    """The class a label's text stands for: a finite number in one spelling
    (``'1.0'`` -> ``'1'``, ``'0.50'`` -> ``'0.5'``), any other text as it is."""
    try:
        value = float(text)
    except ValueError:
        return text
    if not math.isfinite(value):
        return text
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def read_labels(path: str | os.PathLike) -> list[str]:
    """One label per line (:func:`read_lines`), each in its canonical spelling
    (:func:`canonical_label`): ``1`` and ``1.0`` are one class."""
    return [canonical_label(label) for label in read_lines(path, "label")]
