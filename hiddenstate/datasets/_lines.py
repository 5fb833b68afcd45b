"""Files of one item per line (sentences, sequences, labels): one reading for all.

The rules, the same for every such file the package reads:

- UTF-8, a byte order mark allowed (``utf-8-sig``): it never becomes part of the
  first word, symbol or label (nor does one at the start of a later line, left
  by concatenating files); another text encoding when the caller names one
  (``encoding="latin-1"``, the CLI's ``--encoding``); bytes the encoding cannot
  decode are an error naming the file and line, an unknown encoding an error
  naming it;
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

import codecs
import math
import os
import stat
import sys
from pathlib import Path

from .._errors import InputError
from .._limits import MAX_LINE_CHARS

__all__ = ["read_text", "split_lines", "read_lines", "read_labels", "canonical_label",
           "check_encoding"]

_BOM = "\ufeff"


def check_encoding(encoding: str) -> str:
    """The codec name of ``encoding`` (``"latin-1"`` -> ``"iso8859-1"``); an unknown name,
    or a codec that is not a text encoding (``rot13``, ``base64``), is an
    :class:`InputError`."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        raise InputError(f"unknown encoding {encoding!r} (try utf-8, latin-1, cp1252, "
                         "utf-16)") from None
    if not getattr(info, "_is_text_encoding", True):
        raise InputError(f"{encoding!r} is not a text encoding")
    return info.name


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


def read_text(path: str | os.PathLike, what: str = "item", *,
              encoding: str = "utf-8") -> str:
    """The text of ``path`` (``-``: standard input), decoded with ``encoding`` (UTF-8 by
    default), a leading byte order mark dropped.

    Bytes the encoding cannot decode are an :class:`InputError` naming the line; an
    unknown encoding is an :class:`InputError` naming it.
    """
    codec = check_encoding(encoding)
    if str(path) == "-" and not hasattr(sys.stdin, "buffer"):  # a text stream (tests, IDEs)
        return sys.stdin.read().removeprefix(_BOM)
    data = _read_bytes(path, what)
    if codec == "utf-8":
        codec = "utf-8-sig"
    try:
        return data.decode(codec).removeprefix(_BOM)
    except UnicodeDecodeError as exc:
        # the line is counted in the decoded text before the bad byte (right for UTF-16 too)
        line = data[: exc.start].decode(codec, errors="replace").count("\n") + 1
        name = "UTF-8" if codec == "utf-8-sig" else encoding
        raise InputError(f"not {name} text (byte 0x{data[exc.start]:02x})",
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
               max_chars: int = MAX_LINE_CHARS, encoding: str = "utf-8") -> list[str]:
    """The lines of ``path`` (``-``: standard input), stripped, one ``what`` each.

    Raises :class:`InputError` naming the file and line for bytes that ``encoding``
    (UTF-8 by default) cannot decode, a blank line before the last non-blank one, a
    line of more than ``max_chars`` characters, or a file with no ``what`` at all.
    """
    shown = "<stdin>" if str(path) == "-" else path
    lines = [_strip(ln) for ln in split_lines(read_text(path, what, encoding=encoding))]
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


def read_labels(path: str | os.PathLike, *, encoding: str = "utf-8") -> list[str]:
    """One label per line (:func:`read_lines`), each in its canonical spelling
    (:func:`canonical_label`): ``1`` and ``1.0`` are one class."""
    return [canonical_label(label) for label in read_lines(path, "label", encoding=encoding)]
