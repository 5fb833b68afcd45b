"""Tables of numbers for the CLI: CSV/TSV/text and ``.npy`` readers and writers.

Every problem in a file is an ``InputError`` that names the file and, for text,
the 1-based line and column of the offending cell.
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from jaxtyping import Float, Shaped

from .._errors import InputError
from .._io import atomic_write
from .._limits import MAX_TABLE_LINE_CHARS

__all__ = ["read_table", "iter_table_chunks", "write_table", "write_text_rows", "spreadsheet_safe",
           "TABLE_EXTENSIONS"]

#: File extensions the table readers and writers understand.
TABLE_EXTENSIONS = (".csv", ".tsv", ".txt", ".npy")

_NUMERIC_KINDS = "biuf"
_NPY_MAGIC = b"\x93NUMPY"


def _extension(path: Path) -> str:
    ext = path.suffix.lower()
    if ext not in TABLE_EXTENSIONS:
        shown = repr(ext) if ext else "no extension"
        raise InputError(
            f"unsupported table format ({shown}); supported: {', '.join(TABLE_EXTENSIONS)}",
            path=path,
        )
    return ext


def _check_header_arg(header: bool | None) -> None:
    if header not in (None, True, False):
        raise TypeError(f"header must be None (auto-detect), True or False, not {header!r}")


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _looks_like_header(cells: list[str]) -> bool:
    """The header rule: a first row is a header when none of its cells is a number and
    at least one is not blank. A row with a number in it is data, so a typo there
    (``1,2,x``) is an error naming its column, never a header silently dropped."""
    return any(c.strip() for c in cells) and not any(_is_number(c) for c in cells)


_ASCII_BLANKS = re.compile(r"[ \t\r\f\v]+")

#: What a spreadsheet reads as the start of a formula (OWASP, "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A plain number as the program writes one (no blanks, no ``_``): left as it is.
_PLAIN_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)


def spreadsheet_safe(text: str) -> str:
    """``text`` as a cell a spreadsheet shows and never runs as a formula.

    A text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    that is not a number gets a leading ``'`` (OWASP's advice on CSV injection):
    ``=HYPERLINK("http://x")`` becomes ``'=HYPERLINK("http://x")``, while
    ``-1.5`` and ``+3e-4`` stay numbers. Every other text is returned unchanged.
    """
    if text[:1] in _FORMULA_STARTS and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _LineFeedRecords:
    """A file for ``csv.writer``: each record (one ``write`` call, ending in ``"\r\n"``)
    goes to ``handle`` ending in ``"\n"``."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def write(self, record: str) -> int:
        return self._handle.write(record.removesuffix("\r\n") + "\n")


def write_text_rows(handle: IO[str], header: list[str] | None, rows: Iterable[Iterable[Any]],
                    *, delimiter: str = ",", raw_text: bool = False) -> None:
    """Write a header and rows as CSV (or TSV, ``delimiter="\\t"``) through the csv
    module: a cell holding the delimiter, a quote or a line break is quoted, so it
    reads back whole. Text cells go through :func:`spreadsheet_safe` unless
    ``raw_text``; other cells (numbers) are written as they are."""
    # lineterminator "\r\n" makes the csv module quote a cell holding either "\r" or "\n"
    # (with "\n" alone a bare "\r" went out unquoted and split the row when read back);
    # each record is still written ending in "\n".
    writer = csv.writer(_LineFeedRecords(handle), delimiter=delimiter, lineterminator="\r\n")

    def cells(row: Iterable[Any]) -> list[Any]:
        if raw_text:
            return list(row)
        return [spreadsheet_safe(c) if isinstance(c, str) else c for c in row]

    if header is not None:
        writer.writerow(cells(header))
    writer.writerows(cells(row) for row in rows)


# ----------------------------------------------------------------------------- text


def _bounded_lines(handle: IO[str], path: Path) -> Iterator[str]:
    """The lines of ``handle``, each read with at most :data:`MAX_TABLE_LINE_CHARS`
    characters and its end: a longer line is an :class:`InputError` naming it, refused
    before the rest of it is read (a one-line file of gigabytes)."""
    limit = MAX_TABLE_LINE_CHARS
    for number in itertools.count(1):
        line = handle.readline(limit + 2)  # room for the line's end, "\r\n"
        if not line:
            return
        if len(line) > limit and len(line.removesuffix("\n").removesuffix("\r")) > limit:
            raise InputError(f"a line of over {limit:,} characters; a row of a table may "
                             f"have at most {limit:,}", path=path, line=number)
        yield line


