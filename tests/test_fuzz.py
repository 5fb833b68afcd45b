"""Fuzzing every file loader and the CLI's argument handling with hypothesis.

Every generated input must end in a correct result or a clean, deliberate
error (:class:`hiddenstate.InputError` / :class:`hiddenstate.ModelFileError`,
both ValueErrors), within the deadline: never another exception, a hang, or a
partially written output file.

Profiles: ``ci`` (the default, a few hundred inputs per loader, inside ``make
test``) and ``full`` (10,000 per loader): ``make fuzz`` or
``HYPOTHESIS_PROFILE=full pytest tests/test_fuzz.py``.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hiddenstate as hs
from hiddenstate import InputError, ModelFileError
from hiddenstate.datasets import read_idx, read_table

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
        return
    assert X.dtype == np.float32 and X.ndim == 2 and X.shape[0] >= 1 and X.shape[1] >= 1
    assert names is None or len(names) == X.shape[1]


@given(data=st.binary(max_size=300), ext=st.sampled_from([".csv", ".tsv", ".txt", ".npy"]))
def test_fuzz_table_bytes(data, ext):
    try:
        X, _ = read_table(_file("b" + ext, data))
    except CLEAN:
        return
    assert X.ndim == 2


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

_OPTIONS = {
    "--n-components": ["1", "2", "0", "-3", "2,2", "x", "1,,1"],
    "--activation": ["tanh", "relu", "softmax", ""],
    "--loss": ["mse", "cross_entropy", "hinge"],
    "--output": ["sigmoid", "linear", "none"],
    "--optimizer": ["sgd", "adam", "momentum", "lbfgs"],
    "--learning-rate": ["0.1", "0", "-1", "1e6", "nan", "inf"],
    "--batch-size": ["1", "auto", "none", "0", "-2"],
    "--max-iter": ["1", "2", "0", "-1"],
    "--noise": ["masking", "gaussian", "none", "salt"],
    "--noise-level": ["0.5", "1", "2", "-0.1"],
    "--clip-norm": ["1", "none", "0"],
    "--random-state": ["0", "none", "-5", "99999999999"],
    "--checkpoint-every": ["1", "0"],
    "--validation-fraction": ["0.5", "1", "0"],
}
_FLAGS = ["--tied", "--no-tied", "--early-stopping", "--shuffle", "--no-shuffle"]


@pytest.fixture(scope="module")
def cli_files():
    d = _TMP / "cli"
    d.mkdir(exist_ok=True)
    (d / "data.csv").write_text("a,b,c\n" + "\n".join(f"{i % 3},{i % 5 / 5},{i / 20}"
                                                        for i in range(20)))
    (d / "bad.csv").write_text("1,2\n3\n")
    (d / "empty.csv").write_text("")
    return d


@settings(max_examples=int(os.environ.get("HIDDENSTATE_CLI_FUZZ", "25")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    data=st.sampled_from(["data.csv", "bad.csv", "empty.csv", "missing.csv", "donut"]),
    opts=st.dictionaries(st.sampled_from(sorted(_OPTIONS)), st.integers(0, 6), max_size=4),
    flags=st.lists(st.sampled_from(_FLAGS), max_size=2),
)
def test_fuzz_cli_fit(cli_files, data, opts, flags):
    from hiddenstate.cli import main

    out = cli_files / "model.safetensors"
    if out.exists():
        out.unlink()
    argv = ["autoencoder", "fit", str(cli_files / data) if data != "donut" else data,
            "--out", str(out), "--max-iter", "2"]
    for name, i in opts.items():
        values = _OPTIONS[name]
        argv += [name, values[i % len(values)]]
    argv += flags
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        assert exc.code == 2
        code = 2
    assert code in (0, 2)
    if code == 0:
        assert hs.load(out).n_features_in_ in (3, 4)
    else:
        assert not out.exists()
    assert not [p for p in cli_files.iterdir() if p.name.endswith(".tmp")]
