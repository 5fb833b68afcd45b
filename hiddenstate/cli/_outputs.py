"""What the commands write: output files checked before any work, tables printed or
written (with an id column), and the one line a fit reports.

Nothing here imports NumPy, scikit-learn or JAX at module level.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["add_raw_text_option", "check_checkpoint_dir", "check_out", "console",
           "fit_save_report", "write_or_print", "write_with_ids"]


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


#: An input given as '' (which Path reads as the current folder, holding the output).
_EMPTY_INPUT = "an input is an empty path (''): give a file name"


def check_out(out, *inputs, option: str = "--out", table: bool = False) -> None:
    """Refuse, before any work, an output the command could not or should not write.

    No input may be an empty path. ``out`` must not be one of the command's ``inputs``
    (data, labels, a model read, or a file inside an input folder): the write would
    replace what the command reads.
    Its folder must exist (it is not created: a typo there should not make a new
    folder) and be writable; an existing ``out`` must be a regular file (not a folder,
    device or FIFO). ``table``: the extension must be one :func:`write_table` writes.
    """
    from .._errors import InputError
    from .._io import check_regular_target

    if any(spec is not None and not str(spec) for spec in inputs):
        raise InputError(_EMPTY_INPUT)
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


def add_raw_text_option(parser) -> None:
    """``--raw-text``: write text cells (ids, column names, labels) exactly as they are,
    without the ``'`` that keeps a spreadsheet from running them as formulas."""
    parser.add_argument("--raw-text", action="store_true",
                        help="write ids, column names and labels as they are (by default one "
                             "that a spreadsheet would run as a formula, starting with = + - @, "
                             "gets a leading ')")


def write_or_print(array, out: str | None, column_names=None, *, raw_text: bool = False) -> None:
    import numpy as np

    from ..datasets import write_table

    array = np.asarray(array)
    if array.ndim == 1:  # one value per row (scores): one column
        array = array[:, None]
    if out:
        write_table(out, array, column_names=column_names, raw_text=raw_text)
        print(f"wrote {out} ({array.shape[0]} rows)", file=sys.stderr)
        return
    array = np.atleast_2d(np.asarray(array).T).T
    if column_names:
        from ..datasets._tables import write_text_rows

        write_text_rows(sys.stdout, [str(n) for n in column_names], (), raw_text=raw_text)
    np.savetxt(sys.stdout, array, delimiter=",", fmt="%.7g")


def console(stderr: bool = False):
    from rich.console import Console

    out = Console(stderr=stderr)
    if not out.is_terminal:  # logs and CI: do not squeeze tables into 80 columns
        out = Console(stderr=stderr, width=150)
    return out


def print_settings(est, data: str, shape=None) -> None:
    """With ``--verbose`` (``est.verbose``), one line on stderr before training: the
    estimator, its data and every setting it trains with (as JSON)."""
    import json

    if not est.verbose:
        return
    size = f" {tuple(shape)}" if shape is not None else ""
    console(stderr=True).print(f"[bold]{type(est).__name__}[/] on {data}{size}: "
                               f"{json.dumps(est.get_params(), default=str)}",
                               soft_wrap=True)  # one line, the JSON readable by a program


def verbose_prints_settings(parser) -> None:
    """Say in ``--verbose``'s help that it prints the settings (:func:`print_settings`)."""
    for action in parser._actions:
        if action.dest == "verbose":
            action.help = action.help.replace(" (default", ", and print the settings (default")


def write_with_ids(array, out: str | None, column_names, ids, id_column: str, *,
                   raw_text: bool = False) -> None:
    """``write_or_print`` with the ids as the first column (CSV or TSV)."""
    import numpy as np

    from .._errors import InputError
    from ..datasets._tables import write_text_rows

    array = np.asarray(array)
    if array.ndim == 1:
        array = array[:, None]
    names = list(column_names) if column_names else [f"x{j}" for j in range(array.shape[1])]
    header = [id_column, *names]
    rows = ([i, *(f"{v:.7g}" for v in row)] for i, row in zip(ids, array, strict=True))
    if not out:
        write_text_rows(sys.stdout, header, rows, raw_text=raw_text)
        return
    ext = Path(out).suffix.lower()
    if ext not in (".csv", ".tsv"):
        raise InputError(f"--out {out}: the model carries the id column {id_column!r}; "
                         "write a .csv or .tsv file")
    from .._io import atomic_write

    with atomic_write(out, "w", newline="", encoding="utf-8") as handle:
        write_text_rows(handle, header, rows, delimiter="\t" if ext == ".tsv" else ",",
                        raw_text=raw_text)
    print(f"wrote {out} ({array.shape[0]} rows)", file=sys.stderr)


def fit_save_report(est, out: str | None, fit: Callable[[], object], *,
                    inputs: str | None = None, preparation: dict | None = None,
                    notes: Sequence[Callable[[], str]] = (), trained: str = "trained",
                    report: Callable[[float], str] | None = None) -> float:
    """Train ``est`` (``fit()``), write it to ``out``, say so in one line on stderr.

    The line: ``{trained} N epochs on {inputs} in S s; final loss L; {notes}; wrote
    OUT``, each note called once trained (e.g. the training accuracy). ``out`` None
    writes nothing; ``preparation`` (``scaler``, ``columns``, ``id_column``) is stored
    with the model (:func:`hiddenstate.datasets.save_prepared`), else ``est.save``.
    ``report(seconds)``, when given, is the whole line instead. Returns the seconds
    ``fit`` took.
    """
    import warnings

    from .._errors import ModelSizeWarning

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        if out is not None:  # a model that cannot be written is refused before training
            warnings.simplefilter("error", ModelSizeWarning)
        fit()
    seconds = time.perf_counter() - t0
    if out is not None and preparation is not None:
        from ..datasets import save_prepared

        save_prepared(out, est, **preparation)
    elif out is not None:
        est.save(out)
    if report is not None:
        print(report(seconds), file=sys.stderr)
        return seconds
    on = f" on {inputs}" if inputs else ""
    parts = [f"{trained} {est.n_iter_} epochs{on} in {seconds:.2f} s",
             f"final loss {est.loss_curve_[-1]:.5g}", *(note() for note in notes)]
    if out is not None:
        parts.append(f"wrote {out}")
    print("; ".join(parts), file=sys.stderr)
    return seconds
