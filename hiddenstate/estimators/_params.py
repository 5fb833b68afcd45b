"""The training settings every estimator shares: their constraints and how they are stored.

scikit-learn asks two things of an estimator's ``__init__``: every parameter is
an explicit keyword of its signature (``get_params``, ``clone`` and
``set_params`` read the signature), and the body only stores the arguments
(``fit`` validates them). So each estimator keeps its own signature, with its
own defaults, and its body is one call::

    def __init__(self, n_components=2, *, ..., learning_rate=0.02, ..., devices=None):
        store_params(self, locals())

The constraints of the shared settings are one table,
:data:`TRAINING_CONSTRAINTS`, spliced into each estimator's own as
scikit-learn's estimators share theirs
(``MLPClassifier._parameter_constraints = {**BaseMultilayerPerceptron._parameter_constraints,
...}``). A choice among registered names (the recurrent ``cell``) is a
:class:`RegistryOptions`, read from the registry when a value is checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, Options, StrOptions

from ..optim import OPTIMIZERS, SCHEDULES

__all__ = ["TRAINING_CONSTRAINTS", "RegistryOptions", "check_cell_options", "store_params"]


def store_params(est, arguments: Mapping[str, object]) -> None:
    """Set each argument of an ``__init__`` as the attribute of the same name.

    ``arguments`` is that ``__init__``'s ``locals()``, taken first thing in its
    body (so that it holds the arguments and nothing else); ``self`` is left out.
    """
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(est, name, value)


def check_cell_options(est) -> None:
    """Refuse a cell option the chosen cell does not have.

    The recurrent estimators take the options of every registered cell as parameters
    (``forget_bias`` of the LSTM, ``activation`` of the Elman cell; each cell names its
    own in :attr:`~hiddenstate.nn.RecurrentCell.options`). One given a value other than
    its default while ``cell`` is a cell without that option would do nothing: it is
    refused instead, with the cells it applies to. Estimators without a ``cell`` are
    left alone.
    """
    from ..nn._cells import CELLS

    params = est.get_params(deep=False)
    chosen = CELLS.get(params.get("cell"))
    if chosen is None:  # no cell parameter, or an unknown cell (_validate_params says so)
        return
    defaults = type(est)().get_params(deep=False)
    for name in sorted({o for c in CELLS.values() for o in c.options} & set(params)):
        if name in chosen.options or params[name] == defaults[name]:
            continue
        owners = [c for c, cls in CELLS.items() if name in cls.options]
        raise ValueError(
            f"{name}={params[name]!r} is an option of the {' and '.join(map(repr, owners))} "
            f"cell{'s' if len(owners) > 1 else ''}; cell={params['cell']!r} has "
            + (f"only {', '.join(chosen.options)}" if chosen.options else "no options")
            + f" (leave {name} at its default, {defaults[name]!r})")


class RegistryOptions(StrOptions):
    """The names in ``registry`` (a dict that a ``register_*`` decorator fills), read
    when a value is checked rather than copied when the constraint is made: a name
    registered later (:func:`hiddenstate.nn.register_cell`) is valid, one removed is
    not, and a wrong one gets scikit-learn's message listing the names registered now.

    The names are in registration order (``options``), so the message and the
    command-line choices, built from ``options`` when the parser is, are stable.
    """

    def __init__(self, registry: Mapping[str, object]) -> None:
        super(Options, self).__init__()  # Options would copy the names once
        self.type = str
        self.deprecated: set = set()
        self.registry = registry

    @property
    def options(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(self.registry)


#: Constraints of the training settings every estimator shares.
TRAINING_CONSTRAINTS: dict = {
    "optimizer": [StrOptions(set(OPTIMIZERS))],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "learning_rate_schedule": [StrOptions(set(SCHEDULES))],
    "momentum": [Interval(Real, 0, 1, closed="left")],
    "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "shuffle": ["boolean"],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "tol": [Interval(Real, 0, None, closed="left")],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
    "warm_start": ["boolean"],
    "checkpoint_dir": [str, os.PathLike, None],
    "checkpoint_every": [Interval(Integral, 1, None, closed="left")],
    "resume": ["boolean"],
    "devices": [Interval(Integral, 1, None, closed="left"), list, tuple, None],
}
