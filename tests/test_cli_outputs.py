"""What the CLI writes: per-row scores to any table format."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenstate.cli import main
from hiddenstate.datasets import make_donut, read_table, write_table


@pytest.mark.parametrize("ext", [".csv", ".tsv", ".npy"])
def test_autoencoder_scores_go_to_a_file_as_one_column(tmp_path, ext):
    data = tmp_path / "donut.csv"
    write_table(data, make_donut()[0][:100])
    model = tmp_path / "m.safetensors"
    assert main(["autoencoder", "fit", str(data), "--max-iter", "2", "--random-state", "0",
                 "--out", str(model)]) == 0
    out = tmp_path / f"scores{ext}"
    assert main(["autoencoder", "score", str(model), str(data), "--out", str(out)]) == 0
    scores, names = read_table(out) if ext != ".npy" else (np.load(out), None)
    assert scores.shape == (100, 1) and np.all(scores >= 0)
    if ext != ".npy":
        assert names == ["reconstruction_error"]
