"""Start-up stays cheap: ``import hiddenstate`` and ``hiddenstate --help`` load no heavy module.

Each check runs in a fresh interpreter, since this one has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import hiddenstate

HEAVY = ("jax", "jaxlib", "equinox", "optax", "sklearn", "scipy", "pandas", "matplotlib")

_PROBE = """
import json, sys
{code}
heavy = {heavy!r}
print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))))
"""


def _heavy_modules_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    probe = _PROBE.format(code=code, heavy=heavy)
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_loads_no_heavy_module():
    assert _heavy_modules_after("import hiddenstate") == []


@pytest.mark.parametrize("argv", [
    ["--help"], [], ["autoencoder", "--help"], ["rnn", "--help"], ["rae", "--help"],
    ["datasets", "--help"], ["bench", "--help"], ["nosuch"],
], ids=lambda a: " ".join(a) or "no-args")
def test_top_level_and_group_help_load_no_heavy_module(argv):
    code = ("import contextlib, io\n"
            "from hiddenstate.cli import build_parser, main\n"
            "build_parser()\n"
            "with contextlib.redirect_stdout(io.StringIO()), "
            "contextlib.redirect_stderr(io.StringIO()):\n"
            f"    main({argv!r})")
    assert _heavy_modules_after(code) == []


def test_python_dash_m_and_console_script_answer():
    commands = [[sys.executable, "-m", "hiddenstate"]]
    script = Path(sys.executable).with_name("hiddenstate")
    if script.exists():  # installed (editable) into this interpreter's environment
        commands.append([str(script)])
    for command in commands:
        done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "autoencoder" in done.stdout
        done = subprocess.run([*command, "rnn"], capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1
        assert done.stderr.startswith("hiddenstate: error: the following arguments are required")


def test_lazy_names_resolve_and_are_listed():
    from hiddenstate.estimators import Autoencoder

    assert hiddenstate.Autoencoder is Autoencoder
    for name in hiddenstate.__all__:
        assert getattr(hiddenstate, name) is not None
        assert name in dir(hiddenstate)
    assert isinstance(hiddenstate.__version__, str)
    namespace: dict = {}
    exec("from hiddenstate import *", namespace)
    assert set(hiddenstate.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        hiddenstate.nosuch  # noqa: B018


def test_load_in_a_fresh_interpreter_finds_every_estimator(tmp_path):
    """``hiddenstate.load`` is lazy: it must still know the estimators' classes."""
    import numpy as np

    from hiddenstate import Autoencoder

    X = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    Autoencoder(2, max_iter=1, random_state=0).fit(X).save(tmp_path / "m.hs")
    path = str(tmp_path / "m.hs")
    code = f"import hiddenstate; print(type(hiddenstate.load({path!r})).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "Autoencoder"


@pytest.mark.parametrize("argv", [
    [group, "fit", "--help"] for group in ("autoencoder", "rnn", "seqae", "rae", "classify",
                                           "detect")
] + [["detect", "fit", "--model", model, "--help"] for model in ("sequence-ae",
                                                                   "sequence-model")],
    ids=lambda a: " ".join(a))
def test_fit_help_loads_no_heavy_module(argv):
    """The options come from the generated table: the estimators (scikit-learn, JAX,
    Equinox), and NumPy, are imported only when a command runs."""
    code = ("import contextlib, io\n"
            "from hiddenstate.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            f"    assert main({argv!r}) == 0\n"
            "assert '--learning-rate' in out.getvalue()")
    assert _heavy_modules_after(code, (*HEAVY, "numpy")) == []


def test_a_cell_the_table_lacks_is_looked_up_in_the_registry():
    """In a fresh interpreter the --cell choices are the table's; a name not among them is
    looked up in the cell registry itself (which a plugin may have filled)."""
    code = ("import contextlib, io\n"
            "from hiddenstate.cli import main\n"
            "err = io.StringIO()\n"
            "with contextlib.redirect_stderr(err):\n"
            "    assert main(['rnn', 'fit', 'x.txt', '--out', 'm.hs', '--cell', 'nope']) == 2\n"
            "assert \"expected 'elman', 'gru' or 'lstm', got 'nope'\" in err.getvalue()\n"
            "assert 'hiddenstate.nn._cells' in sys.modules")
    assert "jax" in _heavy_modules_after(code)
