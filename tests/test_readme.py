"""Every code block of the README runs as written, and prints what the README shows.

Each ```python block runs in an empty folder and a namespace of its own: the blocks of
``make test`` together in one fresh interpreter, each slow block in a fresh interpreter of
its own. Where a block shows what a ``print`` gives - a trailing comment
(``print(x)  # what: VALUE``, the text after the last ``": "``, or the whole comment),
or comment lines right after a ``print`` that has none - the printed line must match
it: the same words, and each number within one unit of its last shown digit. A block
preceded by ``<!-- readme-test: slow -->`` runs in ``make test-slow``.

Each line of the ```bash blocks is a command on the reader's own files (``data.csv``,
``brackets.txt``, ...): ``make test-slow`` runs every one, in order, in a folder
holding small files of those names and shapes (:func:`user_files`), and each must exit
0. Lines that are not commands to run as written are listed in :data:`NOT_RUN`, each
with the reason. Commands that train on the whole shared rt-polarity data (10,662
sentences; the sentence-model experiments train the same recipes) run one epoch
(:data:`ONE_EPOCH`; with ``--pretrain``, one of pretraining too); the commands after
them use that model as the README's use the full one.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"(<!-- readme-test: (\w+) -->\s*\n)?```python\n(.*?)```", re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def blocks() -> list:
    text = README.read_text(encoding="utf-8")
    out = []
    for m in _BLOCK.finditer(text):
        line = text[: m.start(3)].count("\n")
        marks = [pytest.mark.slow] if m.group(2) == "slow" else []
        out.append(pytest.param(m.group(3), id=f"line{line}", marks=marks))
    return out


def expected_prints(code: str) -> list[str | None]:
    """What each ``print`` line of ``code`` shows, in order (None: shows nothing)."""
    lines = code.splitlines()
    shown: list[str | None] = []
    for i, line in enumerate(lines):
        if not line.lstrip().startswith("print("):
            continue
        code_part, _, comment = line.partition("  # ")
        if comment:
            shown.append(comment.rsplit(": ", 1)[-1].strip())
            continue
        following = []
        for nxt in lines[i + 1 :]:
            if not nxt.startswith("# "):
                break
            following.append(nxt[2:])
        shown.append("\n".join(following) if following else None)
    return shown


def same(expected: str, actual: str) -> bool:
    """The same words, and numbers within one unit of the expected one's last digit."""
    if _NUMBER.sub("#", expected).split() != _NUMBER.sub("#", actual).split():
        return False
    for e, a in zip(_NUMBER.findall(expected), _NUMBER.findall(actual), strict=True):
        decimals = len(e.split(".")[1].split("e")[0]) if "." in e else 0
        if abs(float(e) - float(a)) > 10.0 ** -decimals * 1.0001:
            return False
    return True


def test_the_matcher():
    assert same("[0.01 0.01]", "[0.01  0.01]") and same("0.065", "0.066")
    assert not same("0.065", "0.07") and not same("True", "False")
    assert expected_prints("print(a)  # rate: 0.5\nprint(b)\n# [1\n#  2]\nprint(c)") == [
        "0.5", "[1\n 2]", None]


#: Runs the blocks given as a JSON list of ``[code, folder]`` in this one interpreter, each
#: in a namespace of its own with its folder as the working directory, and prints a JSON
#: list of ``[stdout, error or None]``. One interpreter for the blocks of ``make test``
#: imports JAX and scikit-learn once and compiles each shared program once.
_RUN_BLOCKS = """
import contextlib, io, json, os, sys, traceback
results = []
for code, folder in json.load(sys.stdin):
    os.chdir(folder)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<README block>", "exec"), {"__name__": "__main__"})
        results.append([out.getvalue(), None])
    except BaseException:
        results.append([out.getvalue(), traceback.format_exc()[-3000:]])
sys.__stdout__.write(json.dumps(results))
"""


@pytest.fixture(scope="module")
def fast_blocks(tmp_path_factory) -> dict:
    """``{code: (stdout, error)}`` of every block not marked slow, run together in one
    fresh interpreter (each block in its own empty folder and namespace)."""
    import json

    codes = [p.values[0] for p in blocks() if not p.marks]
    jobs = [[code, str(tmp_path_factory.mktemp("readme"))] for code in codes]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run([sys.executable, "-c", _RUN_BLOCKS], input=json.dumps(jobs),
                         capture_output=True, text=True, timeout=1800, env=env,
                         cwd=jobs[0][1] if jobs else None)
    assert run.returncode == 0, run.stderr[-3000:]
    return {code: tuple(result) for code, result in zip(codes, json.loads(run.stdout),
                                                        strict=True)}


@pytest.mark.parametrize("code", blocks())
def test_readme_block(code, tmp_path, request):
    if request.node.get_closest_marker("slow") is None:
        stdout, error = request.getfixturevalue("fast_blocks")[code]
        assert error is None, error
    else:  # a slow block: its own interpreter, as a reader would run it
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                             text=True, timeout=900, env=env)
        assert run.returncode == 0, run.stderr[-3000:]
        stdout = run.stdout
    # A print's output may span lines (arrays): match each shown output against the
    # stdout text that follows the previous match.
    out = stdout
    for shown in expected_prints(code):
        if shown is None:
            continue
        n = shown.count("\n") + 1
        lines = out.split("\n")
        candidates = ["\n".join(lines[i : i + n]) for i in range(len(lines))]
        match = next((i for i, c in enumerate(candidates) if same(shown, c)), None)
        assert match is not None, f"the README shows {shown!r}; the block printed:\n{stdout}"
        out = "\n".join(lines[match + n :])


