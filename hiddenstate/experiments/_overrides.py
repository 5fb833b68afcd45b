"""``NAME.FIELD=VALUE`` overrides of the experiments' configs (``reproduce --set``).

A value is read by the type of its field: ``int``, ``float``, ``str``, ``bool``
(``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0``) and tuples of
those, written with commas (``lengths=8,12,16``). Everything that cannot be
applied is a ``ValueError`` naming what is valid; nothing is ignored.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping

__all__ = ["split_overrides", "apply_overrides", "parse_value"]

_BOOLS = {"true": True, "yes": True, "on": True, "1": True,
          "false": False, "no": False, "off": False, "0": False}
_FORMAT = "NAME.FIELD=VALUE (e.g. embedded-reber.n_train_seed=2000)"


def split_overrides(overrides: Iterable[str], selected: Iterable[str],
                    known: Iterable[str]) -> dict[str, dict[str, str]]:
    """``["a.x=1", "a.y=2"]`` -> ``{"a": {"x": "1", "y": "2"}}`` (a later one wins).

    ``known`` are all the experiments' names, ``selected`` those about to run: a
    name outside ``known`` is unknown, one outside ``selected`` would be ignored,
    and both are errors.
    """
    selected, known = tuple(selected), tuple(known)
    out: dict[str, dict[str, str]] = {}
    for item in overrides:
        target, equals, value = item.partition("=")
        name, dot, field = target.strip().partition(".")
        if not (equals and dot and name and field.strip()):
            raise ValueError(f"override {item!r} is not {_FORMAT}")
        if name not in known:
            raise ValueError(f"override {item!r}: unknown experiment {name!r}; "
                             f"valid: {', '.join(known)}")
        if name not in selected:
            raise ValueError(f"override {item!r}: experiment {name!r} is not among those "
                             f"selected ({', '.join(selected)})")
        out.setdefault(name, {})[field.strip()] = value
    return out


def apply_overrides(config, fields: Mapping[str, str], name: str):
    """``config`` (a dataclass) with ``fields`` (raw strings) parsed and replaced."""
    if not fields:
        return config
    valid = [f.name for f in dataclasses.fields(config)]
    unknown = [f for f in fields if f not in valid]
    if unknown:
        raise ValueError(f"experiment {name!r} has no field {unknown[0]!r}; "
                         f"valid fields: {', '.join(valid)}")
    hints = typing.get_type_hints(type(config))
    return dataclasses.replace(
        config, **{f: parse_value(text, hints[f], f"{name}.{f}") for f, text in fields.items()}
    )


def _describe(tp) -> str:
    if typing.get_origin(tp) is tuple:
        item = typing.get_args(tp)[0]
        plural = {int: "integers", float: "numbers", bool: "true/false values"}
        return f"{plural.get(item, 'values')} separated by commas (e.g. 8,12,16)"
    return {bool: "true or false", int: "an integer", float: "a number",
            str: "a string"}.get(tp, str(tp))


def _scalar(text: str, tp):
    if tp is bool:
        return _BOOLS[text.strip().lower()]
    if tp in (int, float):
        return tp(text)
    if tp is str:
        return text
    raise TypeError(tp)


def parse_value(text: str, tp, where: str = "value"):
    """``text`` read as type ``tp``; ``where`` (``name.field``) names it in the error."""
    try:
        if typing.get_origin(tp) is tuple:
            args = typing.get_args(tp)
            parts = text.split(",")
            if not text.strip() or any(not p.strip() for p in parts):
                raise ValueError(text)
            if len(args) != 2 or args[1] is not Ellipsis:
                raise TypeError(tp)
            return tuple(_scalar(p.strip(), args[0]) for p in parts)
        return _scalar(text, tp)
    except TypeError:
        raise ValueError(f"{where} (of type {tp}) cannot be set from text") from None
    except (ValueError, KeyError):
        raise ValueError(f"{where}={text!r}: expected {_describe(tp)}") from None
