"""The ``.ts`` files of the UEA & UCR time series archive: a header, then one case per
line.

The format as aeon's ``load_from_ts_file`` reads it (aeon's reader is the reference):

- header lines before ``@data``: ``@problemName NAME``, ``@timeStamps true|false``,
  ``@missing true|false``, ``@univariate true|false``, ``@dimensions N``,
  ``@equalLength true|false``, ``@seriesLength N``, ``@classLabel true A B C`` (the
  classes) or ``@classLabel false``, ``@targetLabel true|false`` (a number per case: a
  regression target); tags and their ``true``/``false`` in any case; ``#`` starts a
  comment line; blank lines are skipped;
- after ``@data``, one case per line: its channels separated by ``:``, each channel's
  values by ``,``, then (``@classLabel true`` or ``@targetLabel true``) the label after
  the last ``:``; ``?`` (or ``NaN``) is a missing value, read as NaN (whatever
  ``@missing`` says, as aeon reads it: what becomes of a NaN is the estimators'
  ``missing`` setting).

Where aeon is silent or lenient, this reader refuses with the file and line: an unknown
tag, a tag without its value, ``@timeStamps true`` (time-stamped values are not read),
a label not among the declared classes, a case with another number of channels than the
first (or than ``@dimensions``, or more than one with ``@univariate true``), channels
of one case of unequal lengths, a case of another length than the first with
``@equalLength true`` (or than ``@seriesLength``), a value that is not a number or not
a finite float32. aeon lower-cases labels; here a label keeps the spelling of the
``@classLabel`` list (matched in any case), so ``Walking`` stays ``Walking``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._errors import InputError
from .._limits import MAX_TABLE_LINE_CHARS
from ._lines import read_text, split_lines

__all__ = ["load_ts", "read_ts"]

_BOOLEAN_TAGS = ("timestamps", "missing", "univariate", "equallength", "targetlabel")
_NUMBER_TAGS = ("dimensions", "serieslength")
_TAGS = ("@problemName", "@timeStamps", "@missing", "@univariate", "@dimensions",
         "@equalLength", "@seriesLength", "@classLabel", "@targetLabel", "@data")
#: Spellings of a missing value (lower case): the archive writes ``?``; aeon also reads NaN.
_MISSING = ("?", "nan")
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _boolean(tag: str, tokens: list[str], where: dict) -> bool:
    value = tokens[1].lower() if len(tokens) == 2 else None
    if value not in ("true", "false"):
        raise InputError(f"{tag} needs one value, true or false, got "
                         f"{' '.join(tokens[1:])!r}", **where)
    return value == "true"


def _count(tag: str, tokens: list[str], where: dict) -> int:
    try:
        value = int(tokens[1]) if len(tokens) == 2 else 0
    except ValueError:
        value = 0
    if value < 1:
        raise InputError(f"{tag} needs one positive whole number, got "
                         f"{' '.join(tokens[1:])!r}", **where)
    return value


def _header(lines: list[str], path) -> tuple[dict, int]:
    """The header's settings and the index of the first line after ``@data``."""
    meta: dict = {"problemname": None, "timestamps": False, "missing": False,
                  "univariate": None, "dimensions": None, "equallength": None,
                  "serieslength": None, "classlabel": None, "class_values": [],
                  "targetlabel": False}
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = {"path": path, "line": number}
        tokens = line.split()
        tag, key = tokens[0], tokens[0][1:].lower()
        if not tag.startswith("@"):
            raise InputError(f"expected a header tag (@...) or @data before the cases, got "
                             f"{_shorten(line)!r}", **where)
        if key == "data":
            if len(tokens) > 1:
                raise InputError("@data takes no value: the cases start on the next line",
                                 **where)
            return _checked(meta, path, number), number
        if key == "problemname":
            meta[key] = " ".join(tokens[1:]) or None
        elif key in _BOOLEAN_TAGS:
            meta[key] = _boolean(tag, tokens, where)
        elif key in _NUMBER_TAGS:
            meta[key] = _count(tag, tokens, where)
        elif key == "classlabel":
            flag = tokens[1].lower() if len(tokens) > 1 else None
            if flag not in ("true", "false") or (flag == "true") != (len(tokens) > 2):
                raise InputError(f"{tag} needs true and the class labels (@classLabel true "
                                 f"a b c), or false; got {' '.join(tokens[1:])!r}", **where)
            meta["classlabel"], meta["class_values"] = flag == "true", tokens[2:]
        else:
            raise InputError(f"unknown tag {tag}; a .ts header has {', '.join(_TAGS)}",
                             **where)
        if meta["timestamps"]:
            raise InputError("@timeStamps true: series with time stamps (value lists like "
                             "(t1,v1),(t2,v2)) are not read; give the values without their "
                             "time stamps", **where)
    raise InputError("no @data line: a .ts file has its header, then @data, then one case "
                     "per line", path=path)


