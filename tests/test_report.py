"""The report: the table, report.html with inline figures, results.json."""

from __future__ import annotations

import json

import numpy as np

from hiddenstate import plotting
from hiddenstate.report import (
    ExperimentResult,
    ResultRow,
    format_value,
    results_table,
    write_report,
)


def test_report_round_trip(tmp_path):
    fig = tmp_path / "figures" / "c.png"
    fig.parent.mkdir()
    plotting.learning_curves({"a": np.array([2.0, 1.0])}, path=fig)
    rows = [ResultRow("donut", "final MSE", 1.2e-4, 3.09e-4, 1.5, "seed algorithm", True, "<= 1"),
            ResultRow("donut", "epochs", "10000", 717, 0.0, "ours")]
    result = ExperimentResult("donut", rows, {"curve": str(fig), "gone": str(tmp_path / "x.png")},
                              {"epochs": 10}, 2.0, notes="<script>alert(1)</script>")
    report = write_report([result], tmp_path, command="hiddenstate reproduce")
    text = report.read_text()
    assert "data:image/png;base64," in text and "3.090e-04" in text
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "missing figure" in text
    data = json.loads((tmp_path / "results.json").read_text())
    exp = data["experiments"][0]
    assert exp["figures"]["curve"] == "figures/c.png"
    assert ResultRow(**exp["rows"][0]) == rows[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures", "report.html", "results.json"]
    assert results_table([result]).row_count == 2


def test_format_value():
    assert format_value(None) == "-" and format_value(3) == "3"
    assert format_value(0.000309) == "3.090e-04" and format_value(15.28) == "15.28"
