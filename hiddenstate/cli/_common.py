"""What the command groups share: the parser, estimator options, data in and out.

Nothing here imports NumPy, scikit-learn or JAX at module level: ``hiddenstate
--help`` reads only this module and the group modules' registrations.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "BUILTIN_DATA",
    "Parser",
    "add_estimator_options",
    "add_header_option",
    "check_checkpoint_dir",
    "check_out",
    "cli_parameters",
    "console",
    "estimator_kwargs",
    "frame",
    "load_model",
    "model_input",
    "read_data",
    "write_or_print",
]

BUILTIN_DATA = ("donut", "digits")


# -- the parser -----------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """An ArgumentParser with one-line usage errors and an optional late-built body.

    ``build(parser)``, when given, adds the arguments the first time the parser
    is used (parsing or help). A command group registers a light parser with
    its help line; what its options need (the estimators, hence scikit-learn
    and JAX) is imported only when that group is the one being run. The
    epilog may be a function returning the text, called when help is shown.
    """

    def __init__(self, *args, build: Callable[[Parser], None] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._build = build

    def built(self) -> Parser:
        """This parser with its arguments in place (builds them on the first call)."""
        if self._build is not None:
            build, self._build = self._build, None
            build(self)
        return self

    def parse_known_args(self, args=None, namespace=None):
        self.built()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self.built()
        return super().format_usage()

    def format_help(self) -> str:
        self.built()
        if callable(self.epilog):  # an epilog that is costly to make: made when shown
            self.epilog = self.epilog()
        return super().format_help()

    def error(self, message: str):
        """Usage errors are one line, as every other error of the command."""
        self.exit(2, f"hiddenstate: error: {message} (see `{self.prog} --help`)\n")


# -- options built from an estimator's parameters -------------------------------------------

#: Parameters with no command-line option. ``warm_start`` continues a previous fit
#: of the same object; a fresh process has none to continue from. ``init_from`` is
#: a fitted estimator (or its file): commands that take one say so in their own
#: options (``classify fit --init-from MODEL``, ``--pretrain``).
_NOT_OPTIONS = frozenset({"warm_start", "init_from"})

#: Forms a parameter accepts in Python that a command line cannot spell. A list of
#: ``devices`` holds jax Device objects (an int N on the command line: the first N).
_NO_LIST = frozenset({"devices"})

#: Words read as None, besides ``none`` (``--batch-size full``: one full batch).
_NONE_ALIASES = {"batch_size": ("full",)}

#: What an option is, where no estimator docstring says it.
_FALLBACK_HELP = {
    "cell": "Recurrent cell",
    "init": "Weight initialiser",
    "loss": "Reconstruction loss",
    "optimizer": "Optimizer",
    "output": "Output function",
    # SequenceClassifier lists these without a description (its prose says what they are).
    "num_layers": "Stacked recurrent layers",
    "bidirectional": "Read each sequence backwards too (a second direction in each layer)",
    "pooling": "How a sequence's hidden vectors become one: the final one (last), or "
               "their mean or maximum over the valid steps",
}


class _Forms(NamedTuple):
    """What one parameter accepts on the command line, read from its constraints."""

    name: str
    none: bool = False
    boolean: bool = False
    strings: tuple[str, ...] = ()
    ints: tuple = ()  # sklearn Intervals (None: any int)
    floats: tuple = ()
    int_list: bool = False
    text: bool = False
    mapping: bool = False  # a dict, spelled KEY=X,KEY=X (e.g. class weights)

    @property
    def none_words(self) -> tuple[str, ...]:
        return ("none", *_NONE_ALIASES.get(self.name, ())) if self.none else ()

    def __call__(self, text: str):
        """The value ``text`` stands for; ArgumentTypeError when it is no valid form."""
        if text.lower() in self.none_words:
            return None
        if text in self.strings:
            return text
        if self.boolean and text.lower() in ("true", "false"):
            return text.lower() == "true"
        for parse, intervals in ((int, self.ints), (float, self.floats)):
            value = _number(text, parse, intervals)
            if value is not None:
                return value
        if self.int_list and ("," in text or not self.ints):
            values = _int_list(text)
            if values is not None:
                return values
        if self.mapping:
            values = _float_mapping(text)
            if values is not None:
                return values
        if self.text:
            return text
        raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {text!r}")

    def describe(self) -> str:
        parts = [repr(s) for s in self.strings]
        parts += [str(i) if i is not None else "an int" for i in self.ints]
        parts += [str(i) if i is not None else "a float" for i in self.floats]
        if self.int_list:
            parts.append("comma-separated ints")
        if self.boolean:
            parts.append("true/false")
        if self.mapping:
            parts.append("KEY=X pairs (comma-separated)")
        if self.text:
            parts.append("a path")
        if self.none:
            parts.append("/".join(self.none_words))
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]

    def metavar(self) -> str:
        forms = list(self.strings)
        forms += ["N"] if self.ints else []
        forms += ["X"] if self.floats else []
        forms += ["N,N,..."] if self.int_list else []
        forms += ["KEY=X,..."] if self.mapping else []
        forms += ["PATH"] if self.text else []
        forms += ["true", "false"] if self.boolean else []
        forms += list(self.none_words)
        return "|".join(forms)


def _number(text: str, parse, intervals):
    if not intervals:
        return None
    try:
        value = parse(text)
    except ValueError:
        return None
    if any(i is None or value in i for i in intervals):
        return value
    return None


def _int_list(text: str) -> list[int] | None:
    try:
        return [int(p) for p in text.split(",")]
    except ValueError:
        return None


def _float_mapping(text: str) -> dict[str, float] | None:
    """``{"a": 1.0, "b": 2.5}`` from ``a=1,b=2.5`` (keys as typed); None if malformed."""
    out = {}
    for item in text.split(","):
        key, sep, value = item.rpartition("=")
        try:
            out[key] = float(value)
        except ValueError:
            return None
        if not sep or not key:
            return None
    return out


def _forms(cls, name: str) -> _Forms:
    """The command-line forms of ``cls``'s parameter ``name``, from its constraints."""
    from numbers import Integral, Real

    from sklearn.utils._param_validation import Interval, Options

    fields: dict = {"strings": [], "ints": [], "floats": []}
    for c in cls._parameter_constraints.get(name, ()):
        if c is None:
            fields["none"] = True
        elif c == "boolean" or c is bool:
            fields["boolean"] = True
        elif c == "random_state":  # an int seed or none; a RandomState has no spelling
            fields["ints"].append(Interval(Integral, 0, 2**32 - 1, closed="both"))
            fields["none"] = True
        elif c == "verbose":
            fields["ints"].append(Interval(Integral, 0, None, closed="left"))
            fields["boolean"] = True
        elif isinstance(c, Interval):
            fields["ints" if c.type is Integral else "floats"].append(c)
        elif isinstance(c, Options) and all(isinstance(o, str) for o in c.options):
            fields["strings"] += sorted(c.options)
        elif c in (int, Integral):
            fields["ints"].append(None)
        elif c in (float, Real):
            fields["floats"].append(None)
        elif c in (list, tuple):
            fields["int_list"] = name not in _NO_LIST
        elif c in (str, os.PathLike):
            fields["text"] = True
        elif c is dict:
            fields["mapping"] = True
        else:
            raise TypeError(f"{cls.__name__}.{name}: no command-line form for constraint {c!r}")
    if not any(fields.values()):
        raise TypeError(f"{cls.__name__}.{name}: no constraints to build an option from")
    return _Forms(name, **{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


def cli_parameters(cls) -> dict:
    """``{name: default}`` of the parameters that are options (all but ``_NOT_OPTIONS``)."""
    return {k: v for k, v in cls().get_params().items() if k not in _NOT_OPTIONS}


def _cli_spelling(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def add_estimator_options(parser: argparse.ArgumentParser, cls) -> list[str]:
    """One ``--option`` per parameter of ``cls``; returns the parameter names.

    An option the user does not type is absent from the namespace
    (``argparse.SUPPRESS``), so the estimator keeps its own default, and
    ``none`` really passes None. Types and choices come from
    ``cls._parameter_constraints``; the help line from ``cls``'s docstring.
    """
    docs = _parameter_help(cls)
    group = parser.add_argument_group(
        f"{cls.__name__} settings", "Each defaults to the estimator's own default."
    )
    names = []
    for name, default in cli_parameters(cls).items():
        forms = _forms(cls, name)
        flag = "--" + name.replace("_", "-")
        help_text = (docs.get(name) or name.replace("_", " ").capitalize()).rstrip(".")
        if forms == _Forms(name, boolean=True):
            group.add_argument(flag, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS,
                               help=f"{help_text} (default: {'yes' if default else 'no'})")
        else:
            group.add_argument(flag, type=forms, metavar=forms.metavar(),
                               default=argparse.SUPPRESS,
                               help=f"{help_text} (default: {_cli_spelling(default)})")
        names.append(name)
    return names


def estimator_kwargs(args: argparse.Namespace, cls) -> dict:
    """The parameters of ``cls`` the user typed, exactly as typed (None included)."""
    return {n: getattr(args, n) for n in cli_parameters(cls) if hasattr(args, n)}


# -- help lines from numpydoc docstrings ----------------------------------------------------

_ENTRY = re.compile(r"^(\w+) : (.*)$")
_ROLE = re.compile(r":\w+:`~?(?:[\w.]*\.)?([\w]+)`")


def _docstring_entries(cls) -> dict[str, str]:
    """``{name: first sentence}`` of the documented entries of the Parameters section."""
    import inspect

    doc = inspect.getdoc(cls) or ""
    match = re.search(r"^( *)Parameters\n\1-+\n(.*?)(?:\n\1\S[^\n]*\n\1-+\n|\Z)", doc,
                      re.S | re.M)
    if not match:
        return {}
    indent = len(match.group(1))
    entries: dict[str, list[str]] = {}
    current = None
    for line in (ln[indent:] for ln in match.group(2).splitlines()):
        if line and not line[0].isspace():
            m = _ENTRY.match(line)
            current = m.group(1) if m else None
            if current:
                entries[current] = []
        elif current and line.strip():
            entries[current].append(line.strip())
        elif current and entries[current]:  # a blank line ends the first paragraph
            current = None
    return {k: _first_sentence(k, " ".join(v)) for k, v in entries.items() if v}


def _first_sentence(name: str, text: str) -> str:
    # An entry that opens with a value (``momentum`` is ...) notes values; name the option.
    prefix = "" if not text.startswith("``") else (
        _FALLBACK_HELP.get(name) or name.replace("_", " ").capitalize()) + "; "
    text = _ROLE.sub(r"\1", text).replace("``", "")
    return prefix + re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]


def _parameter_help(cls) -> dict[str, str]:
    """What each parameter is: ``cls``'s own docstring, then the Autoencoder's for the
    training settings (which the other estimators document "as the Autoencoder"),
    then a short fallback. ``%`` is escaped for argparse."""
    from ..estimators import Autoencoder
    from ..estimators._base import TRAINING_CONSTRAINTS

    own, shared = _docstring_entries(cls), _docstring_entries(Autoencoder)
    if not own:  # "Parameters: As :class:`SequenceClassifier`, ...": that class's entries
        import inspect

        from .. import estimators

        match = re.search(r"Parameters\n\s*-+\n\s*As :class:`~?(?:[\w.]*\.)?(\w+)`",
                          inspect.getdoc(cls) or "")
        other = getattr(estimators, match.group(1), None) if match else None
        if isinstance(other, type):
            own = _docstring_entries(other)
    out = {}
    for name in cli_parameters(cls):
        text = own.get(name) or (shared.get(name) if name in TRAINING_CONSTRAINTS else None)
        text = text or _FALLBACK_HELP.get(name, "")
        out[name] = text.replace("%", "%%")
    return out


# -- data in and out ------------------------------------------------------------------------


def add_header_option(parser) -> None:
    """``--header/--no-header``: whether a text table's first line holds column names."""
    parser.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                        help="the first line of a text table is (not) a header (default: "
                             "a header when none of its cells is a number)")


def read_data(spec: str, header: bool | None = None):
    """A table file (.csv, .tsv, .txt, .npy) or a built-in data set name."""
    from .. import datasets

    if spec in BUILTIN_DATA and not Path(spec).exists():
        X, _ = datasets.make_donut() if spec == "donut" else datasets.load_digits()
        return X, None
    return datasets.read_table(spec, header=header)


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _input_paths(spec) -> list[Path]:
    """The files an input argument stands for (a folder: the files in it too)."""
    if spec is None:
        return []
    path = Path(spec)
    if path.is_dir():
        try:
            return [path, *(p for p in path.iterdir() if p.is_file())]
        except OSError:
            return [path]
    return [path]


def check_out(out, *inputs, option: str = "--out", table: bool = False) -> None:
    """Refuse, before any work, an output the command could not or should not write.

    ``out`` must not be one of the command's ``inputs`` (data, labels, a model read,
    or a file inside an input folder): the write would replace what the command reads.
    Its folder must exist (it is not created: a typo there should not make a new
    folder) and be writable; an existing ``out`` must be a regular file (not a folder,
    device or FIFO). ``table``: the extension must be one :func:`write_table` writes.
    """
    from .._errors import InputError
    from .._io import check_regular_target

    if out is None:
        return
    path = Path(out)
    if not str(out) or path.name in ("", ".", ".."):
        raise InputError(f"{option} {out!r}: give a file name")
    for spec in inputs:
        for source in _input_paths(spec):
            if _same_file(path, source):
                raise InputError(f"{option} {out} is also an input of this command ({source}); "
                                 "writing it would replace what the command reads: choose "
                                 "another file")
    if table:
        from ..datasets import TABLE_EXTENSIONS

        if path.suffix.lower() not in TABLE_EXTENSIONS:
            raise InputError(f"{option} {out}: write one of {', '.join(TABLE_EXTENSIONS)}")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.exists():
        raise InputError(f"{option} {out}: the folder {folder} does not exist; create it "
                         "first")
    if not folder.is_dir():
        raise InputError(f"{option} {out}: {folder} is not a folder")
    check_regular_target(path)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option} {out}: the folder {folder} is not writable")


def check_checkpoint_dir(directory) -> None:
    """An existing ``--checkpoint-dir`` must be a writable folder; a new one needs its
    nearest existing parent to be a writable folder (checked before training)."""
    from .._errors import InputError

    if directory is None:
        return
    path = Path(directory)
    if path.exists():
        if not path.is_dir():
            raise InputError(f"--checkpoint-dir {directory}: not a folder")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"--checkpoint-dir {directory}: the folder is not writable")
        return
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"--checkpoint-dir {directory}: cannot be created ({parent} is not "
                         "a writable folder)")


def write_or_print(array, out: str | None, column_names=None) -> None:
    import numpy as np

    from ..datasets import write_table

    array = np.asarray(array)
    if array.ndim == 1:  # one value per row (scores): one column
        array = array[:, None]
    if out:
        write_table(out, array, column_names=column_names)
        print(f"wrote {out} ({array.shape[0]} rows)", file=sys.stderr)
        return
    array = np.atleast_2d(np.asarray(array).T).T
    if column_names:
        print(",".join(column_names))
    np.savetxt(sys.stdout, array, delimiter=",", fmt="%.7g")


def console(stderr: bool = False):
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:  # logs and CI: do not squeeze tables into 80 columns
        out = Console(stderr=stderr, width=150)
    return out


def frame(X, columns):
    """A DataFrame when the file had a header and pandas is installed (keeps the names)."""
    if not columns:
        return X
    try:
        import pandas as pd
    except ImportError:
        return X
    return pd.DataFrame(X, columns=columns)


def model_input(model, X, columns):
    return frame(X, columns) if hasattr(model, "feature_names_in_") else X


def load_model(path, cls):
    """The model in ``path``; ModelFileError unless it is a ``cls``."""
    from .._errors import ModelFileError
    from .._serialize import load

    model = load(path)
    if not isinstance(model, cls):
        def a(name: str) -> str:
            return f"{'an' if name[0] in 'AEIOU' else 'a'} {name}"

        raise ModelFileError(f"{path}: holds {a(type(model).__name__)}, not {a(cls.__name__)}")
    return model


# -- preparation stored with the model ------------------------------------------------------

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


class Prepared(NamedTuple):
    """A table as the model reads it: features, their names (or None) and the ids."""

    X: object  # float32 (n_rows, n_features)
    columns: list[str] | None
    ids: list[str] | None


def _text_cells(spec: str, header: bool | None, option: str):
    """``(names, rows, first data line)`` of a text table, every cell a string."""
    import csv

    from .._errors import InputError

    path = Path(spec)
    if spec in BUILTIN_DATA and not path.exists():
        raise InputError(f"{option} names columns; the built-in {spec} data has no header: "
                         "give a file with a header line")
    ext = path.suffix.lower()
    if ext not in (".csv", ".tsv", ".txt"):
        raise InputError(f"{option} names columns of a text table with a header line "
                         f"(.csv, .tsv, .txt), not a {ext or 'extensionless'} file",
                         path=spec)
    if header is False:
        raise InputError(f"{option} names columns: the first line must be a header "
                         "(drop --no-header)", path=spec)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("no such file", path=spec) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                         path=spec) from None
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
        cells = [(n, [c.strip() for c in row]) for (n, _), row in
                 zip(lines, csv.reader((ln for _, ln in lines), delimiter=delimiter),
                     strict=True)]
    (_, names), rows = cells[0], cells[1:]
    from ..datasets._tables import _is_number

    if header is None and any(_is_number(c) for c in names):
        raise InputError(f"{option} names columns, but the first line is not a header "
                         f"(it holds a number): add a line of column names", path=spec,
                         line=lines[0][0])
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InputError(f"the header names column {twice!r} twice", path=spec, line=1)
    return names, rows


def read_prepared(spec: str, header: bool | None, *, columns=None, drop=None,
                  id_column: str | None = None, model: str | None = None) -> Prepared:
    """DATA's features (and ids), selected by column name.

    At fit (``model`` None): ``columns`` or all columns, less ``drop`` and the id
    column. Later (``model`` names the model file): exactly the model's ``columns``,
    found by name in any order; a missing one is a one-line error naming it, the file
    and the model. Without any name to select, the table is read as it is.
    """
    if columns is None and not drop and id_column is None:
        X, names = read_data(spec, header)
        return Prepared(X, names, None)
    option = ("--columns" if columns is not None else "--drop" if drop else "--id-column") \
        if model is None else f"the model {model}"
    names, rows = _text_cells(spec, header, option)
    chosen = _choose_columns(spec, names, columns, drop, id_column, model)
    return _parse_rows(spec, names, rows, chosen, id_column)


def _choose_columns(spec, names, columns, drop, id_column, model) -> list[str]:
    from .._errors import InputError

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


def _parse_rows(spec, names, rows, chosen, id_column) -> Prepared:
    import numpy as np

    from .._errors import InputError

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
    return Prepared(X32, chosen, ids)


def make_scaler(kind: str):
    """The scaler ``--scale kind`` fits (None for ``none``)."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    return {"none": None, "minmax": MinMaxScaler(), "standard": StandardScaler()}[kind]


def fit_preparation(args, X, columns):
    """``(scaler or None, X as the estimator reads it)``: the scaler fitted on ``X`` (the
    training rows). A constant column is scaled to 0 (scikit-learn's rule: a zero range
    or variance divides by 1), and said so on stderr."""
    import numpy as np

    scaler = make_scaler(args.scale)
    data = frame(X, columns)
    if scaler is None:
        return None, data
    constant = np.flatnonzero(np.ptp(np.asarray(X), axis=0) == 0) if len(X) else []
    if len(constant):
        names = [columns[j] if columns else f"x{j}" for j in constant]
        print(f"--scale {args.scale}: column{'s' if len(names) > 1 else ''} "
              f"{', '.join(names[:6])}{' ...' if len(names) > 6 else ''} constant in the "
              f"training rows: scaled to 0", file=sys.stderr)
    scaler.fit(data)
    if hasattr(scaler, "feature_names_in_"):
        scaler.set_output(transform="pandas")
    return scaler, scaler.transform(data)


def preparation_used(args) -> bool:
    """Whether a fit was given any preparation option (then a Pipeline file is written)."""
    return (args.scale != "none" or args.columns is not None or args.drop is not None
            or args.id_column is not None)


def save_prepared(path, scaler, estimator, columns, id_column) -> None:
    """The model file of a prepared fit: a Pipeline (the scaler, if any, and the
    estimator) with the input columns and the id column as its JSON settings."""
    from sklearn.pipeline import Pipeline

    from .._pipeline import save

    steps = ([("scaler", scaler)] if scaler is not None else []) + [
        (type(estimator).__name__.lower(), estimator)]
    save(Pipeline(steps), path, columns=columns, id_column=id_column)


class Loaded(NamedTuple):
    """A model file as the later commands use it: the estimator, its preparation."""

    estimator: object
    scalers: list
    columns: list[str] | None
    id_column: str | None

    def read(self, spec: str, header: bool | None, model: str) -> Prepared:
        """DATA as the model reads it: selected by name, with its ids (not scaled)."""
        if self.columns is None and self.id_column is None:
            return read_prepared(spec, header)
        return read_prepared(spec, header, columns=self.columns, id_column=self.id_column,
                             model=model)

    def prepare(self, data: Prepared):
        """The scaled features, with their names when the estimator has them."""
        X = frame(data.X, data.columns) if self.scalers else model_input(
            self.estimator, data.X, data.columns)
        for scaler in self.scalers:
            X = scaler.transform(X)
        return X


def load_prepared(path, cls) -> Loaded:
    """The ``cls`` in ``path`` (alone, or last in a Pipeline with its preparation);
    ModelFileError when the file holds anything else."""
    from sklearn.pipeline import Pipeline

    from .._errors import ModelFileError
    from .._serialize import load

    obj = load(path)
    if isinstance(obj, Pipeline):
        est = obj.steps[-1][1]
        if not isinstance(est, cls):
            raise ModelFileError(f"{path}: holds a Pipeline ending in a "
                                 f"{type(est).__name__}, not a {cls.__name__}")
        return Loaded(est, [s for _, s in obj.steps[:-1]],
                      getattr(obj, "input_columns_", None), getattr(obj, "id_column_", None))
    if not isinstance(obj, cls):
        return Loaded(load_model(path, cls), [], None, None)  # load_model says what it is
    return Loaded(obj, [], None, None)


def write_with_ids(array, out: str | None, column_names, ids, id_column: str) -> None:
    """``write_or_print`` with the ids as the first column (CSV or TSV)."""
    import csv

    import numpy as np

    from .._errors import InputError

    array = np.asarray(array)
    if array.ndim == 1:
        array = array[:, None]
    names = list(column_names) if column_names else [f"x{j}" for j in range(array.shape[1])]
    header = [id_column, *names]
    rows = ([i, *(f"{v:.7g}" for v in row)] for i, row in zip(ids, array, strict=True))
    if not out:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return
    ext = Path(out).suffix.lower()
    if ext not in (".csv", ".tsv"):
        raise InputError(f"--out {out}: the model carries the id column {id_column!r}; "
                         "write a .csv or .tsv file")
    from .._io import atomic_write

    with atomic_write(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t" if ext == ".tsv" else ",",
                            lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    print(f"wrote {out} ({array.shape[0]} rows)", file=sys.stderr)
