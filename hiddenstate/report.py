"""Results of the classic experiments: a rich table, a self-contained report.html, results.json."""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import html
import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from ._io import atomic_write

__all__ = [
    "ResultRow",
    "ExperimentResult",
    "results_table",
    "write_report",
    "environment_info",
    "format_value",
    "reference_cell",
    "REFERENCE_LEGEND",
    "SOURCES",
]


@dataclasses.dataclass
class ResultRow:
    """One measured figure of an experiment.

    Attributes
    ----------
    experiment : str
        The experiment's name, e.g. ``"donut"``.
    figure : str
        What is measured, e.g. ``"final MSE"``.
    seed : str, float or None
        The reference figure (None: there is none); ``source`` says whose it is.
    ours : float or str
        The value measured here (a string for e.g. ``"not reached"``).
    seconds : float
        Wall-clock time of the run that produced ``ours``.
    variant : str
        Which recipe, e.g. ``"seed algorithm"`` or ``"hiddenstate default"``.
    passed : bool or None
        Whether ``ours`` meets ``target`` (None: nothing to meet).
    target : str
        The condition, as text, e.g. ``"<= 15.3"``.
    source : str
        Whose figure ``seed`` is: ``"seed"`` (the seed's own text reported it),
        ``"recipe"`` (WORKLOADS.md's figure for the seed's algorithm), ``"paper"`` (a
        published figure) or ``"baseline"`` (a baseline measured outside this run). The
        report's "reference" column marks all but the first (:data:`SOURCES`).
    """

    experiment: str
    figure: str
    seed: str | float | None
    ours: float | str
    seconds: float
    variant: str = ""
    passed: bool | None = None
    target: str = ""
    source: str = "seed"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")


#: What a row's reference figure can be (:attr:`ResultRow.source`), as the report says it.
SOURCES = {"seed": "the seed's text reports it", "recipe": "WORKLOADS.md's figure for the "
           "seed's algorithm", "paper": "a published figure", "baseline": "a baseline's "
           "figure measured outside this run (named in the row)"}
#: The line under every results table that says what its "reference" column holds.
REFERENCE_LEGEND = ("reference: the figure the seed's text reports; marked (recipe): "
                    "WORKLOADS.md's figure for the seed's algorithm; (paper): a published "
                    "figure; (baseline): a baseline measured outside this run")


def reference_cell(row: ResultRow) -> str:
    """The "reference" column's text: the figure, marked with its source unless the seed's."""
    text = format_value(row.seed)
    return text if row.seed is None or row.source == "seed" else f"{text} ({row.source})"


@dataclasses.dataclass
class ExperimentResult:
    """Everything an experiment produced.

    Attributes
    ----------
    name : str
    rows : list of ResultRow
    figures : dict of str to str
        Caption -> path of a PNG already on disk (usually ``out_dir/figures/``).
    settings : dict
        The exact, JSON-serialisable settings used.
    seconds : float
        Wall-clock time of the whole experiment.
    notes : str
        Free text shown under the experiment's heading (escaped, never HTML).
    """

    name: str
    rows: list[ResultRow]
    figures: dict[str, str]
    settings: dict
    seconds: float
    notes: str = ""


def _plain(value):
    """NumPy scalars and arrays as the Python values JSON and ``isinstance`` expect."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return value


def _json_default(value):
    value = _plain(value)
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return value if isinstance(value, list | int | float | bool | str) else str(value)


def format_value(value) -> str:
    """A table cell: ``'%.4g'`` for numbers, ``'%.3e'`` when tiny or huge, text otherwise.

    Parameters
    ----------
    value : float, int, bool, str, NumPy scalar or None

    Returns
    -------
    str
        ``'-'`` for None, ``'yes'``/``'no'`` for booleans.

    Examples
    --------
    >>> format_value(0.000309), format_value(15.28), format_value(None)
    ('3.090e-04', '15.28', '-')
    """
    value = _plain(value)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def _status(passed) -> str:
    return "" if passed is None else ("pass" if passed else "MISS")


def results_table(results: list[ExperimentResult], *, title: str = "hiddenstate reproduce"):
    """All rows of all results as one table, for the terminal.

    Parameters
    ----------
    results : list of ExperimentResult
    title : str

    Returns
    -------
    rich.table.Table
        Columns experiment, variant, figure, reference (:func:`reference_cell`), ours,
        target, met (pass/MISS) and seconds; the caption is :data:`REFERENCE_LEGEND`.
        Cells are plain text: brackets in names are not markup.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, caption=REFERENCE_LEGEND)
    for col in ("experiment", "variant", "figure", "reference", "ours", "target", "met",
                "seconds"):
        table.add_column(col, justify="right" if col in ("reference", "ours", "seconds")
                         else "left")
    for result in results:
        for row in result.rows:
            status = _status(row.passed)
            style = {"pass": "green", "MISS": "bold red", "": ""}[status]
            cells = (row.experiment, row.variant, row.figure, reference_cell(row),
                     format_value(row.ours), row.target)
            table.add_row(*(Text(str(c)) for c in cells), Text(status, style=style),
                          Text(f"{float(row.seconds):.2f}"))
    return table


