"""Command-line options built from an estimator: its parameter constraints give each
option's forms, its numpydoc docstring the help line.

The fit commands read them from a generated table, :mod:`._option_table` (written by
``python -m hiddenstate.cli._gen_options`` from the estimator classes, checked by a
test), so that parsing and ``X fit --help`` import neither scikit-learn nor JAX: the
estimator classes are imported only when a command runs. Nothing here imports
scikit-learn or JAX at module level.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Callable
from typing import NamedTuple

from .._limits import insane_number

__all__ = ["Option", "Parser", "add_estimator_options", "cli_parameters", "estimator_kwargs",
           "estimator_options", "number", "option_names"]


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


class _Interval(NamedTuple):
    """scikit-learn's ``Interval`` constraint as plain data (``kind`` ``"int"`` or
    ``"float"``): the same membership and the same words, without scikit-learn."""

    kind: str
    left: int | float | None
    right: int | float | None
    closed: str  # "left", "right", "both" or "neither"

    @classmethod
    def of(cls, interval) -> _Interval:
        """The plain form of a scikit-learn ``Interval``."""
        from numbers import Integral

        kind = "int" if interval.type is Integral else "float"
        return cls(kind, interval.left, interval.right, interval.closed)

    def __contains__(self, value) -> bool:
        if value != value:  # NaN
            return False
        below = self.left is not None and (
            value < self.left if self.closed in ("left", "both") else value <= self.left)
        above = self.right is not None and (
            value > self.right if self.closed in ("right", "both") else value >= self.right)
        return not (below or above)

    def __str__(self) -> str:
        def bound(b, infinite: str):
            if b is None:
                return infinite
            return b if self.kind == "int" else float(b)

        return (f"{'an int' if self.kind == 'int' else 'a float'} in the range "
                f"{'[' if self.closed in ('left', 'both') else '('}{bound(self.left, '-inf')}, "
                f"{bound(self.right, 'inf')}{']' if self.closed in ('right', 'both') else ')'}")


class _Forms(NamedTuple):
    """What one parameter accepts on the command line, read from its constraints."""

    name: str
    none: bool = False
    boolean: bool = False
    strings: tuple[str, ...] = ()
    ints: tuple = ()  # _Intervals (None: any int)
    floats: tuple = ()
    int_list: bool = False
    text: bool = False
    mapping: bool = False  # a dict, spelled KEY=X,KEY=X (e.g. class weights)
    #: (module, name) of the registry whose names ``strings`` are (the cells): read
    #: there when that module is loaded, so a name registered at run time is offered.
    registry: tuple[str, str] | None = None

    @property
    def none_words(self) -> tuple[str, ...]:
        return ("none", *_NONE_ALIASES.get(self.name, ())) if self.none else ()

    def choices(self) -> tuple[str, ...]:
        """The strings accepted: a registry's names as registered now where its module
        is loaded (a plugin's cell, registered at run time), else ``strings``."""
        module = sys.modules.get(self.registry[0]) if self.registry else None
        return tuple(sorted(getattr(module, self.registry[1]))) if module else self.strings

    def __call__(self, text: str):
        """The value ``text`` stands for; ArgumentTypeError when it is no valid form."""
        if text.lower() in self.none_words:
            return None
        if self.registry and text not in self.choices():  # the live registry decides
            importlib.import_module(self.registry[0])
        if text in self.choices():
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
        raise argparse.ArgumentTypeError(f"expected {self.describe()}, got {text!r}"
                                         f"{_insane(text)}")

    def describe(self) -> str:
        parts = [repr(s) for s in self.choices()]
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
        forms = list(self.choices())
        forms += ["N"] if self.ints else []
        forms += ["X"] if self.floats else []
        forms += ["N,N,..."] if self.int_list else []
        forms += ["KEY=X,..."] if self.mapping else []
        forms += ["PATH"] if self.text else []
        forms += ["true", "false"] if self.boolean else []
        forms += list(self.none_words)
        return "|".join(forms)


# LARGEST and SMALLEST (hiddenstate._limits): magnitudes no setting needs; model files are
# held to them too.


def _insane(text: str) -> str:
    """Why ``text`` is a number no option takes (NaN, infinite, absurdly large or small),
    as a note for the error line; '' when it is none of those (or no number)."""
    try:
        value = float(text)
    except (ValueError, OverflowError):
        return ""
    why = insane_number(value)
    return f" ({why})" if why else ""


def _number(text: str, parse, intervals):
    if not intervals or _insane(text):
        return None
    try:
        value = parse(text)
    except ValueError:
        return None
    if any(i is None or value in i for i in intervals):
        return value
    return None


def number(parse=int, low=None, high=None, *, above: bool = False):
    """An argparse ``type`` for a hand-written numeric option: an ``int`` or ``float``
    (``parse``) at least ``low`` (more than ``low`` with ``above``) and at most ``high``;
    NaN, infinities and absurd magnitudes (:data:`LARGEST`, :data:`SMALLEST`) are
    refused in one line, as for the options built from an estimator."""
    kind = "an int" if parse is int else "a number"
    where = ""
    if low is not None or high is not None:
        left = "" if low is None else f"{'more than' if above else 'at least'} {low:g}"
        right = "" if high is None else f"at most {high:g}"
        where = " " + " and ".join(p for p in (left, right) if p)

    def convert(text: str):
        value = None if _insane(text) else _parse_or_none(parse, text)
        if value is None or (low is not None and (value <= low if above else value < low)) \
                or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {kind}{where}, got {text!r}"
                                             f"{_insane(text)}")
        return value

    convert.__name__ = parse.__name__  # argparse names the type in some errors
    return convert