def _checked(meta: dict, path, line: int) -> dict:
    """``meta`` with its labelling decided: refuses @classLabel true and @targetLabel
    true together; neither given: a class label ends each case, as aeon reads it."""
    if meta["classlabel"] and meta["targetlabel"]:
        raise InputError("both @classLabel true and @targetLabel true: a case ends in a "
                         "class or in a target, not both", path=path, line=line)
    if meta["classlabel"] is None:
        meta["classlabel"] = not meta["targetlabel"]
    if meta["univariate"] and meta["dimensions"] not in (None, 1):
        raise InputError(f"@univariate true but @dimensions {meta['dimensions']}", path=path,
                         line=line)
    return meta


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _values(text: str, where: dict, channel: int) -> np.ndarray:
    """The float64 values of one channel (``?`` and ``NaN``: NaN)."""
    cells = text.split(",")
    try:
        values = np.fromiter(map(float, cells), np.float64, len(cells))
    except ValueError:
        values = None
    if values is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            if not (np.abs(values) > _FLOAT32_MAX).any() and not np.isinf(values).any():
                return values
    out = np.empty(len(cells))
    for k, cell in enumerate(cells):
        cell = cell.strip()
        if cell.lower() in _MISSING:
            out[k] = np.nan
            continue
        what = f"channel {channel}, value {k}"
        if not cell:
            raise InputError(f"{what} is empty (two commas in a row, or a comma at the end)",
                             **where)
        try:
            out[k] = float(cell)
        except ValueError:
            raise InputError(f"{what}: {_shorten(cell)!r} is not a number (? marks a missing "
                             "value)", **where) from None
        with np.errstate(over="ignore"):
            if not np.isfinite(np.float32(out[k])):
                raise InputError(f"{what}: {cell!r} is not a finite float32 value", **where)
    return out


def _label(text: str, meta: dict, where: dict):
    """A case's class (the declared spelling) or regression target."""
    label = text.strip()
    if not label:
        raise InputError("the label after the last ':' is empty", **where)
    if meta["targetlabel"]:
        try:
            value = float(label)
        except ValueError:
            value = np.nan
        if not np.isfinite(value):
            raise InputError(f"target {_shorten(label)!r} is not a finite number "
                             "(@targetLabel true)", **where)
        return value
    declared = meta["class_values"]
    if not declared or label in declared:
        return label
    folded = {c.lower(): c for c in declared}
    if label.lower() in folded:
        return folded[label.lower()]
    raise InputError(f"class {_shorten(label)!r} is not one of the classes the header "
                     f"declares (@classLabel true {' '.join(declared)})", **where)


def _case(line: str, meta: dict, shape: dict, where: dict):
    """One case: its ``(T, d)`` values and label; ``shape`` holds the first case's
    channels and length and where it was, for the checks."""
    parts = line.split(":")
    labelled = meta["classlabel"] or meta["targetlabel"]
    label = _label(parts.pop(), meta, where) if labelled else None
    if labelled and not parts:
        raise InputError("no values before the label (expected channels separated by ':', "
                         "then the label)", **where)
    n = len(parts)
    what = f"{n} channel{'s' if n != 1 else ''}"
    if "channels" not in shape:
        expected = meta["dimensions"] or (1 if meta["univariate"] else None)
        if expected is not None and n != expected:
            tag = (f"@dimensions {meta['dimensions']}" if meta["dimensions"]
                   else "@univariate true")
            raise InputError(f"{what}, the header says {expected} ({tag})", **where)
        shape.update(channels=n, first=where["line"])
    elif n != shape["channels"]:
        raise InputError(f"{what}, the first case (line {shape['first']}) has "
                         f"{shape['channels']}", **where)
    channels = [_values(p, where, c) for c, p in enumerate(parts)]
    length = len(channels[0])
    for c, values in enumerate(channels[1:], 1):
        if len(values) != length:
            raise InputError(f"channel {c} has {len(values)} values, channel 0 has {length}: "
                             "the channels of one case have one length", **where)
    if meta["equallength"]:
        expected = meta["serieslength"] or shape.setdefault("length", length)
        if length != expected:
            said = (f"@seriesLength {expected}" if meta["serieslength"] else
                    f"the first case (line {shape['first']}) has {expected} and "
                    "@equalLength is true")
            raise InputError(f"{length} values per channel, {said}", **where)
    return np.stack(channels, axis=1), label


def read_ts(path: str | os.PathLike, *, encoding: str = "utf-8"):
    """``(X, y, lines)``: :func:`load_ts`'s ``X`` and ``y``, and the line of each case."""
    path = Path(path)
    text = read_text(path, "case", encoding=encoding, max_line_chars=MAX_TABLE_LINE_CHARS)
    lines = split_lines(text)
    meta, start = _header(lines, path)
    X, labels, shape, numbers = [], [], {}, []
    for number, raw in enumerate(lines[start:], start + 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        values, label = _case(line, meta, shape, {"path": path, "line": number})
        X.append(values.astype(np.float32))
        labels.append(label)
        numbers.append(number)
    if not X:
        raise InputError("no cases after @data", path=path)
    if meta["targetlabel"]:
        return X, np.asarray(labels, dtype=np.float64), numbers
    return X, np.asarray(labels) if meta["classlabel"] else None, numbers


def load_ts(path: str | os.PathLike, *, encoding: str = "utf-8"):
    """Read a ``.ts`` file of the UEA & UCR archive: ``(X, y)``.

    ``X`` is a list of float32 ``(T_i, d)`` arrays, one per case (``d`` channels; lengths
    may differ), NaN where the file has ``?``. ``y`` is a NumPy array of the class labels
    as strings (``@classLabel true``), of float targets (``@targetLabel true``), or None
    (``@classLabel false``). The format, and where this reader is stricter than aeon's:
    see :mod:`hiddenstate.datasets._ts`. Every refusal is an
    :class:`~hiddenstate.InputError` naming the file and line (and the channel and value
    where it helps).
    """
    X, y, _ = read_ts(path, encoding=encoding)
    return X, y
