"""Shared test helpers."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
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


# JAX times every request for a compiled program under this name, also one that the
# persistent cache below serves: "compiles nothing" cannot pass thanks to the cache.
jax.monitoring.register_event_duration_secs_listener(_listener)


@contextlib.contextmanager
def count_compiles():
    """Counts XLA compilations (persistent-cache hits included) in the block:
    ``with count_compiles() as n: ...; n()``."""
    start = len(_compiles)
    yield lambda: len(_compiles) - start


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


#: A throwaway persistent compilation cache for one test run: the xdist workers and the
#: worker processes the tests start (crash, distributed, multi-device runs) compile each
#: program once per run instead of once per process. It is made fresh for every run and
#: removed at its end, so a stale cache can never hide a failure.
_CACHE_SETTINGS = {
    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1",
}


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # an xdist worker: the controller set it up
        return
    folder = tempfile.mkdtemp(prefix="hiddenstate-test-jax-cache-")
    config._hiddenstate_cache = folder
    os.environ.update({"JAX_COMPILATION_CACHE_DIR": folder, **_CACHE_SETTINGS})
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def pytest_unconfigure(config):
    folder = getattr(config, "_hiddenstate_cache", None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)



#: The files that take longest (worker seconds in `make test`, longest first, measured with
#: ``--durations=0 --junitxml``), run first: ``--dist loadfile`` hands each worker one
#: file at a time in collection order, so a long file collected last would leave the
#: other worker idle at the end. Every other file keeps its alphabetical place after them.
#: (Measured 2026-12-07 under load, in shares of the worker time: test_checkpoint 7.3%,
#: test_autoencoder 6.3%, ... test_cli_rnn 1.9%; test_onnx_export added since, about 69 s
#: of CPU.)
_LONG_FILES = ("test_checkpoint.py", "test_autoencoder.py", "test_classifier.py",
               "test_readme.py", "test_compilation_cache.py", "test_forecasting.py",
               "test_classifier_conv.py", "test_onnx_export.py", "test_tokenizer.py",
               "test_template.py", "test_file_safety.py", "test_fuzz.py",
               "test_recurrent_ae.py", "test_cli.py", "test_distributed.py",
               "test_sequence_ae.py", "test_sequence_model.py", "test_anomaly.py",
               "test_cli_detect.py", "test_cli_rnn.py", "test_sequence_api.py",
               "test_input_validation.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(_LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept
