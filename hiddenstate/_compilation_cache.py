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
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["ENV", "MAX_BYTES", "cache_dir", "default_dir", "enable"]

ENV = "HIDDENSTATE_COMPILATION_CACHE"
#: Upper bound of the cache folder; the least recently used entries go first.
MAX_BYTES = 1 << 30
_OFF = {"", "0", "off", "false", "no", "none"}
_state: dict[str, object] = {}


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
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        writable = os.access(path, os.W_OK)
    except OSError:
        writable = False
    if not writable:  # a read-only home must not break training: run without the cache
        _state["dir"] = None
        return None
    jax.config.update("jax_compilation_cache_dir", str(path))
    # Our programs compile in 0.05-3 s: cache them all, not only those above JAX's 1 s.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    try:
        import filelock  # noqa: F401  (JAX locks the folder and evicts with it)
    except ImportError:
        pass
    else:
        _add_missing_access_times(path)
        jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    _state["dir"] = str(path)
    return str(path)


def _add_missing_access_times(path: Path) -> None:
    """Give every entry an access-time file. Entries written without a size bound (by
    JAX with its defaults, or an older hiddenstate) have none, and JAX's eviction then
    fails on each write with a warning; now they count as just used."""
    import time

    stamp = time.time_ns().to_bytes(8, "little")
    try:
        for entry in path.glob("*-cache"):
            atime = entry.with_name(entry.name[: -len("-cache")] + "-atime")
            if not atime.exists():
                atime.write_bytes(stamp)
    except OSError:
        pass  # a folder we cannot repair still works for reading
