"""The persistent compilation cache: where it lives, how it is turned off, and that a
second process reads what the first compiled."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hiddenstate import _cache_store as store
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


def test_entries_jax_wrote_are_not_trusted(runs):
    """A folder first filled through JAX's own setting holds entries without digests (and
    without access-time files): hiddenstate runs none of them, writes its own (digest and
    access time beside each), and nothing warns."""
    assert runs["jax_entries"] and not runs["jax_atimes"]
    # (A 2-epoch fit may end with a ConvergenceWarning: not the cache's business.)
    stderr = "\n".join(line for line in runs["first"].stderr.splitlines()
                       if "ConvergenceWarning" not in line)
    assert "Warning" not in stderr and "Error" not in stderr
    folder = runs["folder"]
    ours = [n for n in runs["first_entries"] if (folder / n.replace("-cache", "-sha256")).exists()]
    assert ours and len(runs["first_atimes"]) == len(ours)
    for name in ours:
        key = name[: -len("-cache")]
        assert (folder / f"{key}-sha256").read_bytes() == store.digest(
            key, (folder / name).read_bytes())


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


# --- entries: not followed through symlinks, and what they claim (issue 25) ---------------


@pytest.fixture
def planted(tmp_path):
    """A store on a fresh folder holding one good entry ``k``, and a file of the user's."""
    folder = tmp_path / "jax"
    folder.mkdir()
    victim = tmp_path / "notes.txt"
    victim.write_text("the user's text")
    s = store.VerifiedStore(folder, 1 << 20)
    s.put("k", b"program k")
    return s, folder, victim


@pytest.mark.parametrize("suffix", ["-atime", "-cache", "-sha256", ".lockfile"])
def test_a_planted_symlink_is_never_followed(planted, suffix):
    s, folder, victim = planted
    name = folder / (".lockfile" if suffix == ".lockfile" else f"k{suffix}")
    dangling = folder.parent / "created-by-nobody"
    for target in (victim, dangling):
        name.unlink(missing_ok=True)
        name.symlink_to(target)
        s.get("k")
        s.put("k", b"program k")
        assert s.get("k") == b"program k"
        assert victim.read_text() == "the user's text" and not dangling.exists()
        assert not name.is_symlink()


def test_a_corrupt_or_mis_keyed_entry_is_removed_before_use(planted):
    s, folder, _ = planted
    s.put("other", b"program other")
    for key in ("k", "other"):
        assert s.get(key) == f"program {key}".encode()
    (folder / "k-cache").write_bytes(b"program K")  # corrupt: its digest no longer fits
    assert s.get("k") is None and not (folder / "k-cache").exists()
    for suffix in ("-cache", "-sha256"):  # other's entry and digest copied to k's key
        (folder / f"k{suffix}").write_bytes((folder / f"other{suffix}").read_bytes())
    assert s.get("k") is None and not (folder / "k-cache").exists()
    (folder / "other-sha256").unlink()  # no digest: not trusted either
    assert s.get("other") is None and not (folder / "other-cache").exists()
    s.put("k", b"program k")  # the recompiled program replaces it
    assert s.get("k") == b"program k"


@pytest.mark.skipif(sys.platform == "win32", reason="fcntl")
def test_a_held_lock_costs_about_a_second_once(planted):
    import fcntl
    import time

    s, folder, _ = planted
    with open(folder / ".lockfile", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        t0 = time.perf_counter()
        with pytest.warns(RuntimeWarning, match="stayed locked") as caught:
            assert s.get("k") is None
            s.put("j", b"program j")
            assert s.get("k") is None
        assert time.perf_counter() - t0 < store.LOCK_WAIT_S + 0.5 and len(caught) == 1
    assert not (folder / "j-cache").exists()


def test_eviction_removes_only_the_oldest_entries(tmp_path):
    folder = tmp_path / "jax"
    folder.mkdir()
    (folder / cc.MARKER).write_bytes(b"tag")
    s = store.VerifiedStore(folder, 250)
    s.put("a", bytes(100))
    s.put("b", bytes(100))
    assert s.get("a") == bytes(100)  # a used after b was written: b goes first
    s.put("c", bytes(100))
    assert sorted(p.name[0] for p in folder.glob("*-cache")) == ["a", "c"]
    assert (folder / cc.MARKER).read_bytes() == b"tag"
    assert not list(folder.glob("b-*"))


_TWO = ("import sys, numpy as np, jax, jax.numpy as jnp, hiddenstate.nn;"
        "x = np.linspace(-3, 3, 7, dtype=np.float32)\n"
        "def f(x): return jnp.tanh(x)\n"
        "def g(x): return jax.nn.sigmoid(x)\n"
        "print(np.abs(np.asarray(jax.jit(f)(x)) - np.tanh(x)).max(),"
        "     np.abs(np.asarray(jax.jit(g)(x)) - 1 / (1 + np.exp(-x))).max())")


def test_a_mis_keyed_entry_is_recompiled_not_run(tmp_path):
    """One program's entry (and digest) copied over another's key: the second process
    runs the right program and the entry is replaced; a corrupt entry likewise, quietly."""
    env = {cc.ENV: str(tmp_path / "c")}
    folder = Path(_folder_used(_run(env, _TWO + ";print(jax.config.jax_compilation_cache_dir)")))
    key = {n: next(folder.glob(f"jit_{n}-*-cache")).name[: -len("-cache")] for n in "fg"}
    for suffix in ("-cache", "-sha256"):
        (folder / f"{key['g']}{suffix}").write_bytes((folder / f"{key['f']}{suffix}").read_bytes())
    entry = folder / f"{key['f']}-cache"
    entry.write_bytes(entry.read_bytes()[:-9] + bytes(9))
    out = _run(env, _TWO)
    assert max(float(v) for v in out.stdout.split()) < 1e-6, out.stdout
    assert "arning" not in out.stderr and "rror" not in out.stderr, out.stderr
    for name in "fg":
        value = (folder / f"{key[name]}-cache").read_bytes()
        assert (folder / f"{key[name]}-sha256").read_bytes() == store.digest(key[name], value)


def test_a_fuzzed_folder_never_yields_a_wrong_program(tmp_path):
    """Random damage to the folder (junk files, truncations, byte flips, entries swapped,
    symlinks to a file outside and dangling ones, folders at entry names): every read
    gives the program put under that key or nothing, and nothing outside changes."""
    import random

    rng = random.Random(0)
    folder, outside = tmp_path / "jax", tmp_path / "outside"
    folder.mkdir()
    outside.write_bytes(b"keep")
    s = store.VerifiedStore(folder, 1 << 16)
    programs = {f"k{i}": rng.randbytes(rng.randrange(1, 300)) for i in range(8)}
    attacks = 0
    for _ in range(300):
        key = rng.choice(list(programs))
        s.put(key, programs[key])
        victim = folder / f"{rng.choice(list(programs))}{rng.choice(store._SUFFIXES)}"
        shutil.rmtree(victim, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            victim.unlink()
        how = rng.randrange(6)
        if how == 0:
            victim.write_bytes(rng.randbytes(rng.randrange(0, 50)))
        elif how == 1:
            victim.symlink_to(outside)
        elif how == 2:
            victim.symlink_to(tmp_path / "dangling")
        elif how == 3:
            victim.mkdir()
        elif how == 4:
            other = folder / f"{rng.choice(list(programs))}-cache"
            if other.is_file():
                victim.write_bytes(other.read_bytes())
        attacks += 1
        for k, program in programs.items():
            assert s.get(k) in (None, program)
    assert outside.read_bytes() == b"keep" and not (tmp_path / "dangling").exists()
    assert attacks == 300


def test_windows_trusts_only_folders_inside_the_profile(monkeypatch, tmp_path):
    """Issue 25: Windows keeps owners and rights in ACLs, which os.stat does not show, so
    only the symlink check applied there. The rule now, run here with the platform and
    the profile's variables stood in: inside %LOCALAPPDATA% or %USERPROFILE% (compared
    case-blind), with no junction (reparse point) on the way, else refused."""
    profile = tmp_path / "Users" / "ada"
    inside, outside = profile / "AppData" / "Local" / "hiddenstate", tmp_path / "shared"
    for folder in (inside, outside):
        folder.mkdir(parents=True)
    monkeypatch.setattr(cc.sys, "platform", "win32")
    monkeypatch.setenv("LOCALAPPDATA", str(profile / "AppData" / "Local"))
    monkeypatch.setenv("USERPROFILE", str(profile))
    assert cc._unsafe(inside) is None
    assert cc._inside(Path(str(inside).replace("ada", "ADA")), profile)  # one to Windows
    assert "is outside your profile" in cc._unsafe(outside)
    assert cc._unsafe_on_windows(inside, cc._REPARSE_POINT) == \
        "is a junction or link (a reparse point)"
    real_lstat = os.lstat

    class Junction:  # what os.lstat says of a junction on Windows
        def __init__(self, st):
            self.st_mode, self.st_file_attributes = st.st_mode, cc._REPARSE_POINT

    monkeypatch.setattr(cc.os, "lstat", lambda p: Junction(real_lstat(p)) if
                        Path(p) == inside else real_lstat(p))
    assert cc._unsafe_on_windows(inside / "jax", 0) == \
        f"is inside {inside}, a junction or link (a reparse point)"
    monkeypatch.delenv("LOCALAPPDATA")
    monkeypatch.delenv("USERPROFILE")
    assert "(LOCALAPPDATA and USERPROFILE unset)" in cc._unsafe_on_windows(inside, 0)
