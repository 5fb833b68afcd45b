"""Tables prepared for a model: columns chosen by name, an id column, a fitted scaler,
all stored with the model and applied again at every later use.

The command line's ``--columns``, ``--drop``, ``--id-column`` and ``--scale`` are these
functions, and their errors name the options as the command line spells them; Python
users get the same checks and the same messages (the file, line and column of a bad
cell). scikit-learn (the scalers, the Pipeline) is imported when first used.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .._errors import InputError, ModelFileError
from .._limits import MAX_TABLE_LINE_CHARS
from ._lines import read_text
from ._tables import _is_number, read_table

__all__ = ["SCALE_CHOICES", "PreparedTable", "PreparedModel", "read_prepared", "make_scaler",
           "constant_columns", "fit_scaler", "save_prepared", "load_prepared"]

#: What ``scale`` may be: no scaling, to [0, 1] per column, or to mean 0 and variance 1.
SCALE_CHOICES = ("none", "minmax", "standard")


class PreparedTable(NamedTuple):
    """A table as a model reads it.

    Attributes
    ----------
    X : ndarray of float32, shape (n_rows, n_features)
        The feature columns, in the chosen order.
    columns : list of str or None
        Their names (None for a table without a header).
    ids : list of str or None
        The id column's cells, one per row, as written (None without an id column).
    """

    X: np.ndarray
    columns: list[str] | None
    ids: list[str] | None


def _text_cells(path: str | os.PathLike, header: bool | None, option: str):
    """``(names, rows)`` of a text table, every cell a string; ``rows`` holds
    ``(line number, cells)``."""
    spec = path
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".csv", ".tsv", ".txt"):
        raise InputError(f"{option} names columns of a text table with a header line "
                         f"(.csv, .tsv, .txt), not a {ext or 'extensionless'} file",
                         path=spec)
    if header is False:
        raise InputError(f"{option} names columns: the first line must be a header "
                         "(drop --no-header)", path=spec)
    # Read in chunks: a line over the limit is refused before the rest of the file is read.
    text = read_text(spec, "row", max_line_chars=MAX_TABLE_LINE_CHARS)
    lines = [(i + 1, ln) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    if not lines:
        raise InputError("the file is empty", path=spec)
    first = lines[0][1]
    if ext == ".csv":
        delimiter = ","
    elif ext == ".tsv" or "\t" in first:
        delimiter = "\t"
    elif "," in first:
        delimiter = ","
    else:
        delimiter = None
    if delimiter is None:
        cells = [(n, ln.split()) for n, ln in lines]
    else:
        cells = _csv_records(text, delimiter, spec)
    if not cells:
        raise InputError("the file is empty", path=spec)
    (_, names), rows = cells[0], cells[1:]
    if header is None and any(_is_number(c) for c in names):
        raise InputError(f"{option} names columns, but the first line is not a header "
                         f"(it holds a number): add a line of column names", path=spec,
                         line=lines[0][0])
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InputError(f"the header names column {twice!r} twice", path=spec, line=1)
    return names, rows


def _csv_records(text: str, delimiter: str, spec) -> list[tuple[int, list[str]]]:
    """``(first line, cells)`` of every non-blank record: the csv module reads the text
    whole, so a quoted cell may hold the delimiter, quotes and line breaks."""
    import io

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = []
    line = 1
    try:
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):
                records.append((line, [c.strip() for c in row]))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"malformed text: {exc}", path=spec, line=reader.line_num) from None
    return records


def read_prepared(path: str | os.PathLike, header: bool | None = None, *,
                  columns: list[str] | None = None, drop: list[str] | None = None,
                  id_column: str | None = None, model: str | os.PathLike | None = None
                  ) -> PreparedTable:
    """Read a table's features (and ids), the columns selected by name.

    Without ``columns``, ``drop`` or ``id_column`` the table is read as it is
    (:func:`read_table`: ``.csv``, ``.tsv``, ``.txt`` or ``.npy``). With any of
    them it must be a text table whose first line names the columns.

    Parameters
    ----------
    path : str or PathLike
        A ``.csv``, ``.tsv`` or ``.txt`` table (``.npy`` too when nothing is selected).
    header : bool or None, default None
        As :func:`read_table`; selecting columns needs a header (``False`` is refused).
    columns : list of str, optional
        The feature columns, in this order (default: all).
    drop : list of str, optional
        Columns that are not features, e.g. a label.
    id_column : str, optional
        A column that is not a feature: its cells are returned as ``ids``.
    model : str or PathLike, optional
        The model file the selection comes from, when reading data for a fitted
        model: then exactly ``columns`` are read, found by name in any order, and
        a missing one is an error naming it, the file and the model.

    Returns
    -------
    PreparedTable
        ``(X, columns, ids)``: float32 features, their names, the ids or None.

    Raises
    ------
    InputError
        A column named that the header lacks (the file's columns listed), a
        header-less table, a header naming a column twice, no feature left, a
        row with another number of cells than the header, a cell that is not a
        number, or a value beyond float32's range (with the file, line and column).
    """
    if columns is None and not drop and id_column is None:
        X, names = read_table(path, header=header)
        return PreparedTable(X, names, None)
    names, rows = _text_cells(path, header, _selecting(columns, drop, model))
    chosen = _choose_columns(path, names, columns, drop, id_column, model)
    return _parse_rows(path, names, rows, chosen, id_column)


def _selecting(columns, drop, model) -> str:
    """Who selects columns, as errors name it: the option, or the model file."""
    if model is not None:
        return f"the model {model}"
    return "--columns" if columns is not None else "--drop" if drop else "--id-column"


def _choose_columns(spec, names, columns, drop, id_column, model) -> list[str]:
    def find(name: str, flag: str) -> None:
        if name in names:
            return
        if model is not None:
            raise InputError(f"no column {name!r}, which the model {model} reads as its "
                             f"{flag}", path=spec)
        shown = ", ".join(names[:8]) + (f", ... ({len(names)} in all)" if len(names) > 8
                                        else "")
        raise InputError(f"{flag}: no column {name!r} (its columns: {shown})", path=spec)

    if model is not None:
        if id_column is not None:
            find(id_column, "id column")
        for name in columns or ():
            find(name, "feature")
        return list(columns) if columns is not None else [c for c in names if c != id_column]
    for name in drop or ():
        find(name, "--drop")
    if id_column is not None:
        find(id_column, "--id-column")
        if columns is not None and id_column in columns:
            raise InputError(f"--id-column {id_column} is also in --columns: an id is not a "
                             "feature")
    for name in columns or ():
        find(name, "--columns")
    chosen = [c for c in (columns if columns is not None else names)
              if c not in (drop or ()) and c != id_column]
    if not chosen:
        raise InputError("no feature column is left after --columns, --drop and --id-column",
                         path=spec)
    return chosen


def _parse_rows(spec, names, rows, chosen, id_column) -> PreparedTable:
    if not rows:
        raise InputError("the table has a header but no rows", path=spec)
    index = [names.index(c) for c in chosen]
    X = np.empty((len(rows), len(index)), np.float64)
    id_at = None if id_column is None else names.index(id_column)
    for r, (line, cells) in enumerate(rows):
        if len(cells) != len(names):
            raise InputError(f"{len(cells)} cells, the header has {len(names)}", path=spec,
                             line=line)
        for k, j in enumerate(index):
            try:
                X[r, k] = float(cells[j])
            except ValueError:
                raise InputError(f"{cells[j]!r} in column {names[j]!r} is not a number",
                                 path=spec, line=line, column=j + 1) from None
    with np.errstate(over="ignore"):
        X32 = X.astype(np.float32)
    bad = np.isfinite(X) & ~np.isfinite(X32)
    if bad.any():
        r, k = map(int, np.argwhere(bad)[0])
        raise InputError(f"{X[r, k]:g} is beyond float32's range", path=spec,
                         line=rows[r][0], column=index[k] + 1)
    ids = None if id_at is None else [cells[id_at] for _, cells in rows]
    return PreparedTable(X32, chosen, ids)


# -- scaling ------------------------------------------------------------------------------


def _frame(X, columns):
    """A DataFrame when there are column names and pandas is installed (keeps the names)."""
    if not columns:
        return X
    try:
        import pandas as pd
    except ImportError:
        return X
    return pd.DataFrame(X, columns=columns)


def make_scaler(kind: str):
    """The unfitted scikit-learn scaler ``kind`` names, or None for ``"none"``.

    Parameters
    ----------
    kind : {"none", "minmax", "standard"}
        ``minmax``: ``MinMaxScaler`` (each column to [0, 1]); ``standard``:
        ``StandardScaler`` (mean 0, variance 1).
    """
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if kind not in SCALE_CHOICES:
        raise ValueError(f"scale must be one of {', '.join(SCALE_CHOICES)}, got {kind!r}")
    return {"none": None, "minmax": MinMaxScaler(), "standard": StandardScaler()}[kind]


def constant_columns(X, columns: list[str] | None = None) -> list[str]:
    """The names of ``X``'s constant columns (``x{j}`` without ``columns``), which a
    scaler maps to 0 (scikit-learn divides a zero range or variance by 1)."""
    X = np.asarray(X)
    constant = np.flatnonzero(np.ptp(X, axis=0) == 0) if len(X) else []
    return [columns[j] if columns else f"x{j}" for j in constant]


def fit_scaler(kind: str, X, columns: list[str] | None = None):
    """Fit the scaler ``kind`` on the training rows ``X``.

    Parameters
    ----------
    kind : {"none", "minmax", "standard"}
    X : array-like of shape (n_rows, n_features)
    columns : list of str, optional
        The features' names: the scaler and its output keep them (a DataFrame,
        when pandas is installed).

    Returns
    -------
    scaler : fitted scaler or None
        None for ``"none"``.
    X_scaled : ndarray or DataFrame
        ``X`` as the estimator reads it (scaled, with its names when given).
    """
    scaler = make_scaler(kind)
    data = _frame(X, columns)
    if scaler is None:
        return None, data
    scaler.fit(data)
    if hasattr(scaler, "feature_names_in_"):
        scaler.set_output(transform="pandas")
    return scaler, scaler.transform(data)


# -- stored with the model ----------------------------------------------------------------


def save_prepared(path: str | os.PathLike, estimator, *, scaler=None,
                  columns: list[str] | None = None, id_column: str | None = None) -> None:
    """Write a fitted estimator with its preparation to one model file.

    The file holds a scikit-learn ``Pipeline`` (the scaler, if any, then the
    estimator) with the input columns and the id column as its settings
    (:func:`hiddenstate.save`); :func:`load_prepared` reads it back.

    Parameters
    ----------
    path : str or PathLike
    estimator : fitted hiddenstate estimator
    scaler : fitted scaler, optional
        From :func:`fit_scaler`.
    columns : list of str, optional
        The input columns the estimator (or the scaler) reads, in order.
    id_column : str, optional
        The column carried to every output table.
    """
    from sklearn.pipeline import Pipeline

    from .._pipeline import save

    steps = ([("scaler", scaler)] if scaler is not None else []) + [
        (type(estimator).__name__.lower(), estimator)]
    save(Pipeline(steps), path, columns=columns, id_column=id_column)


class PreparedModel(NamedTuple):
    """A model file as the later uses read it: the estimator and its preparation.

    Attributes
    ----------
    estimator : fitted hiddenstate estimator
    scalers : list
        The fitted scalers applied before it, in order (empty when none).
    columns : list of str or None
        The input columns, found by name in later data (None: the table as it is).
    id_column : str or None
        The column carried to outputs.
    path : str or PathLike or None
        The model file, named in errors about later data.
    """

    estimator: object
    scalers: list
    columns: list[str] | None
    id_column: str | None
    path: str | os.PathLike | None = None

    def read(self, spec: str | os.PathLike, header: bool | None = None,
             model: str | os.PathLike | None = None, *,
             ids_optional: bool = False) -> PreparedTable:
        """The table ``spec`` as the model reads it: its columns selected by name, with
        the ids (not scaled); errors name ``model`` (default: :attr:`path`).
        ``ids_optional``: a table without the id column is read too (``ids`` None)."""
        if self.columns is None and self.id_column is None:
            return read_prepared(spec, header)
        model = model if model is not None else self.path
        if not ids_optional or self.id_column is None:
            return read_prepared(spec, header, columns=self.columns,
                                 id_column=self.id_column, model=model)
        names, rows = _text_cells(spec, header, _selecting(self.columns, None, model))
        id_column = self.id_column if self.id_column in names else None
        chosen = _choose_columns(spec, names, self.columns, None, id_column, model)
        return _parse_rows(spec, names, rows, chosen, id_column)

    def prepare(self, data: PreparedTable):
        """The scaled features of ``data``, with their names when the estimator has them."""
        if self.scalers or hasattr(self.estimator, "feature_names_in_"):
            X = _frame(data.X, data.columns)
        else:
            X = data.X
        for scaler in self.scalers:
            X = scaler.transform(X)
        return X


def _a(name: str) -> str:
    return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"


def _expect(obj, cls: type, path):
    """``obj``, read from ``path``; ModelFileError (saying what it is) unless a ``cls``."""
    if not isinstance(obj, cls):
        raise ModelFileError(f"{path}: holds {_a(type(obj).__name__)}, not {_a(cls.__name__)}")
    return obj


def _load_as(path: str | os.PathLike, cls: type):
    """The model in ``path``; ModelFileError unless it is a ``cls``."""
    from .._serialize import load

    return _expect(load(path), cls, path)


def load_prepared(path: str | os.PathLike, cls: type) -> PreparedModel:
    """Read a model file holding a ``cls``, alone or last in a saved Pipeline.

    Parameters
    ----------
    path : str or PathLike
    cls : type
        The estimator class expected (e.g. :class:`hiddenstate.Autoencoder`).

    Returns
    -------
    PreparedModel
        The estimator, the scalers before it, the input columns and the id column.

    Raises
    ------
    ModelFileError
        The file holds anything else (saying what it holds).
    """
    from sklearn.pipeline import Pipeline

    from .._serialize import load

    obj = load(path)
    if isinstance(obj, Pipeline):
        est = obj.steps[-1][1]
        if not isinstance(est, cls):
            raise ModelFileError(f"{path}: holds a Pipeline ending in a "
                                 f"{type(est).__name__}, not a {cls.__name__}")
        return PreparedModel(est, [s for _, s in obj.steps[:-1]],
                             getattr(obj, "input_columns_", None),
                             getattr(obj, "id_column_", None), path)
    return PreparedModel(_expect(obj, cls, path), [], None, None, path)
