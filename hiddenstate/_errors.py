"""The exceptions hiddenstate raises on purpose.

Every error a user can cause (bad data, bad options, a bad model file, a run
that diverged) is one of these, with a message that says what is wrong and
where. The CLI prints them without a traceback.
"""

from __future__ import annotations

__all__ = [
    "HiddenstateError",
    "InputError",
    "ModelFileError",
    "DivergenceError",
    "ModelSizeWarning",
]


class HiddenstateError(Exception):
    """Base class of the errors hiddenstate raises deliberately."""


class InputError(HiddenstateError, ValueError):
    """Bad input data: the message names the file, line, column or row.

    Parameters
    ----------
    message : str
        What is wrong.
    path, line, column, row, index : optional
        Where it is wrong (1-based ``line``/``column`` for text files, 0-based
        ``row``/``column`` for arrays, ``index`` for the n-th sequence).
    step, channel : optional
        Where in sequence ``index`` (0-based step and feature): kept as attributes for
        programs, while the message says them in its own words ("at step 2, feature 1").
    """

    def __init__(
        self,
        message: str,
        *,
        path: object | None = None,
        line: int | None = None,
        column: int | None = None,
        row: int | None = None,
        index: int | None = None,
        step: int | None = None,
        channel: int | None = None,
    ) -> None:
        self.path, self.line, self.column, self.row, self.index = path, line, column, row, index
        self.step, self.channel = step, channel
        where = []
        if path is not None:
            where.append(str(path))
        if index is not None:
            where.append(f"sequence {index}")
        if line is not None:
            where.append(f"line {line}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        self.message = message
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


class ModelFileError(HiddenstateError, ValueError):
    """A model or checkpoint file that is missing, truncated, corrupted or foreign."""


class DivergenceError(HiddenstateError, FloatingPointError):
    """Training produced a non-finite loss; the last finite parameters were kept."""

    def __init__(self, message: str, *, epoch: int | None = None) -> None:
        self.epoch = epoch
        super().__init__(message)


class ModelSizeWarning(HiddenstateError, UserWarning):
    """Warned before training: the fitted model will be too large to write to a model
    file (its header would pass :data:`hiddenstate._serialize.MAX_HEADER_BYTES`). The
    command line, which always writes one, turns it into an error before training."""
