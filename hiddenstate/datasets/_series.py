"""Real-valued series from a user's files: one sequence per file or per block, or windows
cut from one long series."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._limits import MAX_TABLE_LINE_CHARS
from ._lines import read_text
from ._tables import _looks_like_header

__all__ = ["MISSING_CELLS", "SERIES_EXTENSIONS", "TIME_NAMES", "SeriesFile", "all_numbers",
           "future_times", "load_series", "read_series", "read_series_file", "next_step_pairs",
           "windows"]


#: Cells read as a missing value (NaN), in any case: the estimators' ``missing``
#: setting decides what becomes of it (refused with its position by default).
MISSING_CELLS = ("", "?", "nan", "-nan", "na", "n/a", "#n/a", "null")
#: Header names of a first column of times (in any case; blanks and ``_`` ignored).
TIME_NAMES = ("time", "date", "datetime", "timestamp", "year", "month", "week", "day",
              "quarter", "period", "ds", "t", "hour", "minute")
#: A date or date-time: ``1949-01``, ``2001-03-17``, ``2001/03/17``, ``1958-03-29 00:00:00``,
#: ``2001-03-17T12:30``.
#: Header names of a time column whose 8-digit whole numbers are read as ``YYYYMMDD`` dates
#: (``19580329``) when every one of them is a valid date.
DATE_NAMES = ("date", "datetime", "timestamp", "time", "ds", "day")
_DATE = re.compile(r"\d{4}[-/]\d{1,2}(?:[-/]\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?)?")
_MISSING_HINT = "an empty cell, NaN, NA or ? marks a missing value"


def _unquoted(cell: str) -> str:
    cell = cell.strip()
    return cell[1:-1].strip() if len(cell) > 1 and cell[0] == cell[-1] == '"' else cell


def _cell(text: str, path: Path, line: int, column: int) -> float:
    """A value; a missing one (:data:`MISSING_CELLS`) is NaN."""
    text = _unquoted(text)
    if text.lower() in MISSING_CELLS:
        return np.nan
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{text!r} is not a number ({_MISSING_HINT})", path=path, line=line,
                         column=column) from None
    with np.errstate(over="ignore"):
        if not np.isfinite(value) or not np.isfinite(np.float32(value)):
            raise InputError(f"{text!r} is not a finite float32 value", path=path, line=line,
                             column=column)
    return value


def _split(line: str, delimiter: str | None) -> list[str]:
    return line.split(delimiter) if delimiter else line.split()


def _load_npy(path: Path) -> list[np.ndarray]:
    try:
        a = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError("no such file", path=path) from None
    except (ValueError, OSError) as exc:
        raise InputError(f"not a NumPy array file ({exc})", path=path) from None
    if a.dtype.kind not in "iuf" or a.ndim not in (1, 2, 3) or a.size == 0:
        raise InputError(f"expected a non-empty 1-D, 2-D or 3-D numeric array, got "
                         f"{a.dtype}{list(a.shape)}", path=path)
    a = a.astype(np.float64)
    with np.errstate(over="ignore"):
        if np.isinf(a).any() or np.isinf(a.astype(np.float32)).any():
            raise InputError("holds values that are not finite float32 (NaN, a missing "
                             "value, is read as NaN)", path=path)
    a = a.astype(np.float32)
    return [a[:, None]] if a.ndim == 1 else [a] if a.ndim == 2 else list(a)


def _is_time_name(name: str, names: tuple[str, ...] = TIME_NAMES) -> bool:
    return name.lower().replace("_", "").replace(" ", "") in names


def _is_header(cells: list[str]) -> bool:
    """The header rule of :func:`read_table` (none of its cells a number), and none of
    its cells a missing value or (the first) a date: ``1949-01,?`` is data."""
    cells = [_unquoted(c) for c in cells]
    return (_looks_like_header(cells) and not _DATE.fullmatch(cells[0])
            and not any(c and c.lower() in MISSING_CELLS for c in cells))


@dataclasses.dataclass
class SeriesFile:
    """A series file as read: what :func:`load_series` returns, and where each step was.

    Attributes
    ----------
    sequences : list of float32 ``(T_i, d)`` arrays (NaN: a missing value).
    names : the value columns' header names, or None.
    times : one array per sequence (float64 numbers, int64 whole numbers or
        ``datetime64`` dates), or None when the file has no time column.
    time_name : the time column's header name (None: no header or no time column).
    lines : the line number of each step, one int array per sequence (None for .npy).
    labels : a ``.ts`` file's labels (classes or targets), else None.
    ts : whether the file was a ``.ts`` file (a case per line: a step is a value there).
    """

    sequences: list[np.ndarray]
    names: list[str] | None
    times: list[np.ndarray] | None = None
    time_name: str | None = None
    lines: list[np.ndarray] | None = None
    path: object = None
    labels: np.ndarray | None = None
    ts: bool = False

    def where(self, exc):
        """``exc`` (an :class:`InputError` about step ``step`` of sequence ``index``) naming
        the file and line instead; other errors as they are."""
        if not isinstance(exc, InputError) or exc.index is None or self.lines is None \
                or exc.step is None or not 0 <= exc.index < len(self.lines) \
                or not 0 <= exc.step < len(self.lines[exc.index]):
            return exc
        line = int(self.lines[exc.index][exc.step])
        message = exc.message
        if exc.channel is not None:
            message = re.sub(r"^non-finite value at step \d+, feature \d+ \(NaN\)",
                             "missing value", message)
        if self.ts:  # a case per line: say where in it
            place = f"channel {exc.channel}, value {exc.step}: " if exc.channel is not None \
                else ""
            return InputError(place + message, path=self.path, line=line)
        column = None if exc.channel is None else exc.channel + 1 + (self.times is not None)
        return InputError(message, path=self.path, line=line, column=column)


def _time_value(text: str, path: Path, line: int, dates: bool):
    cell = _unquoted(text)
    try:
        if dates:
            if not _DATE.fullmatch(cell):
                raise ValueError
            return np.datetime64(cell.replace("/", "-").replace(" ", "T"))
        value = float(cell)
        if not np.isfinite(value):
            raise ValueError
        return value
    except ValueError:
        what = "a date (such as 1949-01 or 2001-03-17)" if dates else "a number"
        raise InputError(f"{cell!r} in the time column is not {what}", path=path, line=line,
                         column=1) from None


def _times(values: list, rows: list[int], path: Path, dates: bool) -> np.ndarray:
    """One block's times, checked to increase."""
    if dates:
        times = np.array(values, dtype="datetime64")
    else:
        times = np.asarray(values, np.float64)
        if (times == np.round(times)).all() and np.abs(times).max() < 2**53:
            times = times.astype(np.int64)
    bad = np.flatnonzero(times[1:] <= times[:-1])
    if bad.size:
        k = int(bad[0]) + 1
        raise InputError(f"the times must increase: {times[k]} after {times[k - 1]}",
                         path=path, line=rows[k], column=1)
    return times


