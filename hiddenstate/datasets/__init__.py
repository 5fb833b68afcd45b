"""Data: numpy-only generators and file loaders.

Generators take a ``numpy.random.Generator`` (or an int seed); loaders read a
path the user gives and raise :class:`hiddenstate.InputError`-style errors that
name the file and the place in it.
"""

from __future__ import annotations

from ._donut import make_donut
from ._images import load_digits, load_mnist, read_idx
from ._prepare import (
    SCALE_CHOICES,
    PreparedModel,
    PreparedTable,
    constant_columns,
    fit_scaler,
    load_prepared,
    make_scaler,
    read_prepared,
    save_prepared,
)
from ._reber import (
    REBER_ALPHABET,
    in_embedded_reber_grammar,
    in_reber_grammar,
    make_embedded_reber,
    make_long_range_pairs,
    make_reber,
    make_sincos,
    reber_targets,
)
from ._sequences import load_sequences
from ._series import load_series
from ._tables import (
    TABLE_EXTENSIONS,
    iter_table_chunks,
    read_table,
    spreadsheet_safe,
    write_table,
)
from ._text import load_labelled_text, load_rt_polarity, make_permutation_streams, one_hot
from ._ts import load_ts

__all__ = [
    # generated data
    "make_donut",
    # grammars and sequences
    "REBER_ALPHABET",
    "make_reber",
    "make_embedded_reber",
    "make_long_range_pairs",
    "reber_targets",
    "in_reber_grammar",
    "in_embedded_reber_grammar",
    "make_sincos",
    "load_sequences",
    # real-valued series: the UEA & UCR archive's .ts files, series tables
    "load_ts",
    "load_series",
    # images
    "load_digits",
    "load_mnist",
    "read_idx",
    # tables
    "TABLE_EXTENSIONS",
    "read_table",
    "iter_table_chunks",
    "write_table",
    "spreadsheet_safe",
    # tables prepared for a model (columns by name, ids, scaling), stored with it
    "SCALE_CHOICES",
    "PreparedTable",
    "PreparedModel",
    "read_prepared",
    "make_scaler",
    "constant_columns",
    "fit_scaler",
    "save_prepared",
    "load_prepared",
    # text and symbol streams
    "load_rt_polarity",
    "load_labelled_text",
    "make_permutation_streams",
    "one_hot",
]
