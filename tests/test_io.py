"""Atomic writes: what a reader sees, and the mode of what is written."""

from __future__ import annotations

import os
import stat
import time

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


# -- issue 15: only regular files are replaced; errors name the target; stale temporaries ----


@pytest.mark.parametrize("kind", ["device", "fifo", "directory"])
def test_only_regular_files_are_replaced(tmp_path, kind):
    """Finding "save('/dev/null')": a device, FIFO or directory at the target is refused
    before anything is written, with an error naming the target (we run as root here),
    and stays what it was; nothing is left in the folder."""
    if kind == "device":
        target = tmp_path / "null"
        os.symlink("/dev/null", target)  # the device, reached the way a user would name it
    elif kind == "fifo":
        target = tmp_path / "pipe"
        os.mkfifo(target)
    else:
        target = tmp_path / "folder"
        target.mkdir()
    before = sorted(os.listdir(tmp_path))
    expected = {"device": "a character device", "fifo": "a FIFO", "directory": "a directory"}
    with pytest.raises(OSError, match=rf"{target}: is {expected[kind]}.*not a regular file"):
        atomic_write_bytes(target, b"x")
    assert sorted(os.listdir(tmp_path)) == before
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_saving_a_model_to_dev_null_is_refused(tmp_path):
    from hiddenstate import Autoencoder

    est = Autoencoder(2, max_iter=1, random_state=0).fit(np.ones((8, 3), np.float32))
    with pytest.raises(OSError, match=r"/dev/null: is a character device"):
        est.save("/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_a_failed_write_names_the_target_not_the_temporary_file(tmp_path, monkeypatch):
    """Findings "errors name the temp file", "disk-full names no path": ENOSPC while
    writing or syncing says which target could not be written."""
    import errno

    import hiddenstate._io as io

    target = tmp_path / "model.hs"
    target.write_bytes(b"old")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", full)
    with pytest.raises(OSError, match=rf"^\[Errno 28\] {target}: cannot write: No space left") \
            as info:
        atomic_write_bytes(target, b"new")
    assert info.value.errno == errno.ENOSPC and ".tmp" not in str(info.value)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.hs"]
    monkeypatch.undo()
    with pytest.raises(OSError, match=rf"{target}: cannot write") as info, \
            atomic_write(target) as handle:
        handle.write(b"half")
        raise OSError(errno.EIO, "Input/output error")  # the handle's own failure
    assert ".tmp" not in str(info.value) and target.read_bytes() == b"old"


def test_stale_temporary_files_of_a_killed_write_are_cleaned(tmp_path):
    """Finding "temp files left by a kill": this library's temporary files in the folder
    that are older than STALE_SECONDS go on the next write there; a young one (a write in
    progress) and other files stay."""
    from hiddenstate._io import STALE_SECONDS

    stale = tmp_path / ".model.hs.k3j4h5l6.hiddenstate.tmp"
    young = tmp_path / ".model.hs.a1b2c3d4.hiddenstate.tmp"
    other = tmp_path / ".notes.txt.tmp"
    for p in (stale, young, other):
        p.write_bytes(b"x" * 1000)
    old = time.time() - STALE_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write_bytes(tmp_path / "other.bin", b"y")
    assert sorted(os.listdir(tmp_path)) == sorted([young.name, other.name, "other.bin"])
