"""The installed version of hiddenstate, on the ground floor: it imports nothing of the package.

Looked up when first asked and kept: ``importlib.metadata`` is not loaded by
``import hiddenstate``, only by the first :func:`version` call.
"""

from __future__ import annotations

#: What :func:`version` answers when hiddenstate runs from a source tree it was not
#: installed from.
SOURCE_TREE_VERSION = "0.1.0"

_found: str | None = None


def version() -> str:
    """The version of the installed distribution, e.g. ``"0.1.0"``."""
    global _found
    if _found is None:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            _found = installed("hiddenstate")
        except PackageNotFoundError:  # running from a source tree
            _found = SOURCE_TREE_VERSION
    return _found
