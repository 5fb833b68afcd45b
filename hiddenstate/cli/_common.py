"""Reading and preparing the data the commands take: built-in data sets by name, tables
with the preparation options (``--scale``, ``--columns``, ``--drop``, ``--id-column``),
and model files with their preparation. The reading, checks and messages are the
library's (:mod:`hiddenstate.datasets`); this maps the options onto it.

Nothing here imports NumPy, scikit-learn or JAX at module level: ``hiddenstate
--help`` reads only the parsers and the group modules' registrations.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = [
    "BUILTIN_DATA",
    "MISSING_CHOICES",
    "SERIES_EXTENSIONS",
    "add_format_option",
    "add_header_option",
    "add_missing_option",
    "check_not_numeric",
    "is_series",
    "read_series_data",
    "add_preparation_options",
    "fit_preparation",
    "frame",
    "load_model",
    "load_prepared",
    "model_input",
    "preparation_used",
    "read_data",
    "read_prepared",
]

BUILTIN_DATA = ("donut", "digits")


# -- data in ---------------------------------------------------------------------------------


def add_header_option(parser) -> None:
    """``--header/--no-header``: whether a text table's first line holds column names."""
    parser.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                        help="the first line of a text table is (not) a header (default: "
                             "a header when none of its cells is a number)")


def read_data(spec: str, header: bool | None = None):
    """A table file (.csv, .tsv, .txt, .npy) or a built-in data set name."""
    from .. import datasets
    from .._errors import InputError

    if not str(spec):
        raise InputError("DATA is an empty path (''): give a file name or one of "
                         f"{', '.join(BUILTIN_DATA)}")
    if spec in BUILTIN_DATA and not Path(spec).exists():
        X, _ = datasets.make_donut() if spec == "donut" else datasets.load_digits()
        return X, None
    return datasets.read_table(spec, header=header)


def frame(X, columns):
    """A DataFrame when the file had a header and pandas is installed (keeps the names)."""
    from ..datasets._prepare import _frame

    return _frame(X, columns)


def model_input(model, X, columns):
    return frame(X, columns) if hasattr(model, "feature_names_in_") else X


def load_model(path, cls):
    """The model in ``path``; ModelFileError unless it is a ``cls``."""
    from ..datasets._prepare import _load_as

    return _load_as(path, cls)


# -- real-valued series -----------------------------------------------------------------------

#: As :data:`hiddenstate.datasets._series.SERIES_EXTENSIONS` (not imported: ``--help`` reads
#: no NumPy): read as real-valued series by ``--format auto``.
SERIES_EXTENSIONS = (".ts", ".csv", ".tsv", ".npy")
#: As :data:`hiddenstate.estimators._inputs.MISSING`.
MISSING_CHOICES = ("error", "interpolate")
_SERIES_FILES = ("a .ts file (the UEA & UCR archive's format) or a .csv, .tsv or .npy file "
                 "(one row per step, one column per feature, a blank line between sequences)")


def add_format_option(parser, *, text: str = "text") -> None:
    """``--format auto|series|text``: what DATA holds."""
    parser.add_argument("--format", choices=("auto", "series", "text"), default="auto",
                        help=f"what DATA holds (default: auto: a real-valued series for "
                             f"{', '.join(SERIES_EXTENSIONS)} files, else {text})")


def add_missing_option(parser, cls=None) -> None:
    """``--missing``, unless ``cls`` (the estimator of a fit: its name in the option
    table, or a class) has a ``missing`` setting, whose own option it then is."""
    if cls is not None:
        from ._options import option_names

        if "missing" in option_names(cls):
            return
    parser.add_argument("--missing", choices=MISSING_CHOICES, default=argparse.SUPPRESS,
                        help="series: a missing value (an empty cell, NaN, NA, ?) is an error "
                             "naming its line (error, the default), or is filled by linear "
                             "interpolation along its channel (interpolate)")


def is_series(spec: str, fmt: str = "auto") -> bool:
    """Whether DATA is read as a real-valued series (``--format``, else its extension)."""
    return fmt == "series" or (fmt == "auto" and Path(spec).suffix.lower() in SERIES_EXTENSIONS)


def read_series_data(spec: str, missing: str = "error", *, encoding: str | None = None):
    """DATA's real-valued sequences (a :class:`~hiddenstate.datasets._series.SeriesFile`),
    their missing values refused naming the file and line, or interpolated."""
    from .._errors import InputError
    from ..datasets._series import read_series_file
    from ..estimators._inputs import read_arrays

    read = read_series_file(spec, encoding=encoding or "utf-8")
    try:
        read.sequences = read_arrays(read.sequences, missing=missing)
    except InputError as exc:
        raise read.where(exc) from None
    return read