def _text_rows(handle: IO[str], ext: str, path: Path) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(1-based line, cells)`` for every non-blank row of a text table.

    ``.csv`` is comma-separated, ``.tsv`` tab-separated; ``.txt`` takes its
    separator from the first non-blank line: tab, else comma, else runs of
    whitespace (as ``numpy.savetxt`` writes by default).
    """
    skipped = 0
    lines: Iterable[str] = _bounded_lines(handle, path)
    if ext == ".txt":
        first = ""
        for first in lines:
            if first.strip():
                break
            skipped += 1
        else:
            return
        lines = itertools.chain([first], lines)
        if "\t" in first:
            delimiter = "\t"
        elif "," in first:
            delimiter = ","
        else:
            for number, line in enumerate(lines, start=skipped + 1):
                # ASCII blanks only: str.split() would also split on U+2028, \x1c-\x1f, ...
                cells = [c for c in _ASCII_BLANKS.split(line.rstrip("\n")) if c]
                if cells:
                    yield number, cells
            return
    else:
        delimiter = "," if ext == ".csv" else "\t"
    reader = csv.reader(lines, delimiter=delimiter)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InputError(
                f"malformed text: {exc}", path=path, line=skipped + reader.line_num
            ) from None
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        yield skipped + reader.line_num, row


def _bad_cell(rows: list[list[str]], lines: list[int], path: Path) -> InputError:
    for row, line in zip(rows, lines, strict=True):
        for j, cell in enumerate(row):
            if not _is_number(cell):
                if not cell.strip():
                    message = "empty cell (write nan for a missing value)"
                else:
                    message = f"cannot read {cell.strip()!r} as a number"
                return InputError(message, path=path, line=line, column=j + 1)
    return InputError("cannot read the cells as numbers", path=path, line=lines[0])


def _to_float32(
    values: np.ndarray,
    where: Callable[[int, int], dict[str, Any]],
    cell_text: Callable[[int, int], str],
) -> np.ndarray:
    """Cast to float32, refusing finite values that would overflow to infinity."""
    with np.errstate(over="ignore"):
        out = np.array(values, dtype=np.float32)
    if values.dtype.kind == "f" and values.dtype.itemsize > 4:
        overflow = np.isinf(out) & np.isfinite(values)
        if overflow.any():
            i, j = (int(k) for k in np.argwhere(overflow)[0])
            raise InputError(
                f"{cell_text(i, j)} is outside the float32 range (about +-3.4e38)", **where(i, j)
            )
    return out


def _parse_block(rows: list[list[str]], lines: list[int], path: Path) -> np.ndarray:
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        raise _bad_cell(rows, lines, path) from None
    return _to_float32(
        values,
        lambda i, j: {"path": path, "line": lines[i], "column": j + 1},
        lambda i, j: repr(rows[i][j].strip()),
    )


def _text_stream(
    path: Path, ext: str, header: bool | None, chunk_rows: int
) -> Iterator[list[str] | None | np.ndarray]:
    """Generator: first the column names (or None), then float32 blocks of rows."""
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    last_line = 0
    with handle:
        rows_iter = _text_rows(handle, ext, path)
        try:
            first = next(rows_iter, None)
            if first is None:
                raise InputError("empty file: no data rows", path=path)
            first_line, first_cells = first
            last_line = first_line
            is_header = header
            if is_header is None:
                is_header = _looks_like_header(first_cells)
            names = [c.strip() for c in first_cells] if is_header else None
            yield names
            n_columns = len(first_cells)
            source = "the header" if is_header else f"line {first_line}"
            pending = [] if is_header else [first]
            rows: list[list[str]] = []
            lines: list[int] = []
            n_rows = 0
            for line, cells in itertools.chain(pending, rows_iter):
                last_line = line
                if len(cells) != n_columns:
                    raise InputError(
                        f"expected {n_columns} columns (as in {source}), found {len(cells)}",
                        path=path,
                        line=line,
                    )
                rows.append(cells)
                lines.append(line)
                if len(rows) == chunk_rows:
                    n_rows += len(rows)
                    yield _parse_block(rows, lines, path)
                    rows, lines = [], []
            if rows:
                n_rows += len(rows)
                yield _parse_block(rows, lines, path)
            if n_rows == 0:
                raise InputError("no data rows (only a header)", path=path)
        except UnicodeDecodeError as exc:
            raise InputError(
                f"not UTF-8 text ({exc.reason})", path=path, line=last_line + 1
            ) from None


# ----------------------------------------------------------------------------- npy


def _open_npy(path: Path) -> np.ndarray:
    """Memory-map a numeric 2-D ``.npy`` file after checking its header and size."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror or exc}", path=path) from None
    with handle:
        if handle.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise InputError(
                "not a .npy file (it does not start with the NumPy magic bytes)", path=path
            )
        handle.seek(0)
        try:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:
                raise InputError(
                    f"unsupported .npy format version {version[0]}.{version[1]} "
                    "(only plain numeric arrays, versions 1.0 and 2.0)",
                    path=path,
                )
        except InputError:
            raise
        except Exception as exc:  # numpy's header parser raises many types on garbage
            raise InputError(f"corrupt .npy header: {exc}", path=path) from None
        data_offset = handle.tell()
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind not in _NUMERIC_KINDS:
        raise InputError(
            f"needs a numeric array (bool, int or float), found dtype {dtype}", path=path
        )
    if len(shape) != 2:
        hint = (
            "; save it as a.reshape(-1, 1) for one feature or a.reshape(1, -1) for one sample"
            if len(shape) == 1
            else ""
        )
        raise InputError(
            f"needs a 2-D array (rows x features), found shape {tuple(shape)}{hint}", path=path
        )
    if shape[0] == 0:
        raise InputError(f"no data rows (shape {tuple(shape)})", path=path)
    if shape[1] == 0:
        raise InputError(f"no columns (shape {tuple(shape)})", path=path)
    expected = data_offset + math.prod(shape) * dtype.itemsize
    found = path.stat().st_size
    if found != expected:
        what = "truncated" if found < expected else "trailing bytes after the data"
        raise InputError(
            f"{what}: header says shape {tuple(shape)} of {dtype}, so expected {expected} bytes, "
            f"found {found}",
            path=path,
        )
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read the .npy file: {exc}", path=path) from None


