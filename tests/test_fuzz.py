"""Fuzzing every file loader and the CLI's argument handling with hypothesis.

Every generated input must end in a correct result or a clean, deliberate
error (:class:`hiddenstate.InputError` / :class:`hiddenstate.ModelFileError`,
both ValueErrors), within the deadline: never another exception, a hang, or a
partially written output file.

Profiles: ``ci`` (the default, a few hundred inputs per loader, inside ``make
test``) and ``full`` (10,000 per loader): ``make fuzz`` or
``HYPOTHESIS_PROFILE=full pytest tests/test_fuzz.py``; ``--hypothesis-show-statistics``
prints how many inputs each test ran.

The CLI runs in a child process under a memory limit (``RLIMIT_AS``,
:data:`CLI_MEMORY_LIMIT`), so an input that exhausts memory fails the test
(the child dies, or its error says "out of memory") instead of the machine.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import hiddenstate as hs
from hiddenstate import InputError, ModelFileError
from hiddenstate.datasets import load_rt_polarity, load_sequences, read_idx, read_table
from hiddenstate.datasets._lines import canonical_label, read_labels, read_lines

settings.register_profile(
    "ci", max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "full", max_examples=10_000, deadline=5000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

CLEAN = (InputError, ModelFileError)
_TMP = Path(tempfile.mkdtemp(prefix="hiddenstate-fuzz-"))


def _file(name: str, data: bytes) -> Path:
    path = _TMP / name
    path.write_bytes(data)
    return path


# -- CSV / TSV / text ------------------------------------------------------------------------

_cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    st.integers(-(10**40), 10**40).map(str),
    st.sampled_from(["", " ", "nan", "-inf", "1e39", "0x10", "1,5", "abc", '"3"', "é", "\t"]),
    st.text(max_size=6),
)
_csv_text = st.lists(
    st.lists(_cells, min_size=0, max_size=5).map(",".join), min_size=0, max_size=8
).map("\n".join)


@given(text=_csv_text, ext=st.sampled_from([".csv", ".tsv", ".txt"]),
       header=st.sampled_from([None, True, False]))
def test_fuzz_text_tables(text, ext, header):
    path = _file("t" + ext, text.encode("utf-8"))
    try:
        X, names = read_table(path, header=header)
    except CLEAN:
        event("refused")
        return
    event("read")
    assert X.dtype == np.float32 and X.ndim == 2 and X.shape[0] >= 1 and X.shape[1] >= 1
    assert names is None or len(names) == X.shape[1]


@given(data=st.binary(max_size=300), ext=st.sampled_from([".csv", ".tsv", ".txt", ".npy"]))
def test_fuzz_table_bytes(data, ext):
    try:
        X, _ = read_table(_file("b" + ext, data))
    except CLEAN:
        return
    assert X.ndim == 2


_number = st.one_of(st.integers(-999, 999).map(str),
                    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr))
_odd_cell = st.sampled_from(["x", "True", "0x10", "(1+2j)", "", "1e39", "nan", "1_0", "a b"])
#: Mostly well-formed tables (a rectangle of numbers, maybe a header of names, maybe one
#: odd cell anywhere), so that the reading path is fuzzed as much as the refusals.
_grid_text = st.integers(1, 4).flatmap(lambda w: st.tuples(
    st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", "x y", "True"]), min_size=w,
                                  max_size=w)),
    st.lists(st.lists(_number, min_size=w, max_size=w), min_size=1, max_size=6),
    st.one_of(st.none(), st.tuples(st.integers(0, 6), st.integers(0, w - 1), _odd_cell)),
)).map(lambda t: "\n".join(
    ([",".join(t[0])] if t[0] else [])
    + [",".join(t[2][2] if t[2] and (i, j) == (t[2][0] % len(t[1]), t[2][1]) else c
                for j, c in enumerate(row)) for i, row in enumerate(t[1])]) + "\n")


@given(text=st.one_of(_csv_text, _grid_text))
def test_fuzz_csv_header_rule(text):
    """A first row with a number in it is never taken as the header."""
    path = _file("h.csv", text.encode("utf-8"))
    try:
        X, names = read_table(path)
    except CLEAN:
        event("refused")
        return
    event("read")
    if names is not None:
        cells = text.lstrip("\n").split("\n", 1)[0].split(",")
        assert not any(_is_float(c) for c in cells), (text, names)


def _is_float(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# -- files of one item per line: sequences, sentences, labels ---------------------------------

#: Characters the line readers must not mistake: line and word breaks other than "\n",
#: byte order marks, blanks, and the digits and signs of labels.
_LINE_CHARS = st.sampled_from(list("ab1.0+-e ") + ["\n", "\r", "\t", "\ufeff", "\u2028",
                                                   "\u2029", "\x85", "\x0c", "\x0b",
                                                   "\x1c", "\x1d", "\x1e", "\x00", "é"])
_line_text = st.one_of(st.lists(_LINE_CHARS, max_size=40).map("".join), st.text(max_size=40))
_encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"])


def _encoded(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


def _check_lines(lines: list[str], text: str) -> None:
    assert lines and all(line and line == line.strip() for line in lines)
    assert not any("\n" in line or line.startswith("\ufeff") for line in lines)
    assert len(lines) <= text.count("\n") + 1


@given(text=_line_text, encoding=_encodings,
       alphabet=st.one_of(st.none(), st.text(min_size=0, max_size=5)))
def test_fuzz_sequences(text, encoding, alphabet):
    try:
        seqs, used = load_sequences(_file("seq.txt", _encoded(text, encoding)), alphabet)
    except CLEAN:
        event("refused")
        return
    event("read")
    assert seqs and all(len(s) >= 2 and "\n" not in s for s in seqs)
    assert len(set(used)) == len(used) and "\ufeff" not in used[:1]
    assert all(set(s) <= set(used) for s in seqs)


@given(text=_line_text, encoding=_encodings, what=st.sampled_from(["sentence", "sequence"]))
def test_fuzz_sentences(text, encoding, what):
    try:
        lines = read_lines(_file("sentences.txt", _encoded(text, encoding)), what)
    except CLEAN:
        event("refused")
        return
    event("read")
    _check_lines(lines, text)


@given(text=_line_text, encoding=_encodings)
def test_fuzz_labels(text, encoding):
    try:
        labels = read_labels(_file("labels.txt", _encoded(text, encoding)))
    except CLEAN:
        event("refused")
        return
    event("read")
    _check_lines(labels, text)
    assert all(canonical_label(label) == label for label in labels)  # one spelling per class


@given(pos=st.binary(max_size=120), neg=_line_text.map(lambda t: t.encode("utf-8")))
def test_fuzz_rt_polarity(pos, neg):
    folder = _TMP / "rt"
    folder.mkdir(exist_ok=True)
    (folder / "rt-polarity.pos").write_bytes(pos)
    (folder / "rt-polarity.neg").write_bytes(neg)
    try:
        sentences, labels = load_rt_polarity(folder)
    except CLEAN:
        event("refused")
        return
    event("read")
    assert len(sentences) == len(labels) and all(sentences)
    assert not any(w.startswith("\xef\xbb\xbf") for s in sentences[:1] for w in s[:1])


@given(data=st.binary(max_size=200), reader=st.sampled_from(["sequences", "lines", "labels"]))
def test_fuzz_line_files_bytes(data, reader):
    path = _file("lines.bin", data)
    read = {"sequences": load_sequences, "lines": read_lines, "labels": read_labels}[reader]
    try:
        read(path)
    except CLEAN:
        event("refused")
        return
    event("read")


# -- .npy -----------------------------------------------------------------------------------

def _npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


_VALID_NPY = _npy_bytes(np.arange(12, dtype=np.float32).reshape(3, 4))


@given(pos=st.integers(0, len(_VALID_NPY) - 1), byte=st.integers(0, 255),
       cut=st.integers(0, len(_VALID_NPY)))
def test_fuzz_npy_mutations(pos, byte, cut):
    blob = bytearray(_VALID_NPY)
    blob[pos] = byte
    try:
        X, _ = read_table(_file("m.npy", bytes(blob[:cut] if cut % 3 == 0 else blob)))
    except CLEAN:
        return
    assert X.ndim == 2 and X.dtype == np.float32


@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
       dtype=st.sampled_from(["f4", "f8", "i2", "u1", "?", "c8", "U3", "V4", "M8[s]"]))
def test_fuzz_npy_dtypes_and_shapes(shape, dtype):
    array = np.zeros(shape, dtype=dtype)
    try:
        X, _ = read_table(_file("d.npy", _npy_bytes(array)))
    except CLEAN:
        return
    assert X.shape == tuple(shape) and len(shape) == 2


# -- IDX (MNIST) ----------------------------------------------------------------------------

def _idx(array: np.ndarray, code: int = 0x08) -> bytes:
    head = struct.pack(">HBB", 0, code, array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape
    )
    return head + array.astype(">u1" if code == 0x08 else array.dtype).tobytes()


_VALID_IDX = _idx(np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3))


@given(pos=st.integers(0, len(_VALID_IDX) - 1), byte=st.integers(0, 255),
       cut=st.integers(0, len(_VALID_IDX)), gz=st.booleans())
def test_fuzz_idx_mutations(pos, byte, cut, gz):
    blob = bytearray(_VALID_IDX)
    blob[pos] = byte
    data = bytes(blob[:cut]) if cut % 2 else bytes(blob)
    if gz:
        data = gzip.compress(data)
    try:
        array = read_idx(_file("x-idx3-ubyte" + (".gz" if gz else ""), data))
    except CLEAN:
        return
    assert array.size == int(np.prod(array.shape))


@given(data=st.binary(max_size=200))
def test_fuzz_idx_bytes(data):
    try:
        read_idx(_file("r-idx1-ubyte", data))
    except CLEAN:
        return


# -- model files ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model_blob():
    X = np.random.default_rng(0).random((40, 5)).astype(np.float32)
    path = _TMP / "good.safetensors"
    hs.Autoencoder(3, max_iter=2, random_state=0).fit(X).save(path)
    return path.read_bytes()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 10**6)))
def test_fuzz_model_files(model_blob, edits, cut):
    blob = bytearray(model_blob)
    for pos, byte in edits:
        blob[pos % len(blob)] = byte
    if cut is not None:
        blob = blob[: cut % (len(blob) + 1)]
    try:
        model = hs.load(_file("fuzz.safetensors", bytes(blob)))
    except ModelFileError:
        return
    # Loaded: it must work.
    assert model.transform(np.zeros((2, model.n_features_in_), np.float32)).shape[0] == 2


# -- CLI arguments --------------------------------------------------------------------------

#: The child running the CLI may use this much address space (``RLIMIT_AS``): JAX on CPU
#: needs about 2 GB; an input that asks for more fails the test instead of the machine.
CLI_MEMORY_LIMIT = 6 << 30
#: Seconds one command may take in the child before it counts as a hang.
CLI_HANG_SECONDS = 300

_WORKER = textwrap.dedent("""
    import contextlib, io, json, os, resource, sys
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.setdefault("MPLBACKEND", "Agg")
    from hiddenstate.cli import main
    channel = os.fdopen(os.dup(1), "w")
    for line in sys.stdin:
        argv = json.loads(line)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
            except BaseException as exc:  # main must not raise: report it
                import traceback
                code = "raised"
                err.write("Traceback (raised out of main)\\n" + traceback.format_exc())
        channel.write(json.dumps({"code": code, "stderr": err.getvalue()[-4000:]}) + "\\n")
        channel.flush()
