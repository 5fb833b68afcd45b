"""Issue 25, "limits checked before the work": what a limit can refuse is refused before
the work (reading a whole file, training, allocating an output), with a message that
names the real cause. Each test names the finding of the issue it covers."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hiddenstate import Autoencoder
from hiddenstate.cli import main
from hiddenstate.datasets import make_donut

from .test_file_safety import _PROBE

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    X, _ = make_donut(100)
    path = tmp_path_factory.mktemp("model") / "ae.hs"
    Autoencoder(3, max_iter=2, random_state=0).fit(X).save(path)
    return path


def _sparse(path: Path, head: bytes, size: int) -> Path:
    path.write_bytes(head)
    os.truncate(path, size)  # sparse: no disk used
    return path


def test_a_length_field_over_the_limit_is_refused_before_the_file_is_read(model_file, tmp_path):
    """Finding "bounded reading has a hole": 8 GiB files whose 8-byte length field is
    over MAX_HEADER_BYTES (a .npy file given as the model; a length of 20 MiB) are
    refused after reading 8 bytes: each in well under a second, the process growing by
    < 100 MB (it read them whole before: 3 GiB took 20 s and 3.4 GB)."""
    npy = tmp_path / "swapped.npy"
    np.save(npy, np.zeros((4, 3), np.float32))
    cases = {
        _sparse(tmp_path / "data.npy", npy.read_bytes()[:128], 8 * 2**30):
            r"not a hiddenstate model file, or corrupted \(its header would be \d+ bytes, "
            r"over the limit of 16777216",
        _sparse(tmp_path / "long.hs", struct.pack("<Q", 20 * 2**20), 8 * 2**30):
            r"its header would be 20971520 bytes, over the limit of 16777216",
        _sparse(tmp_path / "short.hs", struct.pack("<Q", 2**20), 2**19):
            r"or truncated \(header says 1048576 bytes, the file has 524280 after",
    }
    proc = subprocess.run([sys.executable, "-c", _PROBE, str(model_file), *map(str, cases)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for path, pattern in cases.items():
        result = out[str(path)]["result"]
        assert result.startswith(f"ModelFileError: {path}: "), result
        assert re.search(pattern, result), result
        assert out[str(path)]["seconds"] < 1.0, out
    assert out["grown_mib"] < 100, out


def test_swapped_arguments_say_the_data_is_not_a_model_file(model_file, tmp_path, capsys):
    """Finding "score data.npy model": the data file in the model's place is refused at
    once, in one line that says it is not a model file."""
    data = tmp_path / "data.npy"
    np.save(data, make_donut(20)[0])
    assert main(["autoencoder", "score", str(data), str(model_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{data}: not a hiddenstate model file" in err[0], err