def check_not_numeric(lines: list[str], spec: str, *, labels: bool = False) -> None:
    """Refuse text whose every token is a number (a series, not words), naming the
    formats that read it as a series and ``--format text``."""
    from .._errors import InputError
    from ..datasets._series import all_numbers

    if all_numbers(lines):
        with_labels = " with --labels FILE" if labels else ""
        raise InputError(f"every token is a number: this looks like a numeric series, not "
                         f"text. Give series as {_SERIES_FILES}{with_labels}; --format text "
                         f"reads the numbers as words", path=spec)


# -- preparation stored with the model ------------------------------------------------------

#: As :data:`hiddenstate.datasets.SCALE_CHOICES` (not imported: ``--help`` reads no NumPy).
SCALE_CHOICES = ("none", "minmax", "standard")


def add_preparation_options(parser) -> None:
    """``--scale``, ``--columns``, ``--drop``, ``--id-column``: stored in the model file,
    applied again by every later command on that model."""
    group = parser.add_argument_group(
        "preparation (stored in the model file; every later command applies it)")
    group.add_argument("--scale", choices=SCALE_CHOICES, default="none",
                       help="scale each column, fitted on the training rows: minmax to "
                            "[0, 1], standard to mean 0 and variance 1 (a constant column "
                            "becomes 0) (default: none)")
    group.add_argument("--columns", type=_names_list, metavar="A,B,...",
                       help="use only these columns, by header name (default: all)")
    group.add_argument("--drop", type=_names_list, metavar="A,B,...",
                       help="ignore these columns, e.g. a label (default: none)")
    group.add_argument("--id-column", metavar="NAME",
                       help="a column that is not a feature: carried to every output table "
                            "as its first column (duplicates are kept)")


def _names_list(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a column is named twice in {text!r}")
    return names


def read_prepared(spec: str, header: bool | None, *, columns=None, drop=None,
                  id_column: str | None = None, model: str | None = None):
    """DATA's features (and ids), selected by column name: a built-in data set by its
    name, else :func:`hiddenstate.datasets.read_prepared`."""
    from ..datasets import PreparedTable
    from ..datasets import read_prepared as read

    if columns is None and not drop and id_column is None:
        X, names = read_data(spec, header)
        return PreparedTable(X, names, None)
    if spec in BUILTIN_DATA and not Path(spec).exists():
        from .._errors import InputError
        from ..datasets._prepare import _selecting

        option = _selecting(columns, drop, model)
        raise InputError(f"{option} names columns; the built-in {spec} data has no header: "
                         "give a file with a header line")
    return read(spec, header, columns=columns, drop=drop, id_column=id_column, model=model)


def fit_preparation(args, X, columns):
    """``(scaler or None, X as the estimator reads it)``: the ``--scale`` scaler fitted on
    ``X`` (the training rows). A constant column is scaled to 0 (scikit-learn's rule: a
    zero range or variance divides by 1), and said so on stderr."""
    from ..datasets import constant_columns, fit_scaler

    names = constant_columns(X, columns) if args.scale != "none" else []
    if names:
        print(f"--scale {args.scale}: column{'s' if len(names) > 1 else ''} "
              f"{', '.join(names[:6])}{' ...' if len(names) > 6 else ''} constant in the "
              f"training rows: scaled to 0", file=sys.stderr)
    return fit_scaler(args.scale, X, columns)


def preparation_used(args) -> bool:
    """Whether a fit was given any preparation option (then a Pipeline file is written)."""
    return (args.scale != "none" or args.columns is not None or args.drop is not None
            or args.id_column is not None)


def load_prepared(path, cls) -> Loaded:
    """The ``cls`` in ``path`` with its preparation
    (:func:`hiddenstate.datasets.load_prepared`)."""
    from ..datasets import load_prepared as load

    return Loaded(load(path, cls))


class Loaded:
    """A model file as the later commands use it: the estimator and its preparation
    (a :class:`~hiddenstate.datasets.PreparedModel`), later DATA read as
    :func:`read_prepared` reads it (a built-in data set by its name)."""

    def __init__(self, prepared) -> None:
        self.prepared = prepared
        self.estimator, self.scalers, self.columns, self.id_column, _ = prepared

    def read(self, spec: str, header: bool | None, model: str, *, ids_optional: bool = False):
        """DATA as the model reads it: selected by name, with its ids (not scaled);
        ``ids_optional``: a file without the id column is read too (``ids`` None)."""
        if ids_optional and self.id_column is not None and Path(spec).exists():
            return self.prepared.read(spec, header, model, ids_optional=True)
        return read_prepared(spec, header, columns=self.columns, id_column=self.id_column,
                             model=model)

    def prepare(self, data):
        """The scaled features, with their names when the estimator has them."""
        return self.prepared.prepare(data)
