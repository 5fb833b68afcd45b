"""Atomic writes: what a reader sees, and the mode of what is written."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from hiddenstate._io import _umask, atomic_write, atomic_write_bytes
from hiddenstate.datasets import write_table


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_umask_is_read_without_changing_it(umask_022):
    assert _umask() == 0o022 and _umask() == 0o022


def test_new_files_get_the_mode_open_would_give(tmp_path, umask_022):
    """Not mkstemp's private 0600: models, tables and figures are shared like any file."""
    atomic_write_bytes(tmp_path / "m.bin", b"x")
    write_table(tmp_path / "t.csv", np.ones((2, 2)))
    with open(tmp_path / "plain", "wb"):
        pass
    assert _mode(tmp_path / "m.bin") == _mode(tmp_path / "t.csv") == _mode(tmp_path / "plain")
    assert _mode(tmp_path / "m.bin") == 0o644


def test_a_replaced_file_keeps_its_mode(tmp_path, umask_022):
    target = tmp_path / "private.bin"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new" and _mode(target) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write(b"half")
        raise RuntimeError("crash")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["keep.bin"]
