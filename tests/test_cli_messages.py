"""Messages a new user meets (issue 25, "Messages"): each names the real cause."""

from __future__ import annotations

import pytest

from hiddenstate.cli import main


@pytest.mark.parametrize("argv", [
    ["autoencoder", "fit", "", "--out", "m"],
    ["detect", "fit", "", "--out", "m"],
    ["rnn", "fit", "", "--out", "m"],
    ["autoencoder", "score", "m", ""],
])
def test_an_empty_input_path_is_named_as_such(argv, tmp_path, monkeypatch, capsys):
    """`autoencoder fit '' --out m` said --out is an input: '' is the current folder, m in it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").write_bytes(b"")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == "hiddenstate: error: an input is an empty path (''): give a file name\n"
    assert (tmp_path / "m").read_bytes() == b""


def test_an_empty_data_path_read_directly(capsys):
    from hiddenstate._errors import InputError
    from hiddenstate.cli._common import read_data

    with pytest.raises(InputError, match=r"DATA is an empty path \(''\)"):
        read_data("")
