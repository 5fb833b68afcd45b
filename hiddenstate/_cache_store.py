"""The entries of hiddenstate's compilation cache, read and written without trusting the
folder's contents (see :mod:`hiddenstate._compilation_cache` for the folder itself).

JAX's own store (``jax._src.lru_cache.LRUCache``) follows symlinks planted as entries or
as their access-time files, runs whatever bytes sit under a key, and waits 10 s for the
folder's lock at every read and write. :class:`VerifiedStore` keeps JAX's layout and
lock (``<key>-cache``, ``<key>-atime``, ``.lockfile``), so a JAX process pointed at the
same folder still works with it, and adds:

- beside each entry ``<key>-sha256``, the SHA-256 of the key and the entry; an entry
  whose digest is missing or wrong (corrupt, truncated, copied from another key) is
  removed before JAX sees it, and the program is compiled and written again;
- files are read with ``O_NOFOLLOW`` and only when regular, and written to a fresh file
  that replaces the name (``os.replace`` replaces a symlink, never its target);
- the lock is waited for at most :data:`LOCK_WAIT_S`; a process that cannot get it
  then runs on without the persistent cache (one warning);
- eviction (least recently used first, up to the size bound) removes only entries.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOCK_WAIT_S", "VerifiedStore"]

#: Longest wait for the folder's lock, in seconds, before a process gives up the cache.
LOCK_WAIT_S = 1.0
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_SUFFIXES = ("-cache", "-atime", "-sha256")


def digest(key: str, value: bytes) -> bytes:
    """The digest kept beside an entry: SHA-256 of the key, a NUL and the entry, hex."""
    return hashlib.sha256(key.encode() + b"\0" + value).hexdigest().encode()


def _read(path: Path, limit: int) -> bytes | None:
    """The bytes of the regular file ``path`` (None when there is none); raises OSError
    for a symlink, a special file or one over ``limit`` bytes."""
    if not _NOFOLLOW and os.path.islink(path):
        raise OSError(f"{path} is a symlink")
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            raise OSError(f"{path} is not a regular file of at most {limit} bytes")
        return f.read(limit + 1)


def _write(path: Path, value: bytes) -> None:
    """Write ``path`` whole through a fresh private file that then replaces the name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(value)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _remove_if_stale(item: os.DirEntry) -> None:
    """Remove a half-written file that a process killed while writing left behind."""
    with contextlib.suppress(OSError):
        if time.time() - item.stat(follow_symlinks=False).st_mtime > 3600:
            os.unlink(item.path)


class VerifiedStore:
    """JAX's cache interface (``get``, ``put``) on ``folder``, bounded to ``max_size``
    bytes; see the module's docstring."""

    def __init__(self, folder: str | os.PathLike, max_size: int) -> None:
        self.path = self._path = Path(folder)
        self.max_size = max_size
        self._given_up = False

    def _name(self, key: str, suffix: str) -> Path:
        return self.path / f"{key}{suffix}"

    def get(self, key: str) -> bytes | None:
        """The entry under ``key`` when its digest matches; a bad one is removed."""
        with self._locked() as locked:
            if not locked:
                return None
            try:
                value = _read(self._name(key, "-cache"), self.max_size)
                if value is None:
                    return None
                good = _read(self._name(key, "-sha256"), 64) == digest(key, value)
            except OSError:
                good = False
            if not good:
                self._remove(key)
                return None
            self._stamp(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        """Write ``value`` under ``key`` with its digest and access time, evicting the
        least recently used entries first if the folder would pass its bound."""
        if len(value) > self.max_size:
            return
        with self._locked() as locked:
            if not locked:
                return
            self._evict(len(value))
            self._remove(key)  # whatever was there (a bad entry, a planted link)
            try:
                _write(self._name(key, "-cache"), value)
                _write(self._name(key, "-sha256"), digest(key, value))
                self._stamp(key)
            except OSError:
                self._remove(key)

    def _stamp(self, key: str) -> None:
        with contextlib.suppress(OSError):
            _write(self._name(key, "-atime"), time.time_ns().to_bytes(8, "little"))

    def _remove(self, key: str) -> None:
        for suffix in _SUFFIXES:
            with contextlib.suppress(OSError):  # unlink removes a symlink, not its target
                os.unlink(self._name(key, suffix))

    def _evict(self, additional: int) -> None:
        """Remove the least recently used entries until ``additional`` bytes fit."""
        entries, total = [], 0
        with contextlib.suppress(OSError), os.scandir(self.path) as found:
            for item in found:
                if item.name.startswith(".tmp-"):
                    _remove_if_stale(item)
                if not item.name.endswith("-cache"):
                    continue
                key = item.name[: -len("-cache")]
                if not item.is_file(follow_symlinks=False):
                    self._remove(key)
                    continue
                try:
                    stamp = int.from_bytes(_read(self._name(key, "-atime"), 8) or b"", "little")
                    size = item.stat(follow_symlinks=False).st_size
                except OSError:
                    stamp, size = 0, 0
                entries.append((stamp, key, size))
                total += size
        for _, key, size in sorted(entries):
            if total + additional <= self.max_size:
                break
            self._remove(key)
            total -= size

    @contextlib.contextmanager
    def _locked(self) -> Iterator[bool]:
        """Hold the folder's lock (JAX's ``.lockfile``); yields False when this process
        has given the cache up (the lock was busy for :data:`LOCK_WAIT_S`)."""
        if self._given_up:
            yield False
            return
        try:
            import fcntl
        except ImportError:  # Windows: filelock, which JAX's own store uses there too
            with self._filelock() as locked:
                yield locked
            return
        fd = self._open_lock()
        if fd is None:
            yield False
            return
        try:
            deadline = time.monotonic() + LOCK_WAIT_S
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        self._give_up()
                        yield False
                        return
                    time.sleep(0.01)
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _open_lock(self) -> int | None:
        lock = self._name(".lockfile", "")
        for flags in (0, os.O_EXCL):
            try:
                return os.open(lock, os.O_RDWR | os.O_CREAT | _NOFOLLOW | flags, 0o600)
            except OSError:  # not a file we can lock (a planted link): start it afresh
                with contextlib.suppress(OSError):
                    os.unlink(lock)
        return None

    @contextlib.contextmanager
    def _filelock(self) -> Iterator[bool]:
        import filelock

        lock = filelock.FileLock(str(self._name(".lockfile", "")))
        try:
            lock.acquire(timeout=LOCK_WAIT_S)
        except filelock.Timeout:
            self._give_up()
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def _give_up(self) -> None:
        self._given_up = True
        warnings.warn(f"the compilation cache {self.path} stayed locked by another process "
                      f"for {LOCK_WAIT_S:g} s: this process compiles without it",
                      RuntimeWarning, stacklevel=2)
