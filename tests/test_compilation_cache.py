"""The persistent compilation cache: where it lives, how it is turned off, and that a
second process reads what the first compiled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hiddenstate import _compilation_cache as cc

_FIT = ("import numpy as np, hiddenstate as hs, jax;"
        "hs.Autoencoder(2, max_iter=2, random_state=0).fit(np.random.default_rng(0)"
        ".random((64, 4)));print(jax.config.jax_compilation_cache_dir)")


def _run(env_update: dict) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env.update(env_update)
    out = subprocess.run([sys.executable, "-c", _FIT], env=env, capture_output=True,
                         text=True, timeout=300, check=True)
    return out.stdout.strip().splitlines()[-1]


def test_default_folder_follows_the_platform(monkeypatch, tmp_path):
    monkeypatch.delenv(cc.ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert cc.default_dir() == tmp_path / "hiddenstate" / "jax"
    assert cc.cache_dir() == cc.default_dir()
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # not absolute: ignored (XDG)
    if sys.platform.startswith("linux"):
        assert cc.default_dir() == Path.home() / ".cache" / "hiddenstate" / "jax"


@pytest.mark.parametrize("value", ["off", "0", "false", "no", ""])
def test_environment_variable_turns_it_off(monkeypatch, value):
    monkeypatch.setenv(cc.ENV, value)
    assert cc.cache_dir() is None


def test_a_second_process_reads_the_first_ones_programs(tmp_path):
    folder = tmp_path / "cache"
    assert _run({cc.ENV: str(folder)}) == str(folder)
    entries = sorted(p.name for p in folder.glob("*-cache"))
    assert entries, "the first process wrote nothing"
    assert _run({cc.ENV: str(folder)}) == str(folder)
    assert sorted(p.name for p in folder.glob("*-cache")) == entries  # all read, none new


def test_off_and_jax_settings_are_respected(tmp_path):
    assert _run({cc.ENV: "off", "XDG_CACHE_HOME": str(tmp_path)}) == "None"
    assert not (tmp_path / "hiddenstate").exists()
    own = tmp_path / "own"
    assert _run({"JAX_COMPILATION_CACHE_DIR": str(own), cc.ENV: str(tmp_path / "x")}) \
        == str(own)
    assert not (tmp_path / "x").exists()


def test_entries_without_access_times_are_repaired(tmp_path):
    """A folder first filled without a size bound (JAX's defaults) holds entries without
    access-time files; JAX's eviction would then warn on every write."""
    folder = tmp_path / "cache"
    out = subprocess.run([sys.executable, "-c", _FIT],
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("JAX_")},
                              "JAX_COMPILATION_CACHE_DIR": str(folder),
                              "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"},
                         capture_output=True, text=True, timeout=300, check=True)
    assert out.returncode == 0
    entries = list(folder.glob("*-cache"))
    assert entries and not list(folder.glob("*-atime"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env[cc.ENV] = str(folder)
    out = subprocess.run([sys.executable, "-c", _FIT.replace("(2, max_iter", "(3, max_iter")],
                         env=env, capture_output=True, text=True, timeout=300, check=True)
    assert "Error writing persistent compilation cache" not in out.stderr
    assert len(list(folder.glob("*-atime"))) == len(list(folder.glob("*-cache")))