# -- the bash blocks ------------------------------------------------------------------------------

#: Lines of bash blocks not run, by a pattern they contain, and why.
NOT_RUN = {
    "make ": "the set-up commands: CI runs them",
    "pip install": "installs (the CUDA extra needs a GPU machine)",
    "[--": "a synopsis: [ ] marks optional arguments",
    "reproduce": "the experiments: make run and tests/test_experiment_configs.py run them",
    "--coordinator": "needs two machines: tests/test_distributed.py runs it on 127.0.0.1",
}
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: Training commands run for one epoch: (the words that mark them, the option added).
ONE_EPOCH = (("fit", "../shared/data/rt-polarity"), ["--max-iter", "1"])


def bash_lines() -> list:
    text = README.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(r"```bash\n(.*?)```", text, re.S):
        first = text[: m.start(1)].count("\n") + 1
        for k, line in enumerate(m.group(1).splitlines()):
            command = line.split("   #")[0].split("  # ")[0].strip()
            if not command or any(p in command for p in NOT_RUN):
                continue
            out.append((first + k, command))
    return out


def user_files(folder: Path) -> None:
    """Small files with the names and shapes the README's commands use."""
    rng = np.random.default_rng(0)

    def table(path: Path, n: int, shift: float = 0.0) -> None:
        a, b = rng.random(n) + shift, rng.random(n)
        rows = np.column_stack([a, b, a + b, a - b, 2 * a])
        path.write_text("a,b,sum,diff,double\n" + "\n".join(
            ",".join(f"{v:.5f}" for v in r) for r in rows) + "\n")

    table(folder / "data.csv", 1000)  # detect fit data.csv --contamination 0.01 too
    table(folder / "normal.csv", 1000)  # 200 calibration rows: enough for --contamination 0.01
    table(folder / "new.csv", 10, shift=0.5)
    np.save(folder / "data.npy", rng.random((200, 5)).astype(np.float32))
    from hiddenstate.datasets import make_embedded_reber

    (folder / "strings.txt").write_text("\n".join(make_embedded_reber(300, rng)) + "\n")
    from .test_sequence_api import balanced

    (folder / "brackets.txt").write_text("\n".join(balanced(400, rng)) + "\n")
    (folder / "new.txt").write_text("(())\n(()\n()()()\n")
    t = np.arange(400)
    wave = np.sin(2 * np.pi * t / 20) + 0.1 * rng.standard_normal(400)
    (folder / "series.csv").write_text("value\n" + "\n".join(f"{v:.4f}" for v in wave) + "\n")
    (folder / "recent.csv").write_text("value\n" + "\n".join(f"{v:.4f}" for v in wave[-60:])
                                       + "\n")
    good = ["a gorgeous , witty film", "witty and moving", "a moving , gorgeous story"]
    bad = ["a dull , lifeless mess", "lifeless and dull", "a dull story"]
    sentences = (good + bad) * 10
    labels = (["positive"] * 3 + ["negative"] * 3) * 10
    for name, n in (("reviews", 60), ("test", 12)):
        (folder / f"{name}.txt").write_text("\n".join(sentences[:n]) + "\n")
        (folder / ("labels.txt" if name == "reviews" else "test_labels.txt")).write_text(
            "\n".join(labels[:n]) + "\n")


def test_bash_lines_are_found():
    lines = [c for _, c in bash_lines()]
    assert any(c.startswith("hiddenstate rnn fit brackets.txt") for c in lines)
    assert not any(c.startswith("make") for c in lines)


@pytest.mark.slow
def test_readme_bash_blocks(tmp_path):
    user_files(tmp_path)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    not_here = []  # lines on the shared data, where it is missing: reported as a skip
    for line, command in bash_lines():
        extra = ONE_EPOCH[1] if all(w in command.split() for w in ONE_EPOCH[0]) else []
        if extra and "--pretrain" in command.split():
            extra = [*extra, "--pretrain-max-iter", "1"]
        if "../shared/data" in command:
            if not SHARED_DATA.exists():
                not_here.append(line)
                continue
            command = command.replace("../shared/data", str(SHARED_DATA))
        words = shlex.split(command) + extra
        assignments = {}
        while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
            key, _, value = words.pop(0).partition("=")
            assignments[key] = value
        if words[0] == "hiddenstate":
            words = [sys.executable, "-m", "hiddenstate", *words[1:]]
        elif words[0] == "python":
            words[0] = sys.executable
        run = subprocess.run(words, cwd=tmp_path, capture_output=True, text=True,
                             timeout=900, env={**env, **assignments})
        assert run.returncode == 0, f"README line {line}: {command}\n{run.stderr[-2000:]}"
    if not_here:
        pytest.skip(f"the other README commands ran; lines {not_here} read {SHARED_DATA}, "
                    "which is not here")
