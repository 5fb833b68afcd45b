"""Atomic file output: a reader never sees a half-written file.

What :func:`atomic_write` guarantees:

- only a regular file (or nothing) is replaced: a directory, device (``/dev/null``),
  FIFO or socket at the target (or behind a symlink there) is refused before anything
  is written, whoever runs it (root too), with an error naming the target;
- the data goes to a temporary file in the target's folder, named
  ``.<target name>.<random>.hiddenstate.tmp``, which is fsynced and renamed over the
  target; until the rename the target keeps its previous content;
- an ``OSError`` of the write itself (disk full, quota, I/O error) names the target,
  not the temporary file, and the temporary file is removed;
- temporary files of this library that a killed process left in the folder and that
  are older than :data:`STALE_SECONDS` are removed by the next write to that folder.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_write_bytes", "check_regular_target", "TEMP_SUFFIX",
           "STALE_SECONDS"]

#: The suffix of this library's temporary files (``.<name>.<random>.hiddenstate.tmp``).
TEMP_SUFFIX = ".hiddenstate.tmp"
#: A temporary file of this library untouched for this long belongs to a dead writer.
STALE_SECONDS = 15 * 60
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{6,}" + re.escape(TEMP_SUFFIX) + "$")

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def check_regular_target(path: str | os.PathLike) -> None:
    """Raise ``OSError`` naming ``path`` unless it is missing or a regular file (followed
    through symlinks): what a write would replace must be a regular file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise type(exc)(exc.errno, f"{path}: cannot write: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        cls = IsADirectoryError if stat.S_ISDIR(st.st_mode) else OSError
        code = errno.EISDIR if stat.S_ISDIR(st.st_mode) else errno.EINVAL
        raise cls(code, f"{path}: is {_kind(st.st_mode)}, not a regular file; hiddenstate "
                        "writes only regular files")


def remove_stale_temporaries(directory: str | os.PathLike, *, older_than: float = STALE_SECONDS,
                             prefix: str = "") -> list[Path]:
    """Remove this library's temporary files (``*.hiddenstate.tmp``) in ``directory``
    whose names start with ``.prefix`` and that were last modified more than
    ``older_than`` seconds ago; returns what was removed."""
    removed = []
    now = time.time()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if not (entry.name.startswith("." + prefix) and _TEMP_NAME.match(entry.name)):
                continue
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _named(exc: OSError, path: Path, tmp: str | None) -> OSError:
    """``exc`` with the target named instead of the temporary file (or no file); with
    ``tmp=None`` always (errors creating the temporary file)."""
    if exc.errno is None or (tmp is not None and exc.filename not in (None, tmp)):
        return exc
    if exc.filename is None and str(exc.strerror or "").startswith(f"{path}: "):
        return exc  # already names the target (check_regular_target)
    return type(exc)(exc.errno, f"{path}: cannot write: {exc.strerror}")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and rename it over ``path``.

    If the body raises (or the process dies), ``path`` keeps its previous
    content and the temporary file is removed (or, after a kill, left with the
    ``.hiddenstate.tmp`` suffix that no reader looks at; the next write to the
    folder removes it once it is :data:`STALE_SECONDS` old). A target that is
    not a regular file is refused (see the module docstring).
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    check_regular_target(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=directory)
    except OSError as exc:
        raise _named(exc, path, None) from None
    remove_stale_temporaries(directory)
    try:
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            # mkstemp makes the file private (0600); give it the mode a plain open() would:
            # the replaced file's, or 0666 less the umask for a new one.
            with contextlib.suppress(OSError):
                os.chmod(handle.fileno(), _mode_for(path))
            os.fsync(handle.fileno())
        # Checked again just before the rename: the target may have changed meanwhile.
        check_regular_target(path)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        named = _named(exc, path, tmp)
        if named is exc:
            raise
        raise named from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask would, for a moment, in every thread)
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_write(path, "wb") as handle:
        handle.write(data)
