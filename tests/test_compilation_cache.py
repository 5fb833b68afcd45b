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


def _run(env_update: dict, program: str = _FIT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env.update(env_update)
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True, timeout=300, check=True)


def _folder_used(out: subprocess.CompletedProcess) -> str:
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three processes in turn on the default folder (each starts JAX and compiles: a few
    seconds):

    1. ``jax`` fills it through JAX's own setting (``JAX_COMPILATION_CACHE_DIR``, no size
       bound, so no access-time files), with ``HIDDENSTATE_COMPILATION_CACHE`` naming
       another folder, which must be left alone;
    2. ``first`` runs a new program through hiddenstate's default: it adopts the folder
       (the default's name is hiddenstate's), writes new entries and repairs the old ones;
    3. ``second`` runs the same program again: it reads every entry and writes none.

    Returns the processes, the entries after each and the folders."""
    tmp = tmp_path_factory.mktemp("compilation_cache")
    xdg, other = tmp / "xdg", tmp / "x"
    folder = xdg / "hiddenstate" / "jax"
    entries = lambda: sorted(p.name for p in folder.glob("*-cache"))  # noqa: E731
    atimes = lambda: sorted(p.name for p in folder.glob("*-atime"))  # noqa: E731
    out = {"folder": folder, "other": other}
    out["jax"] = _run({"JAX_COMPILATION_CACHE_DIR": str(folder), "XDG_CACHE_HOME": str(xdg),
                       "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", cc.ENV: str(other)})
    out["jax_entries"], out["jax_atimes"] = entries(), atimes()
    other_program = _FIT.replace("(2, max_iter", "(3, max_iter")
    default = {"XDG_CACHE_HOME": str(xdg), cc.ENV: None}
    out["first"] = _run(default, other_program)
    out["first_entries"], out["first_atimes"] = entries(), atimes()
    out["second"] = _run(default, other_program)
    out["second_entries"] = entries()
    return out


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


def test_a_second_process_reads_the_first_ones_programs(runs):
    assert _folder_used(runs["first"]) == str(runs["folder"])
    new = set(runs["first_entries"]) - set(runs["jax_entries"])
    assert new, "the first process wrote nothing"
    assert _folder_used(runs["second"]) == str(runs["folder"])
    assert runs["second_entries"] == runs["first_entries"]  # all read, none new
    assert (runs["folder"] / cc.MARKER).read_bytes().startswith(b"Signature: 8a477f597d28d")


def test_off_and_jax_settings_are_respected(tmp_path, runs):
    assert _folder_used(_run({cc.ENV: "off", "XDG_CACHE_HOME": str(tmp_path)})) == "None"
    assert not (tmp_path / "hiddenstate").exists()
    # JAX's own setting wins over HIDDENSTATE_COMPILATION_CACHE, which is left alone.
    assert _folder_used(runs["jax"]) == str(runs["folder"])
    assert not runs["other"].exists()


def test_entries_without_access_times_are_repaired(runs):
    """A folder first filled without a size bound (JAX's defaults) holds entries without
    access-time files; JAX's eviction would then warn on every write."""
    assert runs["jax_entries"] and not runs["jax_atimes"]
    assert "Error writing persistent compilation cache" not in runs["first"].stderr
    assert len(runs["first_atimes"]) == len(runs["first_entries"])


# --- a cache only the user can write (issue 25) -------------------------------------------


def _refused(path: Path, reason: str) -> None:
    """The default folder (``adopt``: used as it is) at ``path`` is refused for ``reason``."""
    with pytest.warns(RuntimeWarning, match=reason) as caught:
        assert cc._prepare(path, adopt=True) is None
    assert len(caught) == 1 and str(path) in str(caught[0].message)


def test_missing_folders_are_created_private_whatever_the_umask(tmp_path):
    folder = tmp_path / "a" / "b" / "jax"
    old = os.umask(0)
    try:
        assert cc._prepare(folder, adopt=True) == folder
    finally:
        os.umask(old)
    for level in (tmp_path / "a", tmp_path / "a" / "b", folder):
        assert level.stat().st_mode & 0o777 == 0o700, level


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")
def test_a_folder_others_can_write_is_refused(tmp_path):
    folder = tmp_path / "jax"
    folder.mkdir()
    folder.chmod(0o777)
    _refused(folder, "can be written by others")
    folder.chmod(0o700)
    assert cc._prepare(folder, adopt=True) == folder
    # A private folder inside one that others can rename it out of (no sticky bit).
    outer = tmp_path / "shared"
    (outer / "jax").mkdir(parents=True, mode=0o700)
    outer.chmod(0o777)
    _refused(outer / "jax", "which others can write")
    outer.chmod(0o1777)  # sticky, as /tmp: only the owner can rename it
    assert cc._prepare(outer / "jax", adopt=True) == outer / "jax"


def test_a_symlink_at_the_folder_is_refused(tmp_path):
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    (tmp_path / "jax").symlink_to(target)
    _refused(tmp_path / "jax", "is a symlink")
    assert not list(target.iterdir())


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="giving a folder to another user needs root")
def test_a_folder_of_another_user_is_refused(tmp_path):
    folder = tmp_path / "hiddenstate" / "jax"
    folder.mkdir(parents=True, mode=0o700)
    os.chown(folder, 12345, 12345)
    _refused(folder, "owned by uid 12345")
    os.chown(folder, 0, 0)
    os.chown(folder.parent, 12345, 12345)  # its parent, which could swap it
    _refused(folder, "owned by uid 12345")


# --- the cache lives in a folder hiddenstate owns (issue 25) -----------------------------


def test_a_folder_of_the_users_gets_a_marked_subfolder(tmp_path):
    """HIDDENSTATE_COMPILATION_CACHE naming a folder that holds the user's files: the
    programs go to a subfolder of hiddenstate's, so eviction can never reach the files."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "dataset-cache").write_bytes(b"the user's")
    used = cc._prepare(project)
    assert used == project / cc.SUBFOLDER and (used / cc.MARKER).is_file()
    assert sorted(p.name for p in project.iterdir()) == ["dataset-cache", cc.SUBFOLDER]
    assert cc._prepare(project) == used  # the same subfolder next time
    # A folder hiddenstate makes, or one it marked before, is used as it is.
    assert cc._prepare(tmp_path / "new") == tmp_path / "new"
    assert cc._prepare(tmp_path / "new") == tmp_path / "new"
    assert (tmp_path / "new" / cc.MARKER).is_file()
    # An empty folder hiddenstate did not make is not assumed to stay empty.
    (tmp_path / "empty").mkdir()
    assert cc._prepare(tmp_path / "empty") == tmp_path / "empty" / cc.SUBFOLDER


@pytest.mark.parametrize("kind", ["file", "inside a file", "device"])
def test_a_file_or_device_is_an_error_naming_the_variable(tmp_path, kind):
    (tmp_path / "f").write_text("x")
    path = {"file": tmp_path / "f", "inside a file": tmp_path / "f" / "jax",
            "device": Path(os.devnull)}[kind]
    with pytest.raises(cc.CacheFolderError, match=f"^{cc.ENV}=.*not a folder") as caught:
        cc._prepare(path)
    assert "\n" not in str(caught.value)
    assert (tmp_path / "f").read_text() == "x"


def test_the_cli_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env[cc.ENV] = os.devnull
    out = subprocess.run([sys.executable, "-m", "hiddenstate", "autoencoder", "fit", "donut",
                          "--out", str(tmp_path / "m")], env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and cc.ENV in out.stderr, out.stderr