def _npy_block(array: np.ndarray, start: int, stop: int, path: Path) -> np.ndarray:
    values = np.asarray(array[start:stop])
    return _to_float32(
        values,
        lambda i, j: {"path": path, "row": start + i, "column": j},
        lambda i, j: repr(float(values[i, j])),
    )


# ----------------------------------------------------------------------------- public


def read_table(
    path: str | os.PathLike, *, header: bool | None = None
) -> tuple[Float[np.ndarray, "n_rows n_columns"], list[str] | None]:
    """Read a 2-D table of numbers from a ``.csv``, ``.tsv``, ``.txt`` or ``.npy`` file.

    Text files: ``.csv`` is comma-separated, ``.tsv`` tab-separated, ``.txt``
    takes tab, comma or whitespace from its first line; UTF-8 (a BOM is
    allowed); blank lines are skipped; ``nan`` and ``inf`` parse (rejecting
    them is the estimators' job). ``.npy`` must hold a numeric 2-D array
    and is read through a memory map.

    Parameters
    ----------
    path : str or PathLike
    header : bool or None, default None
        Text files only. ``None``: the first row is a header when none of its
        cells is a number (and not all are blank), so ``a,b,c`` is a header
        and ``1,2,x`` a row with an error in column 3; ``True``/``False``
        force it. A number is what Python's ``float`` reads (``True``,
        ``0x10`` and ``(1+2j)`` are not numbers).

    Returns
    -------
    X : ndarray of float32, shape (n_rows, n_columns)
    column_names : list of str, or None
        The header's cells (stripped), or None without a header.

    Raises
    ------
    InputError
        Unsupported extension, missing file, an empty table, rows of different
        lengths, a cell that is not a number (with its 1-based line and column),
        a value beyond float32's range, or a ``.npy`` array that is not numeric
        and 2-D.
    """
    _check_header_arg(header)
    path = Path(path)
    ext = _extension(path)
    if ext == ".npy":
        array = _open_npy(path)
        return _npy_block(array, 0, array.shape[0], path), None
    stream = _text_stream(path, ext, header, chunk_rows=65536)
    names = next(stream)
    blocks = list(stream)
    X = blocks[0] if len(blocks) == 1 else np.concatenate(blocks, axis=0)
    return X, names


