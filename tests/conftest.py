"""Shared test helpers."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import jax
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

#: ../shared/data beside the checkout (present in CI; tests using it skip when absent).
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

_compiles: list[str] = []


def _listener(name: str, duration: float, **kwargs) -> None:
    if name == "/jax/core/compile/backend_compile_duration":
        _compiles.append(name)


jax.monitoring.register_event_duration_secs_listener(_listener)


@contextlib.contextmanager
def count_compiles():
    """Counts XLA compilations in the block: ``with count_compiles() as n: ...; n()``."""
    start = len(_compiles)
    yield lambda: len(_compiles) - start


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA
