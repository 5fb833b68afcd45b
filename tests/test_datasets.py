"""Tests for hiddenstate.datasets: generators, IDX/MNIST, tables."""

from __future__ import annotations

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from hiddenstate._errors import InputError
from hiddenstate.datasets import (
    iter_table_chunks,
    load_digits,
    load_mnist,
    load_sequences,
    make_donut,
    read_idx,
    read_table,
    write_table,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
MNIST_IMAGES_MD5 = "2646ac647ad5339dbf082846283269ea"


# ----------------------------------------------------------------------------- donut


def _donut_by_hand(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    noise_r = rng.normal(0, 1, n)
    a = rng.uniform(0, 2 * np.pi, n)
    e3 = rng.normal(0, 0.5, n)
    e4 = rng.normal(0, 0.5, n)
    r = np.r_[np.full(n // 2, 5.0), np.full(n - n // 2, 10.0)] + noise_r
    x1, x2 = r * np.cos(a), r * np.sin(a)
    X = np.c_[x1, x2, 2 * x1 + e3, -0.5 * x2 + e4]
    X = (X - X.min(0)) / (X.max(0) - X.min(0))
    return X.astype(np.float32), np.r_[np.zeros(n // 2), np.ones(n - n // 2)].astype(int)


def test_donut_is_recipe_w1():
    X, y = make_donut()
    X_ref, y_ref = _donut_by_hand(1000, 147)
    assert X.shape == (1000, 4) and X.dtype == np.float32
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(X.min(0), 0.0)
    np.testing.assert_array_equal(X.max(0), 1.0)
    assert (y[:500] == 0).all() and (y[500:] == 1).all()


def test_donut_rng_forms_and_odd_n():
    X_int, y_int = make_donut(7, rng=3)
    X_gen, _ = make_donut(7, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(X_int, X_gen)
    np.testing.assert_array_equal(X_int, _donut_by_hand(7, 3)[0])
    assert list(y_int) == [0, 0, 0, 1, 1, 1, 1]
    raw, _ = make_donut(200, scale=False)
    assert raw.min() < -5 and raw.max() > 5
    with pytest.raises(TypeError):
        make_donut(10, rng=np.random.RandomState(0))
    with pytest.raises(ValueError):
        make_donut(0)


def test_digits():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.shape == (1797,) and set(np.unique(y)) == set(range(10))


# ----------------------------------------------------------------------------- IDX / MNIST


def _idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize(
    ("dtype", "code"),
    [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B), (np.int32, 0x0C),
     (np.float32, 0x0D), (np.float64, 0x0E)],
)  # fmt: skip
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, code, compress):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    data = _idx_bytes(array, code)
    # No .gz suffix even when compressed: gzip is told by its magic bytes.
    path = tmp_path / "data-idx3"
    path.write_bytes(gzip.compress(data) if compress else data)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    assert out.flags.writeable
    np.testing.assert_array_equal(out, array)


def test_read_idx_truncated(tmp_path):
    data = _idx_bytes(np.zeros((4, 3), np.uint8), 0x08)
    path = tmp_path / "short.idx"
    path.write_bytes(data[:-2])
    with pytest.raises(InputError, match=r"truncated.*expected 24 bytes, found 22") as info:
        read_idx(path)
    assert str(path) in str(info.value)
    path.write_bytes(data + b"\0")
    with pytest.raises(InputError, match="trailing bytes"):
        read_idx(path)
    path.write_bytes(gzip.compress(data)[:-5])
    with pytest.raises(InputError, match="gzip"):
        read_idx(path)


def test_read_idx_bad_magic_and_missing(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(b"\x01\x00\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(InputError, match="magic"):
        read_idx(path)
    path.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")
    with pytest.raises(InputError, match="unknown type byte 0x07"):
        read_idx(path)
    path.write_bytes(b"\x00\x00")
    with pytest.raises(InputError, match="not an IDX file"):
        read_idx(path)
    with pytest.raises(InputError, match="no such file"):
        read_idx(tmp_path / "absent")


def _write_mnist(directory: Path, kind: str, n_images: int, n_labels: int, gz: bool) -> None:
    images = np.arange(n_images * 28 * 28, dtype=np.int64).reshape(n_images, 28, 28) % 256
    labels = np.arange(n_labels) % 10
    for name, array in [
        (f"{kind}-images-idx3-ubyte", images),
        (f"{kind}-labels-idx1-ubyte", labels),
    ]:
        data = _idx_bytes(array.astype(np.uint8), 0x08)
        (directory / (name + ".gz" if gz else name)).write_bytes(
            gzip.compress(data) if gz else data
        )


def test_load_mnist_synthetic(tmp_path):
    _write_mnist(tmp_path, "train", 3, 3, gz=False)
    X, y = load_mnist(tmp_path, "train")
    assert X.shape == (3, 784) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert y.dtype == np.int64 and list(y) == [0, 1, 2]
    raw, _ = load_mnist(tmp_path, "train", flatten=False, scale=False)
    assert raw.shape == (3, 28, 28) and raw.dtype == np.uint8
    np.testing.assert_array_equal(X, raw.reshape(3, -1) / np.float32(255))
    # An images file alone: labels beside it are optional.
    X_file, y_file = load_mnist(tmp_path / "train-images-idx3-ubyte")
    np.testing.assert_array_equal(X_file, X)
    np.testing.assert_array_equal(y_file, y)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    assert load_mnist(tmp_path / "train-images-idx3-ubyte")[1] is None
    with pytest.raises(InputError, match="train-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path, "train")
    with pytest.raises(InputError, match="t10k-images-idx3-ubyte"):
        load_mnist(tmp_path, "test")
    with pytest.raises(InputError, match="unknown MNIST kind"):
        load_mnist(tmp_path, "validation")
    with pytest.raises(InputError, match="no such file"):
        load_mnist(tmp_path / "nowhere")


def test_load_mnist_count_mismatch(tmp_path):
    _write_mnist(tmp_path, "t10k", 3, 2, gz=True)
    with pytest.raises(InputError, match="2 labels for 3 images"):
        load_mnist(tmp_path)


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="../shared/data/mnist is absent")
def test_load_mnist_real():
    raw = gzip.decompress((MNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert hashlib.md5(raw).hexdigest() == MNIST_IMAGES_MD5
    X, y = load_mnist(MNIST_DIR, "test")
    assert X.shape == (10000, 784) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.shape == (10000,) and y.min() == 0 and y.max() == 9
    images = load_mnist(MNIST_DIR, flatten=False, scale=False)[0]
    assert images.tobytes() == raw[16:]


# ----------------------------------------------------------------------------- tables


def test_csv_with_and_without_header(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a, b ,c\n1,2,3\n\n4.5,-1e3,nan\n", encoding="utf-8")
    X, names = read_table(path)
    assert names == ["a", "b", "c"] and X.dtype == np.float32
    np.testing.assert_array_equal(X, [[1, 2, 3], [4.5, -1000, np.nan]])
    path.write_text("1,2\n3,4\n", encoding="utf-8")
    X, names = read_table(path)
    assert names is None
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    X, names = read_table(path, header=True)
    assert names == ["1", "2"]
    np.testing.assert_array_equal(X, [[3, 4]])


def test_tsv_and_txt_delimiters(tmp_path):
    (tmp_path / "t.tsv").write_text("x\ty\n1\t2\n", encoding="utf-8")
    X, names = read_table(tmp_path / "t.tsv")
    assert names == ["x", "y"] and X.tolist() == [[1, 2]]
    (tmp_path / "w.txt").write_text("1 2  3\n4\t5 6\n", encoding="utf-8")
    assert read_table(tmp_path / "w.txt")[0].tolist() == [[1, 2, 3], [4, 5, 6]]
    (tmp_path / "c.txt").write_text("\ufeff1,2\n3,4\n", encoding="utf-8")
    assert read_table(tmp_path / "c.txt")[0].tolist() == [[1, 2], [3, 4]]


def test_csv_bad_cell_names_line_and_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n\n4,abc,6\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read 'abc' as a number") as info:
        read_table(path)
    err = info.value
    assert (err.line, err.column) == (4, 2)
    assert str(path) in str(err) and "line 4" in str(err) and "column 2" in str(err)
    path.write_text("1,2\n3,\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty cell") as info:
        read_table(path)
    assert (info.value.line, info.value.column) == (2, 2)
    path.write_text("1,2\n3,1e39\n", encoding="utf-8")
    with pytest.raises(InputError, match="float32 range") as info:
        read_table(path)
    assert (info.value.line, info.value.column) == (2, 2)


def test_csv_ragged_rows(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c,d\n1,2,3,4\n5,6,7\n", encoding="utf-8")
    with pytest.raises(InputError, match="expected 4 columns.*found 3") as info:
        read_table(path)
    assert info.value.line == 3


def test_empty_tables(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(InputError, match="no data rows"):
        read_table(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="no data rows"):
        read_table(header_only)
    with pytest.raises(InputError, match="no data rows"):
        list(iter_table_chunks(empty))
    np.save(tmp_path / "empty.npy", np.zeros((0, 3), np.float32))
    with pytest.raises(InputError, match="no data rows"):
        read_table(tmp_path / "empty.npy")


def test_npy_round_trip_and_checks(tmp_path):
    A = np.random.default_rng(0).normal(size=(50, 3))
    write_table(tmp_path / "a.npy", A)
    X, names = read_table(tmp_path / "a.npy")
    assert names is None and X.dtype == np.float32 and type(X) is np.ndarray
    np.testing.assert_array_equal(X, A.astype(np.float32))
    np.save(tmp_path / "ints.npy", np.arange(6, dtype=np.int16).reshape(2, 3))
    assert read_table(tmp_path / "ints.npy")[0].tolist() == [[0, 1, 2], [3, 4, 5]]
    np.save(tmp_path / "one.npy", np.arange(4.0))
    with pytest.raises(InputError, match="2-D"):
        read_table(tmp_path / "one.npy")
    np.save(tmp_path / "str.npy", np.array([["a"]]))
    with pytest.raises(InputError, match="numeric"):
        read_table(tmp_path / "str.npy")
    (tmp_path / "fake.npy").write_bytes(b"1,2,3\n")
    with pytest.raises(InputError, match="not a .npy file"):
        read_table(tmp_path / "fake.npy")
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(data[:-8])
    with pytest.raises(InputError, match="truncated"):
        read_table(tmp_path / "short.npy")


def test_iter_table_chunks(tmp_path):
    A = np.arange(70, dtype=np.float32).reshape(35, 2)
    write_table(tmp_path / "a.npy", A)
    write_table(tmp_path / "a.csv", A, column_names=["p", "q"])
    for name in ("a.npy", "a.csv"):
        chunks = list(iter_table_chunks(tmp_path / name, chunk_rows=10))
        assert [c.shape[0] for c in chunks] == [10, 10, 10, 5]
        assert all(c.dtype == np.float32 for c in chunks)
        np.testing.assert_array_equal(np.concatenate(chunks), A)


def test_write_table_formats_and_atomicity(tmp_path):
    A = np.random.default_rng(1).normal(size=(20, 3)).astype(np.float32)
    A[0, 0] = np.nan
    names = ["x", "y,z", "w"]
    for ext, delimiter in [(".csv", ","), (".tsv", "\t"), (".txt", "\t")]:
        path = tmp_path / f"out{ext}"
        write_table(path, A, column_names=names)
        first, second = path.read_text(encoding="utf-8").splitlines()[:2]
        assert second.count(delimiter) == 2
        X, got_names = read_table(path)
        assert got_names == names
        np.testing.assert_array_equal(X, A)  # exact: %.9g round-trips float32
    write_table(tmp_path / "out.npy", A)
    assert (tmp_path / "out.npy").read_bytes()[:6] == b"\x93NUMPY"
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), A)
    write_table(tmp_path / "ints.csv", np.arange(4).reshape(2, 2))
    assert (tmp_path / "ints.csv").read_text() == "0,1\n2,3\n"
    # Overwrite in place; no temporary files left behind.
    write_table(tmp_path / "out.csv", A[:2], column_names=names)
    assert read_table(tmp_path / "out.csv")[0].shape == (2, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["out.csv", "out.tsv", "out.txt", "out.npy", "ints.csv"]
    )
    with pytest.raises(InputError, match="2 column names for 3 columns"):
        write_table(tmp_path / "bad.csv", A, column_names=["a", "b"])
    with pytest.raises(InputError, match="2-D"):
        write_table(tmp_path / "bad.csv", A[0])
    assert not (tmp_path / "bad.csv").exists()


def test_unknown_extension(tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"\.csv, \.tsv, \.txt, \.npy"):
        read_table(path)
    with pytest.raises(InputError, match="supported"):
        write_table(tmp_path / "out.parquet", np.zeros((2, 2)))
    with pytest.raises(InputError, match="no extension"):
        list(iter_table_chunks(tmp_path / "noext"))
    assert not (tmp_path / "out.parquet").exists()


def test_missing_table(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "absent.npy")


def test_load_sequences_encoding(tmp_path):
    path = tmp_path / "l1.txt"
    path.write_bytes("ab\u00e9\n\nba\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"l1.txt, line 1: not UTF-8 text \(byte 0xe9\)"):
        load_sequences(path)
    assert load_sequences(path, encoding="latin-1") == (["ab\u00e9", "ba"], "ab\u00e9")
    with pytest.raises(InputError, match="unknown encoding 'klingon'"):
        load_sequences(path, encoding="klingon")
