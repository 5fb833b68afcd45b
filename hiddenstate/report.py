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

from ._io import atomic_write

__all__ = [
    "ResultRow",
    "ExperimentResult",
    "results_table",
    "write_report",
    "environment_info",
    "format_value",
]


@dataclasses.dataclass
class ResultRow:
    """One measured figure of an experiment.

    ``seed`` is the value the seed text reported (None if it reported none);
    ``passed`` says whether ``ours`` meets ``target`` (None: nothing to meet).
    """

    experiment: str
    figure: str
    seed: Any
    ours: Any
    seconds: float
    variant: str = ""
    passed: bool | None = None
    target: str = ""


@dataclasses.dataclass
class ExperimentResult:
    """Everything an experiment produced: rows, figures (caption -> PNG path), exact settings."""

    name: str
    rows: list[ResultRow]
    figures: dict[str, str]
    settings: dict
    seconds: float
    notes: str = ""


def format_value(value) -> str:
    """Numbers to 4 significant digits (scientific when small), everything else as text."""
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


def results_table(results: list[ExperimentResult]):
    """A :class:`rich.table.Table`: experiment, variant, figure, seed, ours, target, seconds."""
    from rich.table import Table

    table = Table(title="hiddenstate reproduce")
    for col in ("experiment", "variant", "figure", "seed", "ours", "target", "", "seconds"):
        table.add_column(col, justify="right" if col in ("seed", "ours", "seconds") else "left")
    for result in results:
        for row in result.rows:
            mark = {"pass": "[green]pass[/]", "MISS": "[red]MISS[/]", "": ""}[_status(row.passed)]
            table.add_row(row.experiment, row.variant, row.figure, format_value(row.seed),
                          format_value(row.ours), row.target, mark, f"{row.seconds:.2f}")
    return table


def environment_info() -> dict:
    """Versions, platform, devices and date: what a reader needs to compare numbers."""
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


def _img(path: Path) -> str:
    try:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    except OSError:
        return f"<p class='miss'>missing figure: {html.escape(str(path))}</p>"
    return f"<img alt='{html.escape(path.name)}' src='data:image/png;base64,{data}'>"


def _row_html(row: ResultRow) -> str:
    status = _status(row.passed)
    cls = {"pass": "pass", "MISS": "miss", "": ""}[status]
    cells = [
        html.escape(row.experiment), html.escape(row.variant), html.escape(row.figure),
        f"<td class='num'>{html.escape(format_value(row.seed))}</td>",
        f"<td class='num'>{html.escape(format_value(row.ours))}</td>",
        html.escape(row.target), f"<span class='{cls}'>{status}</span>",
        f"<td class='num'>{row.seconds:.2f}</td>",
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
    """Write ``out_dir/report.html`` (figures inlined) and ``out_dir/results.json``, atomically."""
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
                 "<th>seed</th><th>ours</th><th>target</th><th></th><th>seconds</th></tr>")
    parts += [_row_html(row) for r in results for row in r.rows]
    parts.append("</table>")
    for r in results:
        parts.append(f"<h2 id='{esc(r.name)}'>{esc(r.name)}</h2>")
        parts.append(f"<p>{r.seconds:.1f} s in all.</p>")
        if r.notes:
            parts.append(f"<p>{esc(r.notes)}</p>")
        for caption, fig_path in r.figures.items():
            p = Path(fig_path)
            parts.append(f"<figure>{_img(p)}<figcaption>{esc(caption)}</figcaption></figure>")
        parts.append("<details><summary>exact settings</summary><pre>"
                     f"{esc(json.dumps(r.settings, indent=2, default=str))}</pre></details>")
    parts.append("<h2>Environment</h2><pre>"
                 f"{esc(json.dumps(environment, indent=2, default=str))}</pre></body></html>")
    report = out / "report.html"
    with atomic_write(report, "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts))

    def rel(path: str) -> str:
        try:
            return str(Path(path).resolve().relative_to(out.resolve()))
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
                "rows": [dataclasses.asdict(row) for row in r.rows],
            }
            for r in results
        ],
    }
    with atomic_write(out / "results.json", "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, default=str)
    return report
