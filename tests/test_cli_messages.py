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


def test_rnn_fit_verbose_prints_the_settings(tmp_path, capsys):
    """README: "A fit prints one summary line; `--verbose` adds the settings"; rnn fit did
    not."""
    import json

    data = tmp_path / "s.txt"
    data.write_text("BTXSE\nBPVVE\nBTSSXSE\n")
    base = ["rnn", "fit", str(data), "--out", str(tmp_path / "m.safetensors"), "--max-iter",
            "1", "--hidden-size", "3", "--batch-size", "2"]
    assert main([*base, "--verbose", "true"]) == 0
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if x.startswith("SequenceModel on "))
    assert f"SequenceModel on {data} (3 sequences): " in line
    settings = json.loads(line.split(": ", 1)[1])
    assert settings["max_iter"] == 1 and settings["hidden_size"] == 3
    assert settings["batch_size"] == 2 and settings["verbose"] is True
    assert main(base) == 0
    assert "SequenceModel on" not in capsys.readouterr().err  # only with --verbose
    assert main(["rnn", "fit", "--help"]) == 0
    assert "and print the settings" in capsys.readouterr().out