def environment_info() -> dict:
    """Versions, platform, devices and date: what a reader needs to compare numbers.

    Returns
    -------
    dict
        ``python``, ``platform``, the versions of hiddenstate, jax, jaxlib,
        equinox, optax, numpy and scikit-learn (``'unknown'`` when not
        installed), ``devices`` (``str`` of each JAX device), ``cpus`` and
        ``date`` (UTC, ISO 8601).
    """
    from importlib.metadata import PackageNotFoundError, version

    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("hiddenstate", "jax", "jaxlib", "equinox", "optax", "numpy", "scikit-learn"):
        try:
            info[pkg] = version(pkg)
        except PackageNotFoundError:
            info[pkg] = "unknown"
    try:
        import jax

        info["devices"] = [str(d) for d in jax.devices()]
    except Exception:  # no backend: report rather than fail
        info["devices"] = []
    info["cpus"] = os.cpu_count()
    info["date"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return info


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
table{border-collapse:collapse;margin:1em 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#17803d;font-weight:600} .miss{color:#b3261e;font-weight:600}
figure{margin:1em 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:0.9em;color:#555} pre{background:#f7f7f7;padding:0.8em;overflow-x:auto}
"""


def _figure_file(path: str | os.PathLike, out: Path) -> Path:
    """``path`` as given, else relative to ``out`` (results.json stores it that way)."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() or not (out / p).exists() else out / p


def _img(path: Path) -> str:
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return f"<p class='miss'>missing figure: {html.escape(str(path))}</p>"
    if not data.startswith("iVBORw0KGgo"):  # base64 of the PNG signature
        return f"<p class='miss'>missing figure (not a PNG): {html.escape(str(path))}</p>"
    return f"<img alt='{html.escape(path.name)}' src='data:image/png;base64,{data}'>"


def _row_html(row: ResultRow) -> str:
    status = _status(row.passed)
    cls = {"pass": "pass", "MISS": "miss", "": ""}[status]
    cells = [
        html.escape(row.experiment), html.escape(row.variant), html.escape(row.figure),
        f"<td class='num'>{html.escape(reference_cell(row))}</td>",
        f"<td class='num'>{html.escape(format_value(row.ours))}</td>",
        html.escape(row.target), f"<span class='{cls}'>{status}</span>",
        f"<td class='num'>{float(row.seconds):.2f}</td>",
    ]
    return "<tr>" + "".join(c if c.startswith("<td") else f"<td>{c}</td>" for c in cells) + "</tr>"


def write_report(
    results: list[ExperimentResult],
    out_dir: str | os.PathLike,
    *,
    title: str = "hiddenstate reproduce",
    command: str | None = None,
    environment: dict | None = None,
) -> Path:
    """Write ``out_dir/report.html`` and ``out_dir/results.json``, each atomically.

    The HTML is self-contained: the results table, each experiment's figures
    inlined as base64 PNG data URIs (a missing one is noted, not fatal), its
    notes and exact settings, the environment and the command. All text is
    HTML-escaped. The JSON holds the same minus the image bytes, with figure
    paths relative to ``out_dir`` where they lie inside it.

    Parameters
    ----------
    results : list of ExperimentResult
    out_dir : str or os.PathLike
        Created if needed.
    title : str
        Page title and heading.
    command : str, optional
        The command line that produced the results.
    environment : dict, optional
        Default: :func:`environment_info`.

    Returns
    -------
    pathlib.Path
        ``out_dir/report.html``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    environment = environment if environment is not None else environment_info()
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if command:
        parts.append(f"<p>Produced by <code>{esc(command)}</code>.</p>")
    parts.append("<h2>Results</h2><table><tr><th>experiment</th><th>variant</th><th>figure</th>"
                 "<th>reference</th><th>ours</th><th>target</th><th>met</th><th>seconds</th>"
                 "</tr>")
    parts += [_row_html(row) for r in results for row in r.rows]
    parts.append(f"</table><p>{esc(REFERENCE_LEGEND)}.</p>")
    for r in results:
        parts.append(f"<h2 id='{esc(r.name)}'>{esc(r.name)}</h2>")
        parts.append(f"<p>{r.seconds:.1f} s in all.</p>")
        if r.notes:
            parts.append(f"<p>{esc(r.notes)}</p>")
        for caption, fig_path in r.figures.items():
            p = _figure_file(fig_path, out)
            parts.append(f"<figure>{_img(p)}<figcaption>{esc(caption)}</figcaption></figure>")
        parts.append("<details><summary>exact settings</summary><pre>"
                     f"{esc(json.dumps(r.settings, indent=2, default=_json_default))}"
                     "</pre></details>")
    parts.append("<h2>Environment</h2><pre>"
                 f"{esc(json.dumps(environment, indent=2, default=_json_default))}"
                 "</pre></body></html>")
    report = out / "report.html"
    with atomic_write(report, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts))

    def rel(path: str | os.PathLike) -> str:
        try:
            return _figure_file(path, out).resolve().relative_to(out.resolve()).as_posix()
        except ValueError:
            return str(path)

    payload = {
        "title": title,
        "command": command,
        "environment": environment,
        "experiments": [
            {
                "name": r.name,
                "seconds": r.seconds,
                "notes": r.notes,
                "settings": r.settings,
                "figures": {k: rel(v) for k, v in r.figures.items()},
                "rows": [
                    {k: _plain(v) for k, v in dataclasses.asdict(row).items()} for row in r.rows
                ],
            }
            for r in results
        ],
    }
    with atomic_write(out / "results.json", "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, default=_json_default)
    return report
