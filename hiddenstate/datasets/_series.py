"""Real-valued series from a user's files: one sequence per file or per block, or windows
cut from one long series."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._limits import MAX_TABLE_LINE_CHARS
from ._lines import read_text
from ._tables import _looks_like_header

__all__ = ["load_series", "next_step_pairs", "windows"]


def _cell(text: str, path: Path, line: int, column: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{text.strip()!r} is not a number", path=path, line=line,
                         column=column) from None
    if not np.isfinite(value) or not np.isfinite(np.float32(value)):
        raise InputError(f"{text.strip()!r} is not a finite float32 value", path=path,
                         line=line, column=column)
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
    if not np.isfinite(a).all() or not np.isfinite(a.astype(np.float32)).all():
        raise InputError("holds values that are not finite float32", path=path)
    a = a.astype(np.float32)
    return [a[:, None]] if a.ndim == 1 else [a] if a.ndim == 2 else list(a)


def load_series(path: str | os.PathLike) -> tuple[list[np.ndarray], list[str] | None]:
    """Read real-valued sequences: ``(sequences, column names or None)``.

    - ``.npy``: a 1-D array (one series of one feature), 2-D ``(T, n_features)`` (one
      series) or 3-D ``(n, T, n_features)`` (``n`` sequences); never unpickled.
    - text (``.csv``: commas, ``.tsv``: tabs, otherwise commas if the first line has
      one, else whitespace): one row per time step, one column per feature; a blank
      line ends a sequence (several blocks: several sequences); the first line is a
      header naming the columns by the rule of :func:`read_table` (none of its cells a
      number).

    Every value must be a finite float32; errors name the file, line and column.
    """
    path = Path(path)
    if path.suffix.lower() == ".npy":
        return _load_npy(path), None
    # Read in chunks: a line over the limit is refused before the rest of the file is read.
    # (A file named "-", not standard input.)
    text = read_text(os.path.join(".", path) if str(path) == "-" else path, "row",
                     max_line_chars=MAX_TABLE_LINE_CHARS)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    suffix = path.suffix.lower()
    first = next((ln for ln in lines if ln.strip()), "")
    delimiter = {".csv": ",", ".tsv": "\t"}.get(suffix, "," if "," in first else None)
    names: list[str] | None = None
    seqs: list[np.ndarray] = []
    block: list[list[float]] = []
    width = None
    for number, raw in enumerate(lines, 1):
        line = raw.rstrip("\r")
        if not line.strip():
            if block:
                seqs.append(np.asarray(block, np.float32))
                block = []
            continue
        cells = _split(line, delimiter)
        if names is None and not seqs and not block and _looks_like_header(cells):
            names = [c.strip() for c in cells]
            width = len(names)
            continue
        if width is None:
            width = len(cells)
        if len(cells) != width:
            raise InputError(f"{len(cells)} columns, expected {width}", path=path, line=number)
        block.append([_cell(c, path, number, j) for j, c in enumerate(cells, 1)])
    if block:
        seqs.append(np.asarray(block, np.float32))
    if not seqs:
        raise InputError("no values (the file is empty or holds only a header)", path=path)
    return seqs, names


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