def _yyyymmdd(times: list[np.ndarray], name: str) -> list[np.ndarray] | None:
    """``times`` (int64 arrays) as ``datetime64[D]`` dates where the column's ``name`` is
    a date's (:data:`DATE_NAMES`) and every value is an 8-digit whole number that is a
    valid ``YYYYMMDD`` date (``19580329``: 1958-03-29); else None."""
    if not _is_time_name(name, DATE_NAMES) or not all(
            t.dtype.kind == "i" and t.size and t.min() >= 10000101 and t.max() <= 99991231
            for t in times):
        return None
    out = []
    for t in times:
        text = [f"{v // 10000:04d}-{v // 100 % 100:02d}-{v % 100:02d}" for v in t.tolist()]
        try:
            dates = np.array(text, "datetime64[D]")
        except ValueError:  # a month 13 or a day 32: numbers, not dates
            return None
        if np.datetime_as_string(dates).tolist() != text:  # e.g. a leap day that is none
            return None
        out.append(dates)
    return out


def _has_times(first_cells: list[str], names: list[str] | None, time_column: bool | None,
               path: Path) -> bool:
    """Whether the first column holds times (see :func:`load_series`)."""
    if time_column is not None:
        if time_column and len(first_cells) < 2:
            raise InputError("time_column=True needs a column of times and at least one of "
                             "values", path=path)
        return bool(time_column)
    if len(first_cells) < 2:
        return False
    if names is not None:
        return _is_time_name(names[0])
    return bool(_DATE.fullmatch(_unquoted(first_cells[0])))


