"""Text and symbol-stream data: load_rt_polarity, permutation streams."""

from __future__ import annotations

import numpy as np
import pytest

from hiddenstate import InputError
from hiddenstate.datasets import load_rt_polarity, make_permutation_streams


def _write(folder, pos: bytes, neg: bytes):
    folder.mkdir(exist_ok=True)
    (folder / "rt-polarity.pos").write_bytes(pos)
    (folder / "rt-polarity.neg").write_bytes(neg)
    return folder


def test_load_small_files_latin1(tmp_path):
    # 0x85 and 0xe9 are latin-1 characters, not line or word breaks.
    folder = _write(tmp_path / "rt", b"a good film .\nan a\x85b caf\xe9 treat\n", b"dull .\n")
    sentences, labels = load_rt_polarity(folder)
    assert sentences == [
        ["a", "good", "film", "."],
        ["an", "a\x85b", "caf\xe9", "treat"],
        ["dull", "."],
    ]
    assert labels.tolist() == [1, 1, 0]


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(InputError, match="not a folder"):
        load_rt_polarity(tmp_path / "nope")
    (tmp_path / "rt").mkdir()
    (tmp_path / "rt" / "rt-polarity.pos").write_bytes(b"good .\n")
    with pytest.raises(InputError, match="rt-polarity.neg.*not found"):
        load_rt_polarity(tmp_path / "rt")


def test_empty_file_and_blank_line(tmp_path):
    with pytest.raises(InputError, match="rt-polarity.neg.*empty"):
        load_rt_polarity(_write(tmp_path / "a", b"good .\n", b""))
    with pytest.raises(InputError, match=r"rt-polarity.pos, line 2: empty sentence"):
        load_rt_polarity(_write(tmp_path / "b", b"good .\n  \nfine\n", b"bad .\n"))


def test_the_real_data(shared_data):
    sentences, labels = load_rt_polarity(shared_data / "rt-polarity")
    assert len(sentences) == 10662
    assert labels.sum() == 5331
    assert max(len(s) for s in sentences) == 59
    assert all(sentences)


def test_permutation_streams_are_seeded_permutations():
    a = make_permutation_streams(5, 8, rng=1)
    b = make_permutation_streams(5, 8, rng=np.random.default_rng(1))
    assert (a == b).all()
    assert (np.sort(a, axis=1) == np.arange(8)).all()
    with pytest.raises(ValueError):
        make_permutation_streams(3, 0)
