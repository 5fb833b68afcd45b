"""Every Python block of the README runs as written, and prints what the README shows.

Each ```python block runs in a fresh interpreter in an empty folder. Where a block
shows what a ``print`` gives - a trailing comment (``print(x)  # what: VALUE``, the
text after the last ``": "``, or the whole comment), or comment lines right after a
``print`` that has none - the printed line must match it: the same words, and each
number within one unit of its last shown digit. A block preceded by
``<!-- readme-test: slow -->`` runs in ``make test-slow``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize("code", blocks())
def test_readme_block(code, tmp_path):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=900, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    # A print's output may span lines (arrays): match each shown output against the
    # stdout text that follows the previous match.
    out = run.stdout
    for shown in expected_prints(code):
        if shown is None:
            continue
        n = shown.count("\n") + 1
        lines = out.split("\n")
        candidates = ["\n".join(lines[i : i + n]) for i in range(len(lines))]
        match = next((i for i, c in enumerate(candidates) if same(shown, c)), None)
        assert match is not None, f"the README shows {shown!r}; the block printed:\n{run.stdout}"
        out = "\n".join(lines[match + n :])
