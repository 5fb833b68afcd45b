"""hiddenstate.datasets.load_ts: the .ts files of the UEA & UCR archive (aeon's format),
on small files written here, and on the panel's files when they are present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hiddenstate import InputError
from hiddenstate.datasets import load_ts

PANEL = Path("/work/shared/data/timeseries/classification")

HEADER = """# a comment
#another
@problemName Tiny
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3

@classLabel true Up down
@data
"""


def _write(tmp_path, text: str, name: str = "t.ts") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_header_field_multivariate_and_missing(tmp_path):
    path = _write(tmp_path, HEADER + "1,2,3:4,5,6:Up\n\n# a comment between cases\n"
                                     "0.5,?,1e-3:NaN,-2,7:DOWN\n")
    X, y = load_ts(path)
    assert [x.shape for x in X] == [(3, 2), (3, 2)] and X[0].dtype == np.float32
    np.testing.assert_array_equal(X[0], [[1, 4], [2, 5], [3, 6]])
    np.testing.assert_array_equal(X[1], np.array([[0.5, np.nan], [np.nan, -2], [1e-3, 7]],
                                                 np.float32))
    # a label keeps the declared spelling (aeon would lower-case both)
    assert y.tolist() == ["Up", "down"]


def test_unequal_lengths_univariate_no_labels_and_targets(tmp_path):
    path = _write(tmp_path, "@problemName u\n@univariate true\n@equalLength false\n"
                            "@classLabel false\n@data\n1,2,3,4\n5\n  6 , 7 \n")
    X, y = load_ts(path)
    assert y is None and [len(x) for x in X] == [4, 1, 2]
    np.testing.assert_array_equal(X[2][:, 0], [6, 7])
    path = _write(tmp_path, "@TARGETLABEL TRUE\n@data\n1,2:0.5\n3,4:-1e2\n")
    X, y = load_ts(path)
    assert y.dtype == np.float64 and y.tolist() == [0.5, -100.0]


def test_no_label_tag_reads_a_class_label_as_aeon(tmp_path):
    X, y = load_ts(_write(tmp_path, "@data\n1,2:3,4:a\n5,6:7,8:b\n"))
    assert y.tolist() == ["a", "b"] and X[1].tolist() == [[5, 7], [6, 8]]


@pytest.mark.parametrize(("text", "line", "match"), [
    # the cases, checked against the header and the first case
    (HEADER + "1,2,3:4,5,6:Up\n1,2,3:4,5,6:left\n", 14, "class 'left' is not one of the classes"),
    (HEADER + "1,2,3:4,5,6:Up\n1,2,3:Up\n", 14, "1 channel, the first case \\(line 13\\) has 2"),
    (HEADER + "1,2,3:4,5,6:7,8,9:Up\n", 13, "3 channels, the header says 2 \\(@dimensions 2\\)"),
    (HEADER + "1,2,3:4,5,6:Up\n1,2:4,5:Up\n", 14, "2 values per channel, @seriesLength 3"),
    (HEADER + "1,2,3:4,5:Up\n", 13, "channel 1 has 2 values, channel 0 has 3"),
    (HEADER + "1,2,3:4,x,6:Up\n", 13, "channel 1, value 1: 'x' is not a number"),
    (HEADER + "1,2,3:4,5,:Up\n", 13, "channel 1, value 2 is empty"),
    (HEADER + "1,2,3:4,5,1e99:Up\n", 13, "not a finite float32"),
    (HEADER + "1,2,3:4,5,6:\n", 13, "label after the last ':' is empty"),
    # the header
    ("@timeStamps true\n@data\n", 1, "@timeStamps true: series with time stamps"),
    ("@univariate yes\n@data\n", 1, "@univariate needs one value, true or false"),
    ("@classLabel true\n@data\n", 1, "@classLabel needs true and the class labels"),
    ("@seriesLength -3\n@data\n", 1, "@seriesLength needs one positive whole number"),
    ("@colour blue\n@data\n", 1, "unknown tag @colour"),
    ("1,2,3\n@data\n", 1, "expected a header tag"),
    ("@classLabel true a\n@targetLabel true\n@data\n", 3, "both @classLabel true and"),
    ("@data now\n", 1, "@data takes no value"),
    ("@univariate true\n@dimensions 2\n@data\n", 3, "@univariate true but @dimensions 2"),
    ("@univariate true\n@data\n1:2:a\n", 3, "2 channels, the header says 1 "
                                           "\\(@univariate true\\)"),
    ("@targetLabel true\n@data\n1,2:high\n", 3, "target 'high' is not a finite number"),
])
def test_malformed_files_are_named_by_line(tmp_path, text, line, match):
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=match) as info:
        load_ts(path)
    assert info.value.line == line and str(path) in str(info.value)


def test_equal_length_without_series_length_checks_against_the_first(tmp_path):
    path = _write(tmp_path, "@equalLength true\n@classLabel true 1 2\n@data\n1,2,3:1\n"
                            "1,2:2\n")
    with pytest.raises(InputError, match="line 5: 2 values per channel, the first case "
                                         "\\(line 4\\) has 3"):
        load_ts(path)


def test_a_file_without_data_or_cases(tmp_path):
    with pytest.raises(InputError, match="no @data line"):
        load_ts(_write(tmp_path, "@problemName x\n"))
    with pytest.raises(InputError, match="no cases after @data"):
        load_ts(_write(tmp_path, "@classLabel false\n@data\n\n# none\n"))
    with pytest.raises(InputError, match="no such file"):
        load_ts(tmp_path / "absent.ts")


@pytest.mark.skipif(not PANEL.is_dir(), reason="the development panel is not here")
@pytest.mark.parametrize(("name", "n", "shape", "classes"), [
    ("GunPoint_TRAIN", 50, (150, 1), ["1", "2"]),
    ("ItalyPowerDemand_TEST", 1029, (24, 1), ["1", "2"]),
    ("BasicMotions_TRAIN", 40, (100, 6), ["Badminton", "Running", "Standing", "Walking"]),
    ("JapaneseVowels_TRAIN", 270, None, [str(k) for k in range(1, 10)]),
])
def test_the_panel_problems_load(name, n, shape, classes):
    X, y = load_ts(PANEL / f"{name}.ts")
    assert len(X) == len(y) == n and sorted(set(y.tolist())) == classes
    if shape is None:  # JapaneseVowels: 12 channels, lengths 7 to 29
        assert {x.shape[1] for x in X} == {12} and min(map(len, X)) >= 7
        assert max(map(len, X)) <= 29 and len({len(x) for x in X}) > 1
    else:
        assert {x.shape for x in X} == {shape}
    assert all(np.isfinite(x).all() for x in X)