def _parse_or_none(parse, text: str):
    try:
        return parse(text)
    except ValueError:
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


#: Registries a constraint may read its names from (``RegistryOptions``): where the
#: command line finds them again without importing the estimators.
_REGISTRIES = {"hiddenstate.nn._cells": "CELLS"}


def _registry_of(constraint) -> tuple[str, str]:
    for module, name in _REGISTRIES.items():
        if getattr(importlib.import_module(module), name) is constraint.registry:
            return module, name
    raise TypeError(f"no command-line spelling for the registry of {constraint!r}: add its "
                    f"module to hiddenstate.cli._options._REGISTRIES")


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
            fields["ints"].append(_Interval("int", 0, 2**32 - 1, "both"))
            fields["none"] = True
        elif c == "verbose":
            fields["ints"].append(_Interval("int", 0, None, "left"))
            fields["boolean"] = True
        elif isinstance(c, Interval):
            fields["ints" if c.type is Integral else "floats"].append(_Interval.of(c))
        elif isinstance(c, Options) and all(isinstance(o, str) for o in c.options):
            fields["strings"] += sorted(c.options)
            if hasattr(c, "registry"):
                fields["registry"] = _registry_of(c)
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


def add_estimator_options(parser: argparse.ArgumentParser, estimator) -> list[str]:
    """One ``--option`` per parameter of ``estimator``; returns the parameter names.

    ``estimator`` is the name of an estimator in the generated table (the fit
    commands': no estimator is imported) or a class. An option the user does not
    type is absent from the namespace (``argparse.SUPPRESS``), so the estimator
    keeps its own default, and ``none`` really passes None. Types and choices come
    from the class's ``_parameter_constraints``; the help line from its docstring.
    """
    options = estimator_options(estimator)
    name = estimator if isinstance(estimator, str) else estimator.__name__
    group = parser.add_argument_group(
        f"{name} settings", "Each defaults to the estimator's own default."
    )
    for option in options.values():
        forms, default, help_text = option.forms, option.default, option.help
        flag = "--" + forms.name.replace("_", "-")
        if forms == _Forms(forms.name, boolean=True):
            group.add_argument(flag, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS,
                               help=f"{help_text} (default: {'yes' if default else 'no'})")
        else:
            group.add_argument(flag, type=forms, metavar=forms.metavar(),
                               default=argparse.SUPPRESS,
                               help=f"{help_text} (default: {_cli_spelling(default)})")
    return list(options)


def estimator_kwargs(args: argparse.Namespace, cls) -> dict:
    """The parameters of ``cls`` the user typed, exactly as typed (None included)."""
    return {n: getattr(args, n) for n in cli_parameters(cls) if hasattr(args, n)}


# -- the table of options -------------------------------------------------------------------


class Option(NamedTuple):
    """One estimator parameter as the command line offers it."""

    forms: _Forms
    default: object
    help: str  # what it is (``%`` escaped for argparse), without the default


def estimator_options(estimator) -> dict[str, Option]:
    """``{parameter: Option}`` of ``estimator``: a name in the generated table, read
    without importing the estimators, or a class, read from its constraints."""
    if not isinstance(estimator, str):
        return _class_options(estimator)
    from ._option_table import SHARED, TABLE

    out = {}
    for name, row in TABLE[estimator].items():
        default, help_text, forms = SHARED[name] if row is None else row
        out[name] = Option(_Forms(name, **{k: _table_value(k, v) for k, v in forms.items()}),
                           default, help_text)
    return out


def option_names(estimator) -> tuple[str, ...]:
    """The parameters of ``estimator`` (a table name or a class) that are options."""
    if not isinstance(estimator, str):
        return tuple(cli_parameters(estimator))
    from ._option_table import TABLE

    return tuple(TABLE[estimator])


def _table_value(field: str, value):
    if field in ("ints", "floats"):
        return tuple(None if i is None else _Interval(*i) for i in value)
    return tuple(value) if isinstance(value, list) else value


def _class_options(cls, names=None) -> dict[str, Option]:
    """:func:`estimator_options` of a class (its parameters ``names``, default all)."""
    params = cli_parameters(cls)
    docs = _parameter_help(cls) if names is None else {}
    return {name: Option(_forms(cls, name), params[name],
                         (docs.get(name) or name.replace("_", " ").capitalize()).rstrip("."))
            for name in (params if names is None else names)}


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
