"""The package's imports: no circle, no module importing the package root, and loading
by name (a model file, ``hiddenstate.NAME``) importing only the module that is named.

The import graph is read from the source with ``ast``: every ``import`` and ``from ...
import`` (relative ones resolved), at module level and inside functions alike; those
under ``if TYPE_CHECKING:`` never run and are left out.
"""

from __future__ import annotations

import ast
import functools
import importlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import hiddenstate
from hiddenstate import ModelFileError, _serialize

PACKAGE = Path(hiddenstate.__file__).parent
#: The one circle kept on purpose: the bench child runs the CLI (in a subprocess).
ALLOWED_BACK_EDGES = {("hiddenstate.bench._cache", "hiddenstate.cli")}
PUBLIC_SUBMODULES = {"bench", "checkpoint", "cli", "datasets", "distributed", "estimators",
                     "experiments", "forecasting", "losses", "metrics", "nn", "objectives", "optim",
                     "plotting", "report", "train"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found = []
    pending = list(ast.iter_child_nodes(tree))
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        pending.extend(ast.iter_child_nodes(node))
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool,
             modules: set[str]) -> set[str]:
    """The modules of hiddenstate that ``node`` (in ``module``) imports."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.split(".")[0] == "hiddenstate"}
    if node.level:
        base = (module if is_package else module.rpartition(".")[0]).split(".")
        base = base[: len(base) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    if source.split(".")[0] != "hiddenstate":
        return set()
    # ``from X import name``: the submodule X.name when there is one, else X itself.
    return {f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source
            for a in node.names}


@functools.cache
def import_graph() -> dict[str, frozenset[str]]:
    """Each module of hiddenstate -> the modules of hiddenstate it imports."""
    sources = _sources()
    graph = {}
    for module, path in sources.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[module] = frozenset().union(*(
            _targets(node, module, path.name == "__init__.py", set(sources))
            for node in _import_nodes(tree)))
    return graph


def circles(graph: dict[str, frozenset[str]] | dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (or a module that
    imports itself): Tarjan's algorithm, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, successors = work[-1]
            nxt = next((w for w in successors if w in graph), None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    found.append(sorted(component))
    return found


def test_circles_finds_loops_and_only_loops():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"d"}}
    assert sorted(circles(graph)) == [["a", "b", "c"], ["e"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_the_graph_reads_module_level_function_level_and_relative_imports():
    graph = import_graph()
    assert len(graph) >= 80
    assert "hiddenstate._serialize" in graph["hiddenstate._pipeline"]  # from . import _serialize
    assert "hiddenstate._errors" in graph["hiddenstate._pipeline"]  # from ._errors import ...
    assert "hiddenstate.checkpoint" in graph["hiddenstate.estimators._base"]  # in a method
    assert "hiddenstate.train" in graph["hiddenstate.estimators._autoencoder"]  # from .. import
    assert "hiddenstate.cli" in graph["hiddenstate.bench._cache"]  # from ..cli import main
    # the package root's TYPE_CHECKING imports never run; _version is read in __getattr__
    assert graph["hiddenstate"] == {"hiddenstate._errors", "hiddenstate._version"}


def test_no_import_circle_inside_the_package():
    graph = dict(import_graph())
    for source, target in ALLOWED_BACK_EDGES:
        graph[source] = graph[source] - {target}
    assert circles(graph) == []


def test_no_module_imports_the_package_root():
    importers = sorted(m for m, targets in import_graph().items()
                       if "hiddenstate" in targets and m != "hiddenstate")
    assert importers == []


# -- the table of model classes ----------------------------------------------------------------


def _registered_in_source() -> dict[str, str]:
    """Class name -> module of every class in the package decorated ``@..register`` of
    :mod:`hiddenstate._serialize`."""
    found = {}
    for module, path in _sources().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    ast.unparse(d) in ("_serialize.register", "register")
                    for d in node.decorator_list):
                found[node.name] = module
    return found


def test_the_static_table_names_every_class_that_registers_itself():
    assert _registered_in_source() == _serialize.MODEL_MODULES
    assert len(_serialize.MODEL_MODULES) == 8
    for name, module in _serialize.MODEL_MODULES.items():
        cls = _serialize.class_for(name)
        assert (cls.__name__, cls.__module__) == (name, module)
        assert _serialize.is_registered(cls)


def test_class_for_knows_a_class_registered_at_run_time():
    @_serialize.register
    class ToyModel:
        pass

    try:
        assert _serialize.class_for("ToyModel") is ToyModel
        assert _serialize.is_registered(ToyModel)
        with pytest.raises(ModelFileError, match="unknown model class 'Nosuch'") as err:
            _serialize.class_for("Nosuch", path="m.hsm")
        known = str(err.value).split("known: ")[1].split(", ")
        # Every class of the table, and every one registered (other test files, run in
        # this process, may register their own).
        assert known == sorted({*_serialize.MODEL_MODULES, *_serialize._REGISTRY})
        assert "ToyModel" in known
    finally:
        del _serialize._REGISTRY["ToyModel"]
    assert not _serialize.is_registered(ToyModel)

    class Autoencoder:  # the name of a registered class, not the class
        pass

    assert not _serialize.is_registered(Autoencoder)


# -- what loading by name imports, in fresh interpreters ---------------------------------------

_ESTIMATOR_MODULES = ("_anomaly", "_autoencoder", "_classifier", "_recursive", "_sequence",
                      "_sequence_ae")

_LOAD = """
import json, sys
import hiddenstate
model = hiddenstate.load({path!r})
print(json.dumps([type(model).__name__,
                  sorted(m for m in sys.modules if m.startswith("hiddenstate."))]))
