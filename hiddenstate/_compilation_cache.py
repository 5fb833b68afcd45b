"""JAX's persistent compilation cache, on by default in the user's cache folder.

Every ``fit``, every CLI command and every experiment compiles its programs with XLA
(1-3 s each on 2 cores). With the cache, a program compiled once is read back from
disk by every later process that needs the same program (same shapes, same JAX and
XLA versions, same flags: JAX keys the entries by all of them, so a stale entry is
never used).

Where it lives (``HIDDENSTATE_COMPILATION_CACHE`` overrides it):

- Linux and other Unix: ``$XDG_CACHE_HOME/hiddenstate/jax`` (``~/.cache/hiddenstate/jax``);
- macOS: ``~/Library/Caches/hiddenstate/jax``;
- Windows: ``%LOCALAPPDATA%\\hiddenstate\\Cache\\jax``.

``HIDDENSTATE_COMPILATION_CACHE=off`` (or ``0``, ``false``, ``no``, empty) turns it off;
any other value is the folder to use. A cache folder set through JAX itself
(``JAX_COMPILATION_CACHE_DIR`` or ``jax.config.update("jax_compilation_cache_dir",
...)`` before the first fit) is respected and left as it is. The folder is bounded
(:data:`MAX_BYTES`, least recently used entries evicted) and its reads and writes take
a file lock, so several processes can share it; an unreadable or broken entry is
compiled again, never trusted.

Its entries are compiled programs, run as they are read: whoever can write the folder
can make the user run their code. So the folder must be the user's own (owned by them,
writable by nobody else, not a symlink, in folders nobody else can rename it out of);
hiddenstate creates every missing level 0700 whatever the umask, and a folder that fails
these checks is not used (one warning; programs are compiled afresh). The programs
live in a folder hiddenstate marks as its own (:data:`MARKER`), and their entries are
kept by :class:`hiddenstate._cache_store.VerifiedStore` (digests checked before use,
no symlink followed, the lock waited for at most a second).
"""

from __future__ import annotations

import os
import stat
import sys
import warnings
from pathlib import Path

from ._errors import HiddenstateError

__all__ = ["ENV", "MARKER", "MAX_BYTES", "SUBFOLDER", "CacheFolderError", "cache_dir",
           "default_dir", "enable"]

ENV = "HIDDENSTATE_COMPILATION_CACHE"
#: The file that marks a folder as hiddenstate's own: a Cache Directory Tag
#: (https://bford.info/cachedir/), which backup tools also recognise and skip.
MARKER = "CACHEDIR.TAG"
_TAG = (b"Signature: 8a477f597d28d172789f06886806bc55\n"
        b"# hiddenstate's compiled programs (JAX's persistent compilation cache).\n"
        b"# hiddenstate deletes what it likes in this folder: keep nothing else here.\n")
#: Where the programs go inside a folder that ``HIDDENSTATE_COMPILATION_CACHE`` names and
#: hiddenstate did not make: the folder's own files are never the cache's to evict.
SUBFOLDER = "hiddenstate-jax"
#: Upper bound of the cache folder; the least recently used entries go first.
MAX_BYTES = 1 << 30
_OFF = {"", "0", "off", "false", "no", "none"}
_state: dict[str, object] = {}


class CacheFolderError(HiddenstateError, ValueError):
    """``HIDDENSTATE_COMPILATION_CACHE`` names something that cannot be a folder."""


