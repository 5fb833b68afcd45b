"""The report: the table, report.html with inline figures, results.json."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest
from rich.console import Console

from hiddenstate import plotting
from hiddenstate.report import (
    ExperimentResult,
    ResultRow,
    environment_info,
    format_value,
    results_table,
    write_report,
)

_ENV = {"python": "3.x", "jax": "0.x", "date": "2025-01-01T00:00:00+00:00"}


def _result(tmp_path):
    fig = tmp_path / "figures" / "c.png"
    fig.parent.mkdir()
    plotting.learning_curves({"a": np.array([2.0, 1.0])}, path=fig)
    rows = [ResultRow("donut", "final MSE", 1.2e-4, 3.09e-4, 1.5, "seed algorithm", True, "<= 1"),
            ResultRow("donut", "epochs", "10000", 717, 0.0, "ours")]
    result = ExperimentResult("donut", rows, {"curve": str(fig), "gone": str(tmp_path / "x.png")},
                              {"epochs": 10}, 2.0, notes="<script>alert(1)</script>")
    return result, rows, fig


def test_report_round_trip(tmp_path):
    result, rows, fig = _result(tmp_path)
    report = write_report([result], tmp_path, command="hiddenstate reproduce --out x",
                          environment=_ENV)
    assert report == tmp_path / "report.html"
    text = report.read_text()
    assert "3.090e-04" in text and "1.200e-04" in text and "717" in text and "&lt;= 1" in text
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "missing figure" in text and "hiddenstate reproduce --out x" in text
    assert "&quot;epochs&quot;: 10" in text and "2025-01-01" in text  # settings, environment
    (src,) = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert base64.b64decode(src) == fig.read_bytes()
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["command"] == "hiddenstate reproduce --out x" and data["environment"] == _ENV
    exp = data["experiments"][0]
    assert exp["figures"]["curve"] == "figures/c.png" and exp["settings"] == {"epochs": 10}
    assert [ResultRow(**r) for r in exp["rows"]] == rows
    assert exp["notes"] == result.notes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures", "report.html", "results.json"]


def test_report_numpy_values_and_relative_figures(tmp_path):
    result, _, fig = _result(tmp_path)
    result.figures = {"curve": "figures/c.png"}  # relative to out_dir, as results.json stores it
    result.rows = [ResultRow("x", "acc", None, np.float32(0.25), np.float64(1.0), "v",
                             np.bool_(True), "> 0.2")]
    result.settings = {"shape": (2, 3), "lr": np.float32(0.5)}
    write_report([result], tmp_path, environment=_ENV)
    text = (tmp_path / "report.html").read_text()
    assert "missing figure" not in text and "data:image/png;base64," in text
    row = json.loads((tmp_path / "results.json").read_text())["experiments"][0]["rows"][0]
    assert row["ours"] == 0.25 and row["passed"] is True


def test_results_table_is_plain_text():
    rows = [ResultRow("e", "range [0, 1] [/oops]", 0.5, np.float32(0.5), 1.0, passed=False),
            ResultRow("e", "n", None, "not reached", 0.0)]
    table = results_table([ExperimentResult("e", rows, {}, {}, 1.0)])
    assert table.row_count == 2
    assert [c.header for c in table.columns] == [
        "experiment", "variant", "figure", "reference", "ours", "target", "met", "seconds"]
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(table)
    out = console.export_text()
    assert "range [0, 1] [/oops]" in out and "MISS" in out and "not reached" in out


def test_format_value():
    assert format_value(None) == "-" and format_value(3) == "3" and format_value(True) == "yes"
    assert format_value(0.000309) == "3.090e-04" and format_value(15.28) == "15.28"
    assert format_value(np.float32(0.25)) == "0.25" and format_value(np.int64(7)) == "7"
    assert format_value(float("nan")) == "nan" and format_value("17/20") == "17/20"


def test_environment_info():
    info = environment_info()
    for key in ("python", "platform", "jax", "jaxlib", "equinox", "optax", "numpy",
                "hiddenstate", "devices", "date"):
        assert key in info
    assert info["devices"] and all(isinstance(d, str) for d in info["devices"])
    json.dumps(info)


def test_reference_column_says_whose_figure_it_is(tmp_path):
    """The seed's own figure is shown bare; a recipe's, a paper's or a baseline's is marked,
    and the legend under the table says what each mark means."""
    from hiddenstate.report import REFERENCE_LEGEND, SOURCES, reference_cell

    rows = [ResultRow("e", "a", 1.3e-4, 1.0, 0.0), ResultRow("e", "b", 15.2, 1.0, 0.0,
                                                             source="recipe"),
            ResultRow("e", "c", 0.768, 1.0, 0.0, source="paper"),
            ResultRow("e", "d", None, 1.0, 0.0, source="paper")]
    assert [reference_cell(r) for r in rows] == ["1.300e-04", "15.2 (recipe)", "0.768 (paper)",
                                                 "-"]
    assert all(f"({s})" in REFERENCE_LEGEND for s in SOURCES if s != "seed")
    with pytest.raises(ValueError, match="source must be one of"):
        ResultRow("e", "x", 1.0, 1.0, 0.0, source="guess")
    write_report([ExperimentResult("e", rows, {}, {}, 1.0)], tmp_path)
    text = (tmp_path / "report.html").read_text()
    assert "<th>reference</th>" in text and "15.2 (recipe)" in text and "(baseline)" in text
