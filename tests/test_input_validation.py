"""Every input validated where it enters (issue 15, item 6; items 3 and 5 for the CLI).

Each test is a finding of the adversarial probe, named in its docstring by the
issue's short name, and checks the behaviour a user sees: the exit status, the
one line on stderr naming the line, column or option, and the files left behind.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hiddenstate as hs
from hiddenstate import InputError
from hiddenstate._limits import (
    MAX_LINE_CHARS,
    MAX_SENTENCE_WORDS,
    check_float32,
    check_memory,
    format_bytes,
    training_bytes,
)
from hiddenstate.cli import main
from hiddenstate.datasets import (
    in_reber_grammar,
    load_rt_polarity,
    load_sequences,
    make_embedded_reber,
    make_reber,
    read_table,
)
from hiddenstate.datasets._lines import canonical_label, read_labels, read_lines, split_lines

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _cli(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("hiddenstate: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    assert lines[0].startswith("hiddenstate: error: "), lines[0]
    return lines[0]


@pytest.fixture
def table(tmp_path) -> Path:
    path = tmp_path / "d.csv"
    path.write_text("a,b,c\n" + "".join(f"{i % 3},{i % 5 / 5},{i / 20}\n" for i in range(20)))
    return path


# -- the CSV header rule -----------------------------------------------------------------------


def test_first_row_typo_is_an_error_not_a_dropped_header(tmp_path, capsys):
    """first-row typo header dropped"""
    path = tmp_path / "t.csv"
    path.write_text("1,2,x\n3,4,5\n6,7,8\n")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert (info.value.line, info.value.column) == (1, 3)
    assert "cannot read 'x' as a number" in str(info.value)
    code, _, err = _cli(["autoencoder", "fit", path, "--out", tmp_path / "m.safetensors",
                         "--max-iter", "1"], capsys)
    assert code == 2
    assert "line 1, column 3" in _one_error_line(err)
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize(("first", "column"), [("1,True", 2), ("1,0x10", 2), ("(1+2j),1", 1)])
def test_true_hex_and_complex_are_not_numbers_and_make_no_header(tmp_path, first, column):
    """True/0x10/(1+2j) header"""
    path = tmp_path / "t.csv"
    path.write_text(f"{first}\n3,4\n")
    with pytest.raises(InputError) as info:
        read_table(path)
    assert (info.value.line, info.value.column) == (1, column)


def test_a_header_is_a_row_without_numbers_and_the_option_overrides(tmp_path, capsys):
    path = tmp_path / "t.csv"
    path.write_text("True,0x10\n1,2\n3,4\n")
    X, names = read_table(path)
    assert names == ["True", "0x10"] and X.tolist() == [[1, 2], [3, 4]]
    path.write_text(",,\n1,2,3\n")  # blank cells only: no header, an error
    with pytest.raises(InputError, match="empty cell") as info:
        read_table(path)
    assert (info.value.line, info.value.column) == (1, 1)
    path.write_text("10,20\n1,2\n3,4\n")
    X, names = read_table(path, header=True)
    assert names == ["10", "20"] and X.shape == (2, 2)
    code, _, err = _cli(["autoencoder", "fit", path, "--out", tmp_path / "m.safetensors",
                         "--header", "--max-iter", "1", "--batch-size", "2"], capsys)
    assert code == 0, err
    assert hs.load(tmp_path / "m.safetensors").feature_names_in_.tolist() == ["10", "20"]
    path.write_text("a,b\n1,2\n")
    code, _, err = _cli(["autoencoder", "fit", path, "--out", tmp_path / "n.safetensors",
                         "--no-header", "--max-iter", "1"], capsys)
    assert code == 2 and "line 1, column 1: cannot read 'a'" in _one_error_line(err)
    code, _, err = _cli(["detect", "fit", path, "--out", tmp_path / "det.safetensors",
                         "--no-header"], capsys)
    assert code == 2 and "line 1, column 1: cannot read 'a'" in _one_error_line(err)


# -- text: BOM, line breaks, blank lines, labels ------------------------------------------------


def test_a_bom_is_never_a_class_word_or_symbol(tmp_path):
    """BOM class"""
    bom = "\ufeff"
    (tmp_path / "labels.txt").write_text(f"{bom}pos\nneg\n", encoding="utf-8")
    assert read_labels(tmp_path / "labels.txt") == ["pos", "neg"]
    (tmp_path / "s.txt").write_text(f"{bom}good film\n{bom}bad film\n", encoding="utf-8")
    assert read_lines(tmp_path / "s.txt", "sentence") == ["good film", "bad film"]
    (tmp_path / "seq.txt").write_text(f"{bom}BTSE\nBPVE\n", encoding="utf-8")
    seqs, alphabet = load_sequences(tmp_path / "seq.txt")
    assert seqs == ["BTSE", "BPVE"] and bom not in alphabet
    folder = tmp_path / "rt"
    folder.mkdir()
    (folder / "rt-polarity.pos").write_bytes(b"\xef\xbb\xbfa fine film\n")
    (folder / "rt-polarity.neg").write_bytes(b"a dull film\n")
    sentences, _ = load_rt_polarity(folder)
    assert sentences[0] == ["a", "fine", "film"]
    # Strings handed to the estimators, read without utf-8-sig.
    from hiddenstate.estimators._recursive import _as_sentences
    from hiddenstate.estimators._tokens import as_token_sequences

    assert as_token_sequences([f"{bom}good film"]) == [["good", "film"]]
    assert as_token_sequences([f"{bom}BT"], analyzer="char") == [["B", "T"]]
    assert _as_sentences([f"{bom}good film"]) == [["good", "film"]]


@pytest.mark.parametrize("sep", ["\u2028", "\u2029", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
                                 "\x0b"])
def test_only_newline_ends_a_line(tmp_path, sep):
    """U+2028 split"""
    assert split_lines(f"a{sep}b\r\nc\n") == [f"a{sep}b", "c"]
    (tmp_path / "s.txt").write_text(f"good{sep}film\nbad\n", encoding="utf-8")
    (tmp_path / "y.txt").write_text(f"1{sep}\n0\n", encoding="utf-8")
    assert len(read_lines(tmp_path / "s.txt")) == 2
    assert len(read_labels(tmp_path / "y.txt")) == 2
    (tmp_path / "seq.txt").write_text(f"AB{sep}C\nABC\n", encoding="utf-8")
    seqs, _ = load_sequences(tmp_path / "seq.txt")
    assert len(seqs) == 2 and sep in seqs[0]


def test_blank_lines_are_refused_alike_in_sentences_and_labels(tmp_path, capsys):
    """blank lines misalign"""
    (tmp_path / "s.txt").write_text("good film\n\nbad film\nfine\n")
    (tmp_path / "y.txt").write_text("1\n0\n1\n")
    code, _, err = _cli(["rae", "fit", tmp_path / "s.txt", "--labels", tmp_path / "y.txt",
                         "--out", tmp_path / "m.safetensors"], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert "s.txt, line 2: blank line" in line
    (tmp_path / "s.txt").write_text("good film\nbad film\nfine\n")
    (tmp_path / "y.txt").write_text("1\n\n0\n1\n")
    code, _, err = _cli(["rae", "fit", tmp_path / "s.txt", "--labels", tmp_path / "y.txt",
                         "--out", tmp_path / "m.safetensors"], capsys)
    assert code == 2 and "y.txt, line 2: blank line" in _one_error_line(err)
    # Trailing blank lines are no items, in both files alike.
    (tmp_path / "y.txt").write_text("1\n0\n1\n\n\n")
    assert read_labels(tmp_path / "y.txt") == ["1", "0", "1"]
    (tmp_path / "s.txt").write_text("good film\nbad film\nfine\n  \n")
    assert len(read_lines(tmp_path / "s.txt", "sentence")) == 3


def test_numeric_labels_are_one_class_by_value(tmp_path):
    """'1' vs '1.0'"""
    assert [canonical_label(s) for s in ["1", "1.0", "+1", "1e0", "01", "-0", "0.50", "pos",
                                         "True", "nan", "1,5"]] == [
        "1", "1", "1", "1", "1", "0", "0.5", "pos", "True", "nan", "1,5"]
    (tmp_path / "y.txt").write_text("1\n1.0\n0\n0.0\n")
    assert read_labels(tmp_path / "y.txt") == ["1", "1", "0", "0"]
    with pytest.raises(InputError, match="mixes strings and int"):
        hs.RecursiveAutoencoder(4, max_iter=1).fit(["a b", "c d"], [1, "1"])


def test_classify_reads_labels_by_value(tmp_path, capsys):
    (tmp_path / "s.txt").write_text("a b\nc d\na c\nb d\n")
    (tmp_path / "y.txt").write_text("1\n0.0\n1.0\n0\n")
    code, _, err = _cli(["classify", "fit", tmp_path / "s.txt", "--labels", tmp_path / "y.txt",
                         "--out", tmp_path / "m.safetensors", "--max-iter", "1",
                         "--hidden-size", "4", "--embedding-dim", "4"], capsys)
    assert code == 0, err
    assert [str(c) for c in hs.load(tmp_path / "m.safetensors").classes_] == ["0", "1"]


def test_alphabet_must_not_repeat_a_symbol(tmp_path):
    (tmp_path / "seq.txt").write_text("ABAB\n")
    with pytest.raises(InputError, match="repeats the symbol 'A'"):
        load_sequences(tmp_path / "seq.txt", alphabet="ABA")


def test_lines_longer_than_the_limit_are_refused_with_their_number(tmp_path):
    (tmp_path / "s.txt").write_text("a b\n" + "x" * (MAX_LINE_CHARS + 1) + "\n")
    with pytest.raises(InputError, match=f"at most {MAX_LINE_CHARS:,}") as info:
        read_lines(tmp_path / "s.txt")
    assert info.value.line == 2
    (tmp_path / "seq.txt").write_text("AB\n" + "A" * (MAX_LINE_CHARS + 1) + "\n")
    with pytest.raises(InputError, match=f"at most {MAX_LINE_CHARS:,}") as info:
        load_sequences(tmp_path / "seq.txt")
    assert info.value.line == 2


def test_one_megabyte_line_in_rae_fit_is_refused_at_once(tmp_path, capsys):
    """1 MB line rae fit"""
    (tmp_path / "s.txt").write_text("w " * 500_000 + "\nshort one\n")
    (tmp_path / "y.txt").write_text("1\n0\n")
    code, _, err = _cli(["rae", "fit", tmp_path / "s.txt", "--labels", tmp_path / "y.txt",
                         "--out", tmp_path / "m.safetensors"], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert "line 1" in line and f"{MAX_LINE_CHARS:,}" in line
    # Under the line limit, the sentence limit of the recursive autoencoder.
    (tmp_path / "s.txt").write_text("w " * (MAX_SENTENCE_WORDS + 1) + "\nshort one\n")
    code, _, err = _cli(["rae", "fit", tmp_path / "s.txt", "--labels", tmp_path / "y.txt",
                         "--out", tmp_path / "m.safetensors"], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert "line 1" in line and f"at most {MAX_SENTENCE_WORDS:,}" in line
    assert not (tmp_path / "m.safetensors").exists()
    with pytest.raises(InputError, match="MAX_SENTENCE_WORDS"):
        hs.RecursiveAutoencoder(4).fit([["w"] * (MAX_SENTENCE_WORDS + 1), ["a", "b"]], [0, 1])


# -- numbers: float32 --------------------------------------------------------------------------


def test_finite_float64_beyond_float32_is_refused(tmp_path):
    """1e39 float32 inf"""
    X = np.zeros((8, 2))
    X[3, 1] = 1e39
    with pytest.raises(InputError, match=r"1e\+39 at row 3, column 1, beyond float32"):
        hs.Autoencoder(1, max_iter=1).fit(X)
    est = hs.Autoencoder(1, max_iter=1, random_state=0).fit(np.zeros((8, 2)))
    with pytest.raises(InputError, match="beyond float32"):
        est.transform(X)
    with pytest.raises(InputError, match=r"codes holds 1e\+39 at row 0, column 0"):
        est.inverse_transform(np.array([[1e39]]))
    check_float32(np.array([[3.4028235e38]]))  # float32's max rounds to itself: accepted
    (tmp_path / "t.csv").write_text("1,2\n3,-1e39\n")
    with pytest.raises(InputError, match="float32") as info:
        read_table(tmp_path / "t.csv")
    assert (info.value.line, info.value.column) == (2, 2)


# -- generators --------------------------------------------------------------------------------


def test_reber_min_length_1000_answers(capsys):
    """reber --min-length 1000"""
    strings = make_reber(3, 0, min_length=1000)
    assert all(len(s) > 1000 and in_reber_grammar(s) for s in strings)
    embedded = make_embedded_reber(2, 0, min_length=300)
    assert all(len(s) > 304 for s in embedded)
    code, out, err = _cli(["datasets", "reber", "--min-length", "1000", "-n", "2"], capsys)
    assert code == 0, err
    assert [len(s) > 1000 for s in out.split()] == [True, True]
    code, _, err = _cli(["datasets", "reber", "--min-length", "1000000"], capsys)
    assert code == 2 and "--min-length must be in [0, 100000]" in _one_error_line(err)
    code, _, err = _cli(["datasets", "reber", "-n", "-1"], capsys)
    assert code == 2 and "-n must be at least 0" in _one_error_line(err)


@pytest.mark.slow  # a statistical comparison of 2 generators (17 s)
def test_long_reber_strings_follow_the_rejection_distribution():
    """The direct sampler draws what rejection would: same mean and spread of lengths."""
    from hiddenstate.datasets._reber import _one_long_reber, _one_reber

    rng = np.random.default_rng(1)
    direct = [len(_one_long_reber(rng, 22)) for _ in range(2000)]
    rejected: list[int] = []
    while len(rejected) < 2000:
        s = _one_reber(rng)
        if len(s) > 22:
            rejected.append(len(s))
    assert min(direct) == 23
    assert np.mean(direct) == pytest.approx(np.mean(rejected), abs=0.3)
    assert np.std(direct) == pytest.approx(np.std(rejected), rel=0.1)


def test_reber_defaults_draw_the_same_strings_as_before():
    """min_length=10 still rejects (the W3 recipe's strings are unchanged): chunks of one
    generator give the strings of one call."""
    rng = np.random.default_rng(0)
    assert make_reber(30, np.random.default_rng(0)) == make_reber(10, rng) + make_reber(20, rng)


# -- the CLI: options, sizes, outputs ----------------------------------------------------------


def test_process_id_without_num_processes_is_refused(table, tmp_path, capsys):
    """--process-id 5 alone"""
    code, _, err = _cli(["autoencoder", "fit", table, "--out", tmp_path / "m.safetensors",
                         "--process-id", "5"], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert "--process-id 5" in line and "--num-processes" in line
    code, _, err = _cli(["autoencoder", "fit", table, "--out", tmp_path / "m.safetensors",
                         "--coordinator", "127.0.0.1:1"], capsys)
    assert code == 2 and "--num-processes" in _one_error_line(err)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(("process", "words"), [
    (1, "process 1 waited 1 s for the coordinator"),  # nobody listens at the address
    (0, "process 0 hosts the coordinator at"),  # the other process never comes
])
def test_coordinator_that_never_answers_ends_with_a_message(table, tmp_path, process, words):
    """coordinator never answers"""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "-m", "hiddenstate", "autoencoder", "fit", str(table), "--out",
         str(tmp_path / "m.safetensors"), "--num-processes", "2", "--process-id", str(process),
         "--coordinator", f"127.0.0.1:{_free_port()}", "--distributed-timeout", "1"],
        capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    line = _one_error_line(proc.stderr)
    assert "did not finish" in line and words in line
    assert "Check failure" not in proc.stderr
    assert not (tmp_path / "m.safetensors").exists()


def test_sizes_beyond_the_machine_are_refused_with_an_estimate(table, tmp_path, capsys):
    """--n-components 1e12"""
    code, _, err = _cli(["autoencoder", "fit", table, "--out", tmp_path / "m.safetensors",
                         "--n-components", "1000000000000"], capsys)
    assert code == 2
    line = _one_error_line(err)
    assert "4,000,000,000,003 parameters" in line and "TB of memory" in line
    with pytest.raises(InputError, match="RecursiveAutoencoder"):
        hs.RecursiveAutoencoder(10**7).fit(["a b", "c d"], [0, 1])
    assert training_bytes(1000) == 24_000 and format_bytes(2.5e9) == "2.5 GB"
    check_memory(1000, "small", limit=10**6)
    with pytest.raises(InputError, match="1,000,000 parameters.*24 MB.*1 MB"):
        check_memory(10**6, "big", limit=10**6)


@pytest.mark.parametrize("flag", [["--checkpoint-dir", "CK"], ["--early-stopping"]])
def test_chunk_rows_refuses_what_it_cannot_do(table, tmp_path, capsys, flag):
    """--chunk-rows ignores checkpoints"""
    flag = [str(tmp_path / "ck") if f == "CK" else f for f in flag]
    code, _, err = _cli(["autoencoder", "fit", table, "--out", tmp_path / "m.safetensors",
                         "--chunk-rows", "4", *flag], capsys)
    assert code == 2
    assert f"--chunk-rows cannot be combined with {flag[0]}" in _one_error_line(err)
    assert not (tmp_path / "ck").exists() and not (tmp_path / "m.safetensors").exists()


def test_an_output_that_is_an_input_is_refused_before_training(table, tmp_path, capsys):
    """fit d.csv --out d.csv"""
    before = table.read_bytes()
    code, _, err = _cli(["autoencoder", "fit", table, "--out", table], capsys)
    assert code == 2 and "is also an input of this command" in _one_error_line(err)
    assert table.read_bytes() == before
    link = tmp_path / "link.csv"
    link.symlink_to(table)
    code, _, err = _cli(["autoencoder", "fit", table, "--out", link], capsys)
    assert code == 2 and table.read_bytes() == before
    (tmp_path / "s.txt").write_text("a b\nc d\n")
    (tmp_path / "y.txt").write_text("1\n0\n")
    labels = (tmp_path / "y.txt").read_bytes()
    code, _, err = _cli(["rae", "fit", tmp_path / "s.txt", "--labels", tmp_path / "y.txt",
                         "--out", tmp_path / "y.txt"], capsys)
    assert code == 2 and "--out" in _one_error_line(err)
    assert (tmp_path / "y.txt").read_bytes() == labels
    code, _, err = _cli(["classify", "fit", tmp_path / "s.txt", "--labels", tmp_path / "y.txt",
                         "--out", tmp_path / "s.txt"], capsys)
    assert code == 2 and "is also an input" in _one_error_line(err)


def test_an_output_into_a_missing_folder_is_an_error(table, tmp_path, capsys):
    """--out missing folder"""
    code, _, err = _cli(["autoencoder", "fit", table, "--out",
                         tmp_path / "nope" / "m.safetensors"], capsys)
    assert code == 2
    assert "the folder" in _one_error_line(err) and "does not exist" in err
    assert not (tmp_path / "nope").exists()
    code, _, err = _cli(["autoencoder", "fit", table, "--out", tmp_path], capsys)
    assert code == 2 and "not a regular file" in _one_error_line(err)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_output_folder_is_refused_before_training(table, tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, err = _cli(["autoencoder", "fit", table, "--out", folder / "m.safetensors"],
                            capsys)
    finally:
        folder.chmod(0o755)
    assert code == 2 and "is not writable" in _one_error_line(err)


@pytest.mark.parametrize(("exc", "words"), [
    (MemoryError(), "out of memory"),
    (OverflowError("int too large to convert"), "int too large"),
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
    (FileNotFoundError(2, "No such file or directory", "x.csv"), "x.csv: No such file"),
    (InputError("bad", path="p.txt", line=3), "p.txt, line 3: bad"),
])
def test_every_user_error_is_one_line_and_status_2(monkeypatch, capsys, exc, words):
    """only three exception types"""
    from hiddenstate.cli import datasets as group

    def boom(args):
        raise exc

    monkeypatch.setattr(group, "reber", boom)
    code, _, err = _cli(["datasets", "reber"], capsys)
    assert code == 2 and words in _one_error_line(err)
    code, _, err = _cli(["datasets", "reber", "--debug"], capsys)
    assert code == 2 and "Traceback (most recent call last)" in err and words in err


def test_a_bug_is_one_line_status_1_and_debug_shows_the_traceback(monkeypatch, capsys):
    from hiddenstate.cli import datasets as group

    def boom(args):
        raise KeyError("oops")

    monkeypatch.setattr(group, "reber", boom)
    code, _, err = _cli(["datasets", "reber"], capsys)
    assert code == 1 and "Traceback" not in err
    assert err.strip().startswith("hiddenstate: internal error: KeyError")
    code, _, err = _cli(["--debug", "datasets", "reber"], capsys)
    assert code == 1 and "Traceback (most recent call last)" in err