"""

_SUBPACKAGES = """
import json, sys
import hiddenstate as hs
before = sorted(m for m in sys.modules if m.startswith("hiddenstate."))
donut = hs.datasets.make_donut(10, rng=0)
print(json.dumps([before, "datasets" in dir(hs), len(donut[0]),
                  sorted(m for m in sys.modules if m.startswith("hiddenstate."))]))
"""


def _run_fresh(codes: list[str]) -> list:
    """Each code in its own fresh interpreter (all at once); their last printed lines."""
    runs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for code in codes]
    out = []
    for run in runs:
        stdout, stderr = run.communicate(timeout=180)
        assert run.returncode == 0, stderr[-2000:]
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def _estimators_in(modules: list[str]) -> set[str]:
    return {m.rpartition(".")[2] for m in modules
            if m.rpartition(".")[0] == "hiddenstate.estimators"} & set(_ESTIMATOR_MODULES)


def test_loading_a_model_file_imports_only_its_estimator(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from hiddenstate.datasets import make_reber

    X = np.random.default_rng(0).random((20, 3)).astype(np.float32)
    ae = hiddenstate.Autoencoder(2, max_iter=1, random_state=0).fit(X)
    ae.save(tmp_path / "ae.hsm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hiddenstate.save(make_pipeline(StandardScaler(), ae).fit(X), tmp_path / "pipe.hsm")
    sequences = make_reber(6, rng=0)
    hiddenstate.SequenceModel("elman", hidden_size=4, max_iter=1, random_state=0).fit(
        sequences).save(tmp_path / "seq.hsm")
    runs = _run_fresh([_LOAD.format(path=str(tmp_path / name))
                       for name in ("ae.hsm", "pipe.hsm", "seq.hsm")] + [_SUBPACKAGES])
    (ae_class, ae_modules), (pipe_class, pipe_modules), (seq_class, seq_modules) = runs[:3]
    assert ae_class == "Autoencoder" and _estimators_in(ae_modules) == {"_autoencoder"}
    assert "hiddenstate._pipeline" not in ae_modules
    assert pipe_class == "Pipeline" and _estimators_in(pipe_modules) == {"_autoencoder"}
    assert "hiddenstate._pipeline" in pipe_modules
    assert seq_class == "SequenceModel" and _estimators_in(seq_modules) == {"_sequence"}
    before, listed, n_points, after = runs[3]
    assert before == ["hiddenstate._errors"]
    assert listed and n_points == 10
    assert "hiddenstate.datasets" in after and _estimators_in(after) == set()


def test_every_public_subpackage_loads_on_first_use():
    assert hiddenstate._SUBMODULES == PUBLIC_SUBMODULES
    for name in sorted(PUBLIC_SUBMODULES):
        module = getattr(hiddenstate, name)
        assert module is importlib.import_module(f"hiddenstate.{name}")
        assert name in dir(hiddenstate)
    assert hiddenstate.datasets.make_donut is importlib.import_module(
        "hiddenstate.datasets").make_donut
    with pytest.raises(AttributeError, match="no attribute '_version_of'"):
        hiddenstate._version_of  # noqa: B018


def test_estimators_package_is_lazy_and_complete():
    from hiddenstate import estimators

    for name in estimators.__all__:
        value = getattr(estimators, name)
        module, _, attribute = estimators._LAZY[name].partition(":")
        defined = importlib.import_module(module, estimators.__name__)
        assert value is getattr(defined, attribute or name) and name in dir(estimators)
    namespace: dict = {}
    exec("from hiddenstate.estimators import *", namespace)
    assert set(estimators.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        estimators.nosuch  # noqa: B018