""")


class _CLIWorker:
    """One child process that runs ``hiddenstate.cli.main`` for each argv it is sent,
    under :data:`CLI_MEMORY_LIMIT`; answers ``(exit status, stderr)``."""

    def __init__(self) -> None:
        env = {**os.environ, "JAX_PLATFORMS": "cpu"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(CLI_MEMORY_LIMIT)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=_TMP)

    def run(self, argv: list[str]) -> tuple[int, str]:
        assert self.proc.poll() is None, "the CLI child died (memory limit or a crash)"
        self.proc.stdin.write(json.dumps(argv) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], CLI_HANG_SECONDS)
        if not ready:
            self.close()
            pytest.fail(f"hang: no answer in {CLI_HANG_SECONDS} s to {argv}")
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            pytest.fail(f"the CLI child died (status {code}; memory limit "
                        f"{CLI_MEMORY_LIMIT >> 30} GB?) on {argv}")
        answer = json.loads(line)
        return answer["code"], answer["stderr"]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def cli_worker():
    worker = _CLIWorker()
    yield worker
    worker.close()


def _check_cli_answer(argv, code, stderr) -> None:
    """Exit 0, or 2 with one line ``hiddenstate: error: ...``: never a traceback, an
    internal error or memory exhaustion."""
    assert code in (0, 2), (argv, code, stderr)
    assert "Traceback" not in stderr, (argv, stderr)
    assert "internal error" not in stderr, (argv, stderr)
    assert "out of memory" not in stderr, (argv, stderr)
    if code == 2:
        errors = [ln for ln in stderr.splitlines() if ln.startswith("hiddenstate: error: ")]
        assert len(errors) == 1, (argv, stderr)


_OPTIONS = {
    "--n-components": ["1", "2", "0", "-3", "2,2", "x", "1,,1", "1000000000000", "3,100000000"],
    "--activation": ["tanh", "relu", "softmax", ""],
    "--loss": ["mse", "cross_entropy", "hinge"],
    "--output": ["sigmoid", "linear", "none"],
    "--optimizer": ["sgd", "adam", "momentum", "lbfgs"],
    "--learning-rate": ["0.1", "0", "-1", "1e6", "nan", "inf"],
    "--batch-size": ["1", "auto", "none", "0", "-2", "99999999999"],
    "--max-iter": ["1", "2", "0", "-1"],
    "--noise": ["masking", "gaussian", "none", "salt"],
    "--noise-level": ["0.5", "1", "2", "-0.1"],
    "--clip-norm": ["1", "none", "0"],
    "--random-state": ["0", "none", "-5", "99999999999"],
    "--checkpoint-every": ["1", "0"],
    "--validation-fraction": ["0.5", "1", "0"],
    "--chunk-rows": ["1", "7", "0", "-1"],
    "--process-id": ["0", "1", "5", "-1"],
    "--num-processes": ["1", "0", "-2", "100000000000", "nan"],
    "--distributed-timeout": ["1", "0", "-1", "nan", "-inf", "1e10"],
    "--coordinator": ["127.0.0.1:1", "x", "host:99999", ":5", ""],
    "--checkpoint-dir": ["CKPT", "MISSING/ck", "DATA"],
}
_FLAGS = ["--tied", "--no-tied", "--early-stopping", "--shuffle", "--no-shuffle", "--header",
          "--no-header", "--debug-not-an-option"]
_OUTS = ["model.safetensors", "missing/model.safetensors", "DATA", ".", "model.csv"]


@pytest.fixture(scope="module")
def cli_files():
    d = _TMP / "cli"
    d.mkdir(exist_ok=True)
    (d / "data.csv").write_text("a,b,c\n" + "\n".join(f"{i % 3},{i % 5 / 5},{i / 20}"
                                                        for i in range(20)))
    (d / "bad.csv").write_text("1,2\n3\n")
    (d / "typo.csv").write_text("1,2,x\n3,4,5\n")
    (d / "big.csv").write_text("1,1e39\n2,3\n")
    (d / "empty.csv").write_text("")
    (d / "bom.csv").write_bytes(b"\xef\xbb\xbfa,b\n1,2\n3,4\n")
    return d


def _path(cli_files: Path, name: str, data: str) -> str:
    if name == "DATA":
        return data
    if name == "CKPT":
        return str(cli_files / "ckpt")
    return str(cli_files / name)


@settings(max_examples=int(os.environ.get("HIDDENSTATE_CLI_FUZZ", "25")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    data=st.sampled_from(["data.csv", "bad.csv", "typo.csv", "big.csv", "empty.csv", "bom.csv",
                          "missing.csv", "donut"]),
    out=st.sampled_from(_OUTS),
    opts=st.dictionaries(st.sampled_from(sorted(_OPTIONS)), st.integers(0, 8), max_size=4),
    flags=st.lists(st.sampled_from(_FLAGS), max_size=2),
)
def test_fuzz_cli_fit(cli_worker, cli_files, data, out, opts, flags):
    data_arg = str(cli_files / data) if data != "donut" else data
    written = ("model.safetensors", "model.csv")
    for name in written:
        (cli_files / name).unlink(missing_ok=True)
    target = Path(_path(cli_files, out, data_arg))
    before = {p.name: p.stat().st_mtime_ns for p in cli_files.iterdir() if p.is_file()}
    argv = ["autoencoder", "fit", data_arg, "--out", str(target), "--max-iter", "2"]
    for name, i in opts.items():
        values = _OPTIONS[name]
        argv += [name, _path(cli_files, values[i % len(values)], data_arg)
                 if name == "--checkpoint-dir" else values[i % len(values)]]
    argv += flags
    code, stderr = cli_worker.run(argv)
    event(f"exit status {code}")
    _check_cli_answer(argv, code, stderr)
    if code == 0:
        assert target.name in written, argv
        assert hs.load(target).n_features_in_ in (2, 3, 4)
    elif target.name in written:
        assert not target.exists()
    # No input was overwritten, no folder created for a missing one, no temporary left.
    for p in cli_files.iterdir():
        if p.is_file() and p.name in before and p.name not in written:
            assert p.stat().st_mtime_ns == before[p.name], (argv, p)
    assert not (cli_files / "missing").exists()
    assert not [p for p in cli_files.iterdir() if p.name.endswith(".tmp")]


_TEXT_FILES = {
    "s.txt": "good film\nbad film\nfine film\ndull film\n",
    "blank.txt": "good film\n\nbad film\nfine\n",
    "bom.txt": "\ufeffgood film\nbad film\nfine film\ndull film\n",
    "sep.txt": "good\u2028film\nbad\x0cfilm\nfine\x1cfilm\ndull film\n",
    "y.txt": "1\n0\n1.0\n0.0\n",
    "ystr.txt": "pos\nneg\npos\nneg\n",
    "yblank.txt": "1\n\n0\n1\n",
    "yshort.txt": "1\n0\n",
    "long.txt": "w " * 60_000 + "\nb\nc\nd\n",
    "seq.txt": "BTSE\nBPVE\nBTXSE\n",
}


@pytest.fixture(scope="module")
def text_files():
    d = _TMP / "text"
    d.mkdir(exist_ok=True)
    for name, text in _TEXT_FILES.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


@settings(max_examples=int(os.environ.get("HIDDENSTATE_CLI_FUZZ", "25")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    command=st.sampled_from(["rae", "classify", "datasets"]),
    data=st.sampled_from(sorted(_TEXT_FILES) + ["missing.txt", "."]),
    labels=st.sampled_from(sorted(_TEXT_FILES) + ["missing.txt"]),
    out=st.sampled_from(["m.safetensors", "missing/m.safetensors", "y.txt", "s.txt"]),
    numbers=st.tuples(st.sampled_from(["-1", "0", "2", "30", "x"]),
                      st.sampled_from(["0", "10", "1000", "-3", "1000000000"])),
)
def test_fuzz_cli_text_commands(cli_worker, text_files, command, data, labels, out, numbers):
    """rae fit, classify fit (refused before training, or a 1-epoch fit) and datasets reber."""
    if command == "datasets":
        argv = ["datasets", "reber", "-n", numbers[0], "--min-length", numbers[1]]
    else:
        argv = [command, "fit", str(text_files / data), "--labels", str(text_files / labels),
                "--out", str(text_files / out), "--max-iter", "1"]
        argv += ["--n-components", "3"] if command == "rae" else ["--hidden-size", "3",
                                                                  "--embedding-dim", "3"]
    before = {name: (text_files / name).read_bytes() for name in _TEXT_FILES}
    code, stderr = cli_worker.run(argv)
    event(f"exit status {code}")
    _check_cli_answer(argv, code, stderr)
    if command != "datasets":
        assert out not in (data, labels) or code == 2  # an input is never the output
    kept = [name for name in _TEXT_FILES if code == 2 or command == "datasets" or name != out]
    assert {name: (text_files / name).read_bytes() for name in kept} == {
        name: before[name] for name in kept}
    assert not (text_files / "missing").exists()
    if code == 0 and command != "datasets" and labels == "y.txt":
        assert len(hs.load(text_files / out).classes_) == 2  # "1" and "1.0": one class
    if code == 0 and command != "datasets":  # the next example starts from the same files
        (text_files / out).unlink()
        if out in _TEXT_FILES:
            (text_files / out).write_text(_TEXT_FILES[out], encoding="utf-8")
