"""Writes :mod:`hiddenstate.cli._option_table`, the estimator options of the fit commands.

The fit commands read each estimator's options (forms, defaults, help lines) from
that table, so that parsing and ``--help`` import neither scikit-learn nor JAX. The
table is made from the estimator classes (their parameter constraints and
docstrings, :func:`hiddenstate.cli._options.estimator_options`); after changing an
estimator's parameters, run::

    python -m hiddenstate.cli._gen_options

``tests/test_cli_options.py`` fails while the table disagrees with the classes.
"""

from __future__ import annotations

import ast
import pprint
from pathlib import Path

from ._options import _class_options, _Forms
from .detect import _DETECTOR_OPTIONS

__all__ = ["TABLE_FILE", "source", "table"]

TABLE_FILE = Path(__file__).with_name("_option_table.py")

#: The estimators the commands take options for, and which of their parameters
#: (None: every parameter that is an option).
TABLED = {
    "Autoencoder": None,
    "SequenceModel": None,
    "SequenceAutoencoder": None,
    "SequenceClassifier": None,
    "RecursiveAutoencoder": None,
    "AnomalyDetector": tuple(_DETECTOR_OPTIONS),
}

_HEADER = '''"""The estimator options of the fit commands (generated: do not edit).

Made by ``python -m hiddenstate.cli._gen_options`` from the estimator classes:
``{estimator: {parameter: (default, help line, forms)}}``, the forms being the
fields of ``hiddenstate.cli._options._Forms`` that are not at their defaults. A
parameter's row that several estimators share is in ``SHARED`` (its place in
``TABLE``: None).
"""

'''


def _plain(forms: _Forms) -> dict:
    """The fields of ``forms`` that differ from a bare ``_Forms``, as literals."""
    bare = _Forms(forms.name)
    out = {}
    for field, value in forms._asdict().items():
        if field == "name" or value == getattr(bare, field):
            continue
        if field in ("ints", "floats"):
            value = tuple(None if i is None else tuple(i) for i in value)
        out[field] = value
    return out


def table() -> dict:
    """The table, made now from the estimator classes."""
    from .. import estimators

    out = {}
    for name, parameters in TABLED.items():
        options = _class_options(getattr(estimators, name), parameters)
        out[name] = {p: (o.default, o.help, _plain(o.forms)) for p, o in options.items()}
        for p, row in out[name].items():
            if ast.literal_eval(repr(row)) != row:
                raise TypeError(f"{name}.{p}: {row!r} is no Python literal")
    return out


def source(rows: dict) -> str:
    """The text of the table module holding ``rows``: a parameter's row that several
    estimators share (its most frequent one) is written once."""
    seen: dict[str, list] = {}
    for options in rows.values():
        for name, row in options.items():
            seen.setdefault(name, []).append(repr(row))
    shared = {}
    for name, found in sorted(seen.items()):
        common = max(found, key=found.count)  # the first of the most frequent
        if found.count(common) > 1:
            shared[name] = ast.literal_eval(common)
    table = {est: {name: None if shared.get(name, ...) == row else row
                   for name, row in options.items()} for est, options in rows.items()}
    return (_HEADER + "SHARED = " + pprint.pformat(shared, width=99, sort_dicts=False)
            + "\n\nTABLE = " + pprint.pformat(table, width=99, sort_dicts=False) + "\n")


def main() -> None:
    TABLE_FILE.write_text(source(table()), encoding="utf-8")
    print(f"wrote {TABLE_FILE}")


if __name__ == "__main__":
    main()
