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
from collections.abc import Iterator

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


#: Bytes read at a time: a line over the limit is refused after at most this much more.
_CHUNK_BYTES = 1 << 20
#: Blanks count towards a line's limit only past this many times the limit (the
#: limit is on a line's text without the blanks around it; a line of nothing but
#: gigabytes of blanks must still end).
_BLANK_ALLOWANCE = 10


def _byte_chunks(path, what: str) -> Iterator[bytes]:
    """The bytes of ``path`` (``-``: standard input) in chunks of :data:`_CHUNK_BYTES`."""
    if str(path) == "-":
        yield from iter(lambda: sys.stdin.buffer.read(_CHUNK_BYTES), b"")
        return
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
        with open(path, "rb") as handle:
            yield from iter(lambda: handle.read(_CHUNK_BYTES), b"")
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}", path=path) from None


def _text_chunks(path, what: str, codec: str, encoding: str) -> Iterator[str]:
    """The text of ``path`` decoded chunk by chunk; bytes ``codec`` cannot decode are an
    :class:`InputError` naming the line."""
    if str(path) == "-" and not hasattr(sys.stdin, "buffer"):  # a text stream (tests, IDEs)
        yield from iter(lambda: sys.stdin.read(_CHUNK_BYTES), "")
        return
    decoder = codecs.getincrementaldecoder(codec)()
    newlines = 0
    for final, data in _with_last(_byte_chunks(path, what)):
        state = decoder.getstate()
        try:
            text = decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            raise _undecodable(exc, state, codec, encoding, newlines,
                               "<stdin>" if str(path) == "-" else path) from None
        newlines += text.count("\n")
        yield text


def _with_last(chunks: Iterator[bytes]) -> Iterator[tuple[bool, bytes]]:
    """``(is the last chunk, chunk)`` of ``chunks``; an empty last chunk when there is none,
    so that a decoder is always told the input ended."""
    previous = None
    for chunk in chunks:
        if previous is not None:
            yield False, previous
        previous = chunk
    yield True, previous or b""


def _undecodable(exc: UnicodeDecodeError, state, codec: str, encoding: str, newlines: int,
                 shown) -> InputError:
    """The error for bytes ``codec`` cannot decode (the decoder held ``state`` before the
    chunk), naming the line: the lines before the chunk, and those before the bad byte
    in what the decoder was given (counted in decoded text, right for UTF-16 too)."""
    before = codecs.getincrementaldecoder(codec)(errors="replace")
    before.setstate((b"", state[1]))
    newlines += before.decode(exc.object[: exc.start]).count("\n")
    name = "UTF-8" if codec == "utf-8-sig" else encoding
    return InputError(f"not {name} text (byte 0x{exc.object[exc.start]:02x})", path=shown,
                      line=newlines + 1)


def _check_open_line(parts: list[str], line: int, max_chars: int, what: str, shown) -> None:
    """InputError when the line being read (``parts``, not ended yet) already has more
    than ``max_chars`` characters without the blanks around it, or more than
    :data:`_BLANK_ALLOWANCE` times that with them."""
    length = sum(map(len, parts))
    if length <= max_chars:
        return
    if length > _BLANK_ALLOWANCE * max_chars or len(_strip("".join(parts))) > max_chars:
        raise InputError(f"a line of over {max_chars:,} characters; a {what} may have at "
                         f"most {max_chars:,}", path=shown, line=line)


def read_text(path: str | os.PathLike, what: str = "item", *,
              encoding: str = "utf-8", max_line_chars: int | None = None) -> str:
    """The text of ``path`` (``-``: standard input), decoded with ``encoding`` (UTF-8 by
    default), a leading byte order mark dropped.

    Bytes the encoding cannot decode are an :class:`InputError` naming the line; an
    unknown encoding is an :class:`InputError` naming it. With ``max_line_chars``,
    the file is read in chunks and a line whose text (without the blanks around it)
    passes that many characters is an :class:`InputError` naming the line as soon
    as it is read, without reading the rest (a one-line file of gigabytes, endless
    standard input); callers still check each whole line.
    """
    codec = check_encoding(encoding)
    if codec == "utf-8":
        codec = "utf-8-sig"
    shown = "<stdin>" if str(path) == "-" else path
    parts: list[str] = []
    open_line: list[str] = []  # the chunks of the line not ended yet
    line = 1
    for text in _text_chunks(path, what, codec, encoding):
        parts.append(text)
        if max_line_chars is None:
            continue
        end = text.rfind("\n")
        if end >= 0:
            line += text.count("\n")
            open_line = [text[end + 1 :]]
        else:
            open_line.append(text)
        _check_open_line(open_line, line, max_line_chars, what, shown)
    return "".join(parts).removeprefix(_BOM)


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
    text = read_text(path, what, encoding=encoding, max_line_chars=max_chars)
    lines = [_strip(ln) for ln in split_lines(text)]
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