def iter_table_chunks(
    path: str | os.PathLike, chunk_rows: int = 65536, *, header: bool | None = None
) -> Iterator[Float[np.ndarray, "chunk n_columns"]]:
    """Read a table in blocks of at most ``chunk_rows`` rows, in bounded memory.

    Same formats, parsing and errors as :func:`read_table` (``.npy`` through a
    memory map, text line by line); the header, if any, is skipped. Errors in a
    later part of a text file surface when that block is reached.

    Parameters
    ----------
    path : str or PathLike
    chunk_rows : int, default 65536
    header : bool or None, default None
        As in :func:`read_table`.

    Yields
    ------
    ndarray of float32, shape (k, n_columns), 1 <= k <= chunk_rows
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    _check_header_arg(header)
    path = Path(path)
    ext = _extension(path)
    if ext == ".npy":
        array = _open_npy(path)
        if not (isinstance(array, np.memmap) and array.flags.c_contiguous):
            for start in range(0, array.shape[0], chunk_rows):
                yield _npy_block(array, start, min(start + chunk_rows, array.shape[0]), path)
            return
        # Plain reads, not the memory map: mapped pages would stay resident (and count
        # against the process) until the whole file had been touched.
        offset, dtype, (n_rows, n_cols) = array.offset, array.dtype, array.shape
        del array
        with open(path, "rb") as handle:
            for start in range(0, n_rows, chunk_rows):
                stop = min(start + chunk_rows, n_rows)
                handle.seek(offset + start * n_cols * dtype.itemsize)
                block = np.fromfile(handle, dtype=dtype, count=(stop - start) * n_cols)
                values = block.reshape(stop - start, n_cols)
                yield _to_float32(
                    values,
                    lambda i, j, start=start: {"path": path, "row": start + i, "column": j},
                    lambda i, j, values=values: repr(float(values[i, j])),
                )
        return
    stream = _text_stream(path, ext, header, chunk_rows)
    next(stream)
    yield from stream  # type: ignore[misc]


def write_table(
    path: str | os.PathLike,
    array: Shaped[np.ndarray, "n_rows n_columns"],
    *,
    column_names: Iterable[str] | None = None,
    raw_text: bool = False,
) -> None:
    """Write a 2-D numeric array atomically, in the format its extension names.

    ``.npy`` keeps the array's dtype; ``.csv`` is comma-separated, ``.tsv``
    and ``.txt`` tab-separated, with an optional header row, floats written
    with enough digits to read back exactly (``%.9g`` for float32, ``%.17g``
    for float64). A reader never sees a half-written file. A column name that
    a spreadsheet would run as a formula is written with a leading ``'``
    (:func:`spreadsheet_safe`).

    Parameters
    ----------
    path : str or PathLike
    array : array-like, shape (n_rows, n_columns)
        Numeric (bool, int or float).
    column_names : iterable of str, optional
        One per column; written as the header row of text formats, ignored
        by ``.npy``, which has no place for them.
    raw_text : bool, default False
        Write the column names exactly as given, formulas included.

    Raises
    ------
    InputError
        Unsupported extension, an array that is not numeric and 2-D, or a
        wrong number of column names.
    """
    path = Path(path)
    ext = _extension(path)
    values = np.asarray(array)
    if values.ndim != 2:
        raise InputError(f"write_table needs a 2-D array, got shape {values.shape}", path=path)
    if values.dtype.kind not in _NUMERIC_KINDS:
        raise InputError(f"write_table needs numbers, got dtype {values.dtype}", path=path)
    names = None if column_names is None else [str(name) for name in column_names]
    if names is not None and len(names) != values.shape[1]:
        raise InputError(f"{len(names)} column names for {values.shape[1]} columns", path=path)
    if ext == ".npy":
        with atomic_write(path, "wb") as handle:
            np.save(handle, np.ascontiguousarray(values), allow_pickle=False)
        return
    delimiter = "," if ext == ".csv" else "\t"
    if values.dtype.kind == "f":
        fmt = "%.9g" if values.dtype.itemsize <= 4 else "%.17g"
    else:
        fmt = "%d"
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        write_text_rows(handle, names, (), delimiter=delimiter, raw_text=raw_text)
        np.savetxt(handle, values, fmt=fmt, delimiter=delimiter, newline="\n")