def read_series(path: str | os.PathLike, *, time_column: bool | None = None) -> SeriesFile:
    """Read a series file with the line of each step: see :func:`load_series`."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return SeriesFile(_load_npy(path), None, path=path)
    # Read in chunks: a line over the limit is refused before the rest of the file is read.
    # (A file named "-", not standard input.)
    text = read_text(os.path.join(".", path) if str(path) == "-" else path, "row",
                     max_line_chars=MAX_TABLE_LINE_CHARS)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    suffix = path.suffix.lower()
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix, "," if "," in first else None)
    names: list[str] | None = None
    first_cells = _split(first, delimiter)
    header = _is_header(first_cells)
    if header:
        names = [_unquoted(c) for c in first_cells]
    timed = _has_times(first_cells, names, time_column, path)
    out = SeriesFile([], names, [] if timed else None, path=path, lines=[])
    dates = None
    block: list[list[float]] = []
    stamps: list = []
    rows: list[int] = []
    width = len(first_cells)

    def end_block() -> None:
        out.sequences.append(np.asarray(block, np.float32))
        out.lines.append(np.asarray(rows, np.int64))
        if timed:
            out.times.append(_times(stamps, rows, path, bool(dates)))

    seen_header = not header
    for number, line in enumerate(lines, 1):
        if not line.strip():
            if block:
                end_block()
                block, stamps, rows = [], [], []
            continue
        if not seen_header:
            seen_header = True
            continue
        cells = _split(line, delimiter)
        if len(cells) != width:
            raise InputError(f"{len(cells)} columns, expected {width}", path=path, line=number)
        if timed:
            if dates is None:
                dates = bool(_DATE.fullmatch(_unquoted(cells[0])))
            stamps.append(_time_value(cells[0], path, number, dates))
        rows.append(number)
        block.append([_cell(c, path, number, j)
                      for j, c in enumerate(cells[1:] if timed else cells, 2 if timed else 1)])
    if block:
        end_block()
    if not out.sequences:
        raise InputError("no values (the file is empty or holds only a header)", path=path)
    if timed and names is not None:
        out.time_name, out.names = names[0], names[1:]
        out.times = (not dates and _yyyymmdd(out.times, names[0])) or out.times
    return out


#: The extensions read as real-valued series (a ``.ts`` file of the archive, or a series
#: table) by the commands' ``--format auto``.
SERIES_EXTENSIONS = (".ts", ".csv", ".tsv", ".npy")


def read_series_file(path: str | os.PathLike, *, encoding: str = "utf-8") -> SeriesFile:
    """Real-valued sequences from a ``.ts`` file (:func:`~hiddenstate.datasets.load_ts`,
    its labels in ``labels``) or a series table or array (:func:`read_series`)."""
    if Path(path).suffix.lower() != ".ts":
        return read_series(path)
    from ._ts import read_ts

    X, y, numbers = read_ts(path, encoding=encoding)
    return SeriesFile(X, None, lines=[np.full(len(x), n, np.int64) for x, n in
                                      zip(X, numbers, strict=True)],
                      path=Path(path), labels=y, ts=True)


def all_numbers(lines: list[str]) -> bool:
    """Whether every token of every line (split at blanks and commas) is a number: a
    numeric series in a text file, which must not be read as words."""
    tokens = 0
    for line in lines:
        for token in line.replace(",", " ").split():
            try:
                float(token)
            except ValueError:
                return False
            tokens += 1
    return tokens > 0


def load_series(path: str | os.PathLike, *, return_times: bool = False,
                time_column: bool | None = None):
    """Read real-valued sequences: ``(sequences, column names or None)``, and with
    ``return_times`` ``(sequences, names, times)``.

    - ``.npy``: a 1-D array (one series of one feature), 2-D ``(T, n_features)`` (one
      series) or 3-D ``(n, T, n_features)`` (``n`` sequences); never unpickled.
    - text (``.csv``: commas, ``.tsv``: tabs, otherwise commas if the first line has
      one, else whitespace): one row per time step, one column per feature; a blank
      line ends a sequence (several blocks: several sequences); the first line is a
      header naming the columns by the rule of :func:`read_table` (none of its cells a
      number, a missing value or a date). Double quotes around a cell are dropped.

    A first column of times is kept out of the values: by default (``time_column=None``)
    when the header names it as one (:data:`TIME_NAMES`: ``time``, ``date``, ``year``,
    ...) or its first value is a date (``1949-01``, ``2001-03-17``, ``1958-03-29
    00:00:00``); ``True``/``False`` decide. Its values are numbers or dates that increase
    within each sequence; ``times`` is one array per sequence (int64 whole numbers,
    float64 numbers or ``datetime64`` dates), or None without a time column. In a column
    named as a date (:data:`DATE_NAMES`: ``date``, ``time``, ``ds``, ...), 8-digit whole
    numbers that are all valid ``YYYYMMDD`` dates are dates (``19580329``: 1958-03-29).

    A ``.ts`` file of the UEA & UCR archive is read by :func:`load_ts` (which also
    returns its labels).

    A missing value (an empty cell, ``NaN``, ``NA``, ``?``; :data:`MISSING_CELLS`) is
    read as NaN: the estimators refuse it with its position unless told to fill it
    (``missing="interpolate"``). Every other value must be a finite float32; errors
    name the file, line and column.
    """
    if Path(path).suffix.lower() == ".ts":
        read = read_series_file(path)  # the archive's format (its labels: load_ts)
    else:
        read = read_series(path, time_column=time_column)
    if return_times:
        return read.sequences, read.names, read.times
    return read.sequences, read.names


def _month_steps(t: np.ndarray) -> tuple[np.ndarray, int] | None:
    """Dates that fall on the first or on the last day of their months, the same one
    each: ``(months, 0 or -1)`` (``datetime64[M]`` and which day), else None."""
    if t.dtype.kind != "M" or np.datetime_data(t.dtype)[0] in ("Y", "M"):
        return None
    days = t.astype("datetime64[D]")
    if (days != t).any():  # a time of day
        return None
    months = days.astype("datetime64[M]")
    if (days == months.astype("datetime64[D]")).all():
        return months, 0
    if (days + 1 == (months + 1).astype("datetime64[D]")).all():
        return months, -1
    return None


def future_times(times, steps: int) -> np.ndarray | None:
    """The next ``steps`` times after ``times`` (one sequence's, as :func:`load_series`
    returns them) where they are regular: evenly spaced numbers (years ``1871, 1872``:
    ``1873, ...``) or dates (``1949-01, 1949-02``; weekly days; month starts or month
    ends, ``2001-01-31, 2001-02-28``, step by months). None where they are not (gaps,
    fewer than two times)."""
    t = None if times is None else np.asarray(times)
    if t is None or t.ndim != 1 or len(t) < 2 or t.dtype.kind not in "iufM":
        return None
    ahead = np.arange(1, int(steps) + 1)
    monthly = _month_steps(t)
    if monthly is not None:
        months, day = monthly
        gap = np.diff(months).astype(np.int64)
        if (gap == gap[0]).all() and gap[0] > 0:
            nxt = months[-1] + gap[0] * ahead + (1 if day else 0)
            return (nxt.astype("datetime64[D]") + day).astype(t.dtype)
    gap = np.diff(t)
    step = gap[0]
    regular = (gap == step).all() if t.dtype.kind in "iuM" else np.allclose(gap, step,
                                                                              rtol=1e-9)
    if not regular or not step > step * 0:
        return None
    return t[-1] + step * ahead


def next_step_pairs(seqs: list[np.ndarray], *, what: str = "sequence"
                    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Inputs and next-step targets: ``(s[:-1], s[1:])`` for each sequence."""
    for i, s in enumerate(seqs):
        if len(s) < 2:
            raise InputError(f"{what} {i} has {len(s)} step: a forecaster needs at least 2 "
                             "(an input and the next value)")
    return [s[:-1] for s in seqs], [s[1:] for s in seqs]


def windows(seqs: list[np.ndarray], window: int, stride: int = 1) -> list[np.ndarray]:
    """Every run of ``window + 1`` consecutive steps (``window`` inputs and the next
    values), starting every ``stride`` steps, from each sequence."""
    if isinstance(window, bool) or int(window) < 1:
        raise InputError(f"--window must be a positive number of steps, got {window}")
    if isinstance(stride, bool) or int(stride) < 1:
        raise InputError(f"--stride must be a positive number of steps, got {stride}")
    out = []
    for i, s in enumerate(seqs):
        if len(s) < window + 1:
            raise InputError(f"--window {window} needs series of at least {window + 1} steps; "
                             f"series {i} has {len(s)}")
        out.extend(s[t : t + window + 1] for t in range(0, len(s) - window, stride))
    return out