def default_dir() -> Path:
    """The platform's user cache folder for hiddenstate's compiled programs."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return base / "hiddenstate" / "Cache" / "jax"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "hiddenstate" / "jax"
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base and os.path.isabs(base) else home / ".cache") / \
        "hiddenstate" / "jax"


def cache_dir() -> Path | None:
    """The folder :func:`enable` uses: ``HIDDENSTATE_COMPILATION_CACHE``, else
    :func:`default_dir`; None when the variable turns the cache off."""
    value = os.environ.get(ENV)
    if value is None:
        return default_dir()
    if value.strip().lower() in _OFF:
        return None
    return Path(value).expanduser()


def enable() -> str | None:
    """Turn the persistent cache on (once per process); returns the folder in use, or
    None when it is off. Called when the package first loads JAX-using code."""
    if "dir" in _state:
        return _state["dir"]  # type: ignore[return-value]
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current:  # set by the user (or a test run) through JAX itself: theirs to manage
        _state["dir"] = current
        return current
    path = cache_dir()
    if path is None:
        _state["dir"] = None
        return None
    path = _prepare(path, adopt=os.environ.get(ENV) is None)
    if path is None:
        _state["dir"] = None
        return None
    if not _use_verified_store(path):  # a JAX whose cache internals we do not know
        _state["dir"] = None
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    # Our programs compile in 0.05-3 s: cache them all, not only those above JAX's 1 s.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    _state["dir"] = str(path)
    return str(path)


def _prepare(path: Path, adopt: bool = False) -> Path | None:
    """The folder that holds the programs for the cache folder ``path``, created 0700
    where missing, checked and marked as hiddenstate's own; None (with one warning when
    it is unsafe) when it cannot be used.

    That is ``path`` itself when hiddenstate makes it now, when it carries hiddenstate's
    :data:`MARKER`, or when ``adopt`` (the default folder, whose name is hiddenstate's);
    else its subfolder :data:`SUBFOLDER`, so that evicting old programs can never delete
    the user's files. Raises CacheFolderError when ``path`` is a file or a device."""
    path = Path(os.path.abspath(path))
    try:
        if not adopt:
            _refuse_non_folders(path)
        folder = path if not os.path.lexists(path) or adopt or _marked(path) \
            else path / SUBFOLDER
        _make_folders(folder)
        problem = _unsafe(folder)
        if problem is None:
            _mark(folder)
        writable = os.access(folder, os.W_OK)
    except OSError:  # a read-only home must not break training: run without the cache
        return None
    path = folder
    if problem is not None:
        warnings.warn(f"the compilation cache {path} {problem}: not used, "
                      f"programs are compiled afresh (make it yours with mode 0700, or set "
                      f"{ENV})", RuntimeWarning, stacklevel=3)
        return None
    return path if writable else None


def _refuse_non_folders(path: Path) -> None:
    """Raise CacheFolderError when ``path`` or a folder above it exists and is not one."""
    for level in (path, *path.parents):
        try:
            mode = os.stat(level).st_mode
        except OSError:
            continue
        if not stat.S_ISDIR(mode):
            kind = "a file" if stat.S_ISREG(mode) else "a device or other special file"
            where = "" if level == path else f" (inside {level})"
            raise CacheFolderError(f"{ENV}={path}: names {kind}{where}, not a folder; "
                                   f"name a folder, or set {ENV}=off")


def _marked(folder: Path) -> bool:
    """Whether ``folder`` (not a symlink) holds hiddenstate's marker, a regular file of
    the user's."""
    try:
        if stat.S_ISLNK(os.lstat(folder).st_mode):
            return False
        st = os.lstat(folder / MARKER)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == getattr(os, "getuid", lambda: st.st_uid)()


def _mark(folder: Path) -> None:
    """Write the marker into ``folder`` unless it is there (never through a symlink)."""
    if _marked(folder):
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(folder / MARKER, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(_TAG)


def _make_folders(path: Path) -> None:
    """Create ``path`` and its missing parents, each 0700 whatever the umask (pathlib's
    ``parents=True`` would create the parents with the umask's mode)."""
    missing = []
    while not os.path.lexists(path):
        missing.append(path)
        path = path.parent
    for level in reversed(missing):
        try:
            os.mkdir(level, 0o700)
        except FileExistsError:
            pass


def _unsafe(folder: Path) -> str | None:
    """Why ``folder`` cannot hold the user's compiled programs, or None when it can:
    it must be a real folder (not a symlink) owned by the user and writable by nobody
    else, in folders that nobody but the user or root can rename it out of (owned by
    them, not writable by others unless sticky, as ``/tmp`` is). Windows: see
    :func:`_unsafe_on_windows`."""
    st = os.lstat(folder)
    if stat.S_ISLNK(st.st_mode):
        return "is a symlink"
    if not stat.S_ISDIR(st.st_mode):
        return "is not a folder"
    if sys.platform == "win32":
        return _unsafe_on_windows(folder, getattr(st, "st_file_attributes", 0))
    if not hasattr(os, "getuid"):
        return None
    uid = os.getuid()
    if st.st_uid != uid:
        return f"is owned by uid {st.st_uid}, not by you (uid {uid})"
    if st.st_mode & 0o022:
        return f"can be written by others (mode {stat.S_IMODE(st.st_mode):04o})"
    parent = Path(os.path.realpath(folder.parent))
    for level in (parent, *parent.parents):
        st = os.stat(level)
        if st.st_uid not in (uid, 0):
            return f"is inside {level}, owned by uid {st.st_uid}"
        if st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX:
            return (f"is inside {level}, which others can write "
                    f"(mode {stat.S_IMODE(st.st_mode):04o})")
    return None


_REPARSE_POINT = 0x400  # stat.FILE_ATTRIBUTE_REPARSE_POINT: junctions, symlinks, mounts


def _unsafe_on_windows(folder: Path, attributes: int) -> str | None:
    """Windows keeps owners and rights in ACLs, which Python's ``os.stat`` does not
    show: the folder is trusted only inside the user's own profile (``%LOCALAPPDATA%``
    or ``%USERPROFILE%``), whose ACLs Windows gives to the user, SYSTEM and the
    administrators alone, and only when neither it nor a folder between it and the
    profile is a junction or other reparse point (which could lead anywhere)."""
    if attributes & _REPARSE_POINT:
        return "is a junction or link (a reparse point)"
    roots = [Path(os.path.abspath(v)) for v in (os.environ.get("LOCALAPPDATA"),
                                                 os.environ.get("USERPROFILE")) if v]
    folder = Path(os.path.abspath(folder))
    root = next((r for r in roots if _inside(folder, r)), None)
    if root is None:
        where = " or ".join(str(r) for r in roots) or "(LOCALAPPDATA and USERPROFILE unset)"
        return (f"is outside your profile ({where}), where Windows does not keep other "
                "users out")
    for level in folder.parents:
        if not _inside(level, root) or level == root:
            break
        if getattr(os.lstat(level), "st_file_attributes", 0) & _REPARSE_POINT:
            return f"is inside {level}, a junction or link (a reparse point)"
    return None


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` is ``root`` or below it, compared as Windows does: case-blind."""
    path_parts = [p.casefold() for p in path.parts]
    root_parts = [p.casefold() for p in root.parts]
    return path_parts[:len(root_parts)] == root_parts


def _use_verified_store(folder: Path) -> bool:
    """Make JAX keep the entries of ``folder`` in a :class:`VerifiedStore` instead of its
    own ``LRUCache`` (which follows planted symlinks and runs any bytes under a key).
    JAX has no public hook for it: ``get_file_cache`` builds the store through the
    module's ``LRUCache`` name, which is replaced here for ``folder`` only. False (no
    persistent cache) on a JAX without these internals."""
    try:
        from jax._src import compilation_cache as jcc
    except ImportError:
        return False
    original = getattr(jcc, "LRUCache", None)
    if original is None or not callable(getattr(jcc, "get_file_cache", None)):
        return False
    original = getattr(original, "_hiddenstate_original", original)

    def store(path, *, max_size: int, **kwargs):
        if os.path.abspath(os.fspath(path)) == str(folder):
            from ._cache_store import VerifiedStore

            return VerifiedStore(folder, max_size if max_size > 0 else MAX_BYTES)
        return original(path, max_size=max_size, **kwargs)

    store._hiddenstate_original = original  # type: ignore[attr-defined]
    jcc.LRUCache = store
    return True
