"""Limits on what one input may ask of the machine, and the checks that name them.

A few bytes of input (``--n-components 1000000000000``, one line of a
megabyte) can ask for more memory or time than the machine has. These checks
run where the input enters, before anything is allocated, and raise
:class:`~hiddenstate.InputError` with the limit and the estimate in the
message, so that the CLI prints one line instead of being killed.

The memory estimate is deliberately simple: bytes per parameter times the
parameter count, plus the activations of one step (see
:func:`training_bytes`). It is an order of magnitude, not an accounting:
it refuses only what cannot possibly fit.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from ._errors import InputError

if TYPE_CHECKING:  # NumPy is imported where it is used: the command line's parser reads
    import numpy as np  # insane_number and the limits without it

__all__ = [
    "MAX_LINE_CHARS",
    "MAX_TABLE_LINE_CHARS",
    "MAX_SENTENCE_WORDS",
    "BYTES_PER_PARAMETER",
    "available_memory",
    "training_bytes",
    "check_memory",
    "check_output_memory",
    "check_float32",
    "format_bytes",
]

#: The longest line (in characters) the line readers accept: a sentence, label or
#: sequence file line. Longer lines are refused with their line number.
MAX_LINE_CHARS = 100_000

#: The longest line (in characters) of a text table (CSV, TSV, whitespace): a row of
#: a million numbers or so. A longer line is refused with its line number as soon as
#: it is read (a one-line file of gigabytes would otherwise fill the memory).
MAX_TABLE_LINE_CHARS = 10_000_000

#: The longest sentence (in words) the recursive autoencoder accepts. Its greedy tree
#: costs O(L^2) per sentence and training pads every sentence to the longest one, so
#: one sentence of 3,000 words makes an epoch of 40 short sentences take 78 s instead
#: of 9 s (2 CPU cores); rt-polarity's longest sentence has about 60 words.
MAX_SENTENCE_WORDS = 1000

#: float32 bytes kept per parameter while training: the parameters, their gradient,
#: two optimizer moments (Adam), the best parameters (early stopping) and one copy
#: in flight (the compiled step's output before the old buffers are freed).
BYTES_PER_PARAMETER = 6 * 4


def available_memory() -> int:
    """Bytes this process may use: the least of the physical memory, the cgroup
    limit (containers) and ``RLIMIT_AS`` (``ulimit -v``), whichever are set."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 60:
            limits.append(int(text))
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(int(soft))
    except (ImportError, ValueError, OSError):
        pass
    return min(limits) if limits else 1 << 62


def recurrent_parameters(cell: str, n_in: int, hidden: int, num_layers: int = 1, *,
                         directions: int = 1) -> int | None:
    """Parameters of ``num_layers`` stacked recurrent cells (``directions`` of them per
    layer, their outputs concatenated), or None for a cell that does not say its
    :attr:`~hiddenstate.nn.RecurrentCell.gates` (or is not registered)."""
    from .nn._cells import CELLS

    gates = getattr(CELLS.get(cell), "gates", None)
    if gates is None:
        return None
    total, width = 0, int(n_in)
    for _ in range(int(num_layers)):
        total += directions * (gates * int(hidden) * (width + int(hidden) + 1) + 2 * int(hidden))
        width = directions * int(hidden)
    return total


def format_bytes(n: float) -> str:
    """``n`` bytes in the largest unit that keeps it above 1 (``'7.5 GB'``)."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.3g} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def training_bytes(n_parameters: int, activations: int = 0) -> int:
    """Estimated peak bytes to train a model of ``n_parameters`` float32 parameters
    whose one step holds ``activations`` float32 values (forward and backward,
    counted twice)."""
    return int(n_parameters) * BYTES_PER_PARAMETER + 2 * 4 * int(activations)


def check_memory(n_parameters: int, what: str, *, activations: int = 0,
                 limit: int | None = None) -> None:
    """Raise :class:`InputError` when training ``what`` would need more memory than
    this machine has (``limit`` bytes; default :func:`available_memory`).

    ``n_parameters`` and ``activations`` are Python ints (no overflow); the
    message gives the estimate, the limit and the parameter count.
    """
    need = training_bytes(n_parameters, activations)
    have = available_memory() if limit is None else int(limit)
    if need > have:
        raise InputError(
            f"{what} has {int(n_parameters):,} parameters: training it needs about "
            f"{format_bytes(need)} of memory, more than the {format_bytes(have)} this machine "
            "allows; choose smaller sizes")


def check_output_memory(n_bytes: int, what: str, advice: str, *,
                        limit: int | None = None) -> None:
    """Raise :class:`InputError` when producing ``what`` needs ``n_bytes`` of memory at
    once (the output on the device, its copy and the result; a Python int), more than
    this machine allows (``limit``; default :func:`available_memory`): refused in one
    line before any work, with the estimate, the limit and ``advice``."""
    have = available_memory() if limit is None else int(limit)
    if int(n_bytes) > have:
        raise InputError(f"{what} needs about {format_bytes(int(n_bytes))} of memory, more "
                         f"than the {format_bytes(have)} this machine allows; {advice}")


def check_float32(X: np.ndarray, name: str = "X", *, path=None, row_offset: int = 0) -> None:
    """Raise :class:`InputError` naming the first value of ``X`` (float64 or wider)
    that is finite but beyond float32's range, so would become inf when cast.

    Values that are already NaN or inf are left to the finiteness check.
    """
    import numpy as np

    X = np.asarray(X)
    if X.dtype.kind != "f" or X.dtype.itemsize <= 4 or X.size == 0:
        return
    big = float(np.finfo(np.float32).max)
    with np.errstate(invalid="ignore"):
        over = np.isfinite(X) & (np.abs(X) > big)
    if not over.any():
        return
    # Only values that really round to inf: float32's max rounds values a little above it down.
    with np.errstate(over="ignore"):
        over &= np.isinf(X.astype(np.float32))
    if not over.any():
        return
    flat = int(np.flatnonzero(over.reshape(-1))[0])
    row, col = divmod(flat, X.shape[1]) if X.ndim == 2 else (flat, None)
    where = f"row {row + row_offset}" + ("" if col is None else f", column {col}")
    raise InputError(
        f"{name} holds {float(X.reshape(-1)[flat])!r} at {where}, beyond float32's range "
        "(about +-3.4e38): it would become inf; rescale the data", path=path)


#: The most processes and the longest start-up wait (seconds) of
#: :func:`hiddenstate.distributed.initialize`: JAX's runtime keeps both in 32-bit integers
#: and, beyond, fails inside C++.
MAX_PROCESSES = 65536
MAX_TIMEOUT = 1e6

#: Magnitudes no setting needs: a number beyond ``LARGEST``, or nearer 0 than ``SMALLEST``
#: (0 itself aside), is a typo (an option) or a crafted value (a model file), and would
#: reach JAX, XLA or a message as an overflow or a count hundreds of digits long. NaN and
#: infinities are refused as well.
LARGEST = 1e15
SMALLEST = 1e-30


def insane_number(value) -> str:
    """Why a setting's number ``value`` is one no setting takes (NaN, infinite, beyond
    :data:`LARGEST` or nearer 0 than :data:`SMALLEST`), or '' (also for a non-number)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    if abs(value) > LARGEST:
        return f"beyond {LARGEST:g} in magnitude"
    if value != 0 and abs(value) < SMALLEST:
        return f"nearer 0 than {SMALLEST:g}"
    return ""
