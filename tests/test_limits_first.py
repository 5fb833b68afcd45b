"""Issue 25, "limits checked before the work": what a limit can refuse is refused before
the work (reading a whole file, training, allocating an output), with a message that
names the real cause. Each test names the finding of the issue it covers."""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from hiddenstate import Autoencoder
from hiddenstate.cli import main
from hiddenstate.datasets import make_donut

from .test_file_safety import probe_refusals

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _sparse(path: Path, head: bytes, size: int) -> Path:
    path.write_bytes(head)
    os.truncate(path, size)  # sparse: no disk used
    return path


def test_a_length_field_over_the_limit_is_refused_before_the_file_is_read(models, tmp_path):
    """Finding "bounded reading has a hole": 8 GiB files whose 8-byte length field is
    over MAX_HEADER_BYTES (a .npy file given as the model; a length of 20 MiB) are
    refused after reading 8 bytes: each in well under a second, the process growing by
    < 100 MB (it read them whole before: 3 GiB took 20 s and 3.4 GB)."""
    npy = tmp_path / "swapped.npy"
    np.save(npy, np.zeros((4, 3), np.float32))
    cases = {
        _sparse(tmp_path / "data.npy", npy.read_bytes()[:128], 8 * 2**30):
            r"not a hiddenstate model file, or corrupted \(its header would be \d+ bytes, "
            r"over the limit of 16777216",
        _sparse(tmp_path / "long.hs", struct.pack("<Q", 20 * 2**20), 8 * 2**30):
            r"its header would be 20971520 bytes, over the limit of 16777216",
        _sparse(tmp_path / "short.hs", struct.pack("<Q", 2**20), 2**19):
            r"or truncated \(header says 1048576 bytes, the file has 524280 after",
    }
    out = probe_refusals(models["ae"], cases)
    assert all(out[str(path)]["seconds"] < 1.0 for path in cases), out
    assert out["grown_mib"] < 100, out


def test_swapped_arguments_say_the_data_is_not_a_model_file(models, tmp_path, capsys):
    """Finding "score data.npy model": the data file in the model's place is refused at
    once, in one line that says it is not a model file."""
    data = tmp_path / "data.npy"
    np.save(data, make_donut(20)[0])
    assert main(["autoencoder", "score", str(data), str(models["ae"])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{data}: not a hiddenstate model file" in err[0], err


# -- lines bounded while they are read ------------------------------------------------------------


def _bytes_read() -> int:
    """Bytes this process has read through read(2) so far (Linux)."""
    with open("/proc/self/io", encoding="ascii") as handle:
        return int(next(ln for ln in handle if ln.startswith("rchar:")).split()[1])


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Tiny models of each command that reads lines: a classifier, a symbol and a series
    rnn, an autoencoder reading a table as it is and one choosing its columns."""
    tmp = tmp_path_factory.mktemp("models")
    (tmp / "s.txt").write_text("a good film\na bad plot\ngood fun\ndull and bad\n")
    (tmp / "y.txt").write_text("pos\nneg\npos\nneg\n")
    (tmp / "abc.txt").write_text("abcabc\nbcabca\ncab\n")
    (tmp / "series.csv").write_text("value\n" + "\n".join(f"{np.sin(t / 3):.4f}"
                                                          for t in range(40)) + "\n")
    X, _ = make_donut(60)
    (tmp / "t.csv").write_text("a,b,c,d\n" + "\n".join(",".join(map(str, r)) for r in X))
    tiny = ["--hidden-size", "4", "--max-iter", "1", "--random-state", "0"]
    fits = {
        "clf": ["classify", "fit", tmp / "s.txt", "--labels", tmp / "y.txt", *tiny,
                "--embedding-dim", "4"],
        "rnn": ["rnn", "fit", tmp / "abc.txt", *tiny],
        "series": ["rnn", "fit", tmp / "series.csv", "--window", "10", *tiny],
        "ae": ["autoencoder", "fit", tmp / "t.csv", "--max-iter", "2"],
        "ae-columns": ["autoencoder", "fit", tmp / "t.csv", "--columns", "a,b,c",
                       "--max-iter", "1"],
    }
    for name, argv in fits.items():
        assert main([*map(str, argv), "--out", str(tmp / name)]) == 0, name
    return {name: tmp / name for name in fits}


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="counts reads in /proc")
@pytest.mark.parametrize("command, model, suffix, limit", [
    ("classify predict --file", "clf", ".txt", "100,000"),
    ("rnn score", "rnn", ".txt", "100,000"),
    ("rnn score", "series", ".csv", "10,000,000"),
    ("autoencoder score", "ae", ".csv", "10,000,000"),
    ("autoencoder score", "ae-columns", ".csv", "10,000,000"),
])
def test_a_one_line_file_of_3_gib_is_refused_once_the_line_passes_the_limit(
        models, tmp_path, capsys, command, model, suffix, limit):
    """Finding "a 3 GB one-line data file for classify predict, rnn score or autoencoder
    score exhausts memory": the line is refused, naming line 1 and the limit, after
    reading at most 64 MiB of the (sparse) 3 GiB file."""
    data = _sparse(tmp_path / f"one-line{suffix}", b"a", 3 * 2**30)
    words = command.split()
    argv = [*words[:2], str(models[model]), *words[2:], str(data)]
    before = _bytes_read()
    assert main(argv) == 2
    read = _bytes_read() - before
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{data}, line 1: a line of over {limit} characters" in err[0], err
    assert read < 64 * 2**20, read


class _EndlessStdin:
    """Standard input that never ends and holds no newline; counts what is read."""

    def __init__(self):
        self.read_bytes = 0
        self.buffer = self

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            raise MemoryError("read the whole of an endless stream")
        self.read_bytes += n
        return b"x" * n


def test_endless_stdin_is_refused_once_the_line_passes_the_limit(models, capsys, monkeypatch):
    """Finding "classify predict - on endless stdin exhausts memory": refused after a
    few MiB, naming <stdin>, line 1 and the limit."""
    stdin = _EndlessStdin()
    monkeypatch.setattr("sys.stdin", stdin)
    assert main(["classify", "predict", str(models["clf"]), "-"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "<stdin>, line 1: a line of over 100,000 characters" in err[0]
    assert 100_000 < stdin.read_bytes <= 4 * 2**20, stdin.read_bytes


# -- outputs sized against memory ------------------------------------------------------------------


def test_forecast_and_sample_are_sized_against_memory(models, tmp_path, capsys, monkeypatch):
    """Finding "rnn forecast --steps 100000000 passes the 1e8 limit, then XLA fails to
    allocate 3.2 GB": the output's bytes (the result, one compiled call's output on
    the device and its copy) are checked against the machine's memory, refused in one
    line before anything is compiled; on a machine of 2 GB, 1e8 steps of one series
    need 6.8 GB (4 bytes x 1e8 x (1 + 2 x 8 padded rows))."""
    import hiddenstate as hs
    from hiddenstate.estimators import _sequence

    def no_work(*args, **kwargs):
        raise AssertionError("the work started")

    monkeypatch.setattr("hiddenstate._limits.available_memory", lambda: 2 * 10**9)
    monkeypatch.setattr(_sequence, "_forecast", no_work)
    data = tmp_path / "x.csv"
    data.write_text("value\n" + "\n".join(f"{np.sin(t / 3):.4f}" for t in range(12)) + "\n")
    assert main(["rnn", "forecast", str(models["series"]), str(data),
                 "--steps", "100000000"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["hiddenstate: error: forecasting 1 sequence 100,000,000 steps ahead (1 value "
                   "a step) needs about 6.8 GB of memory, more than the 2 GB this machine "
                   "allows; forecast fewer steps, or fewer sequences at a time"], err
    series = hs.load(models["series"])
    x = np.sin(np.arange(12) / 3).astype(np.float32)[:, None]
    monkeypatch.setattr("hiddenstate._limits.available_memory", lambda: 50 * 10**6)
    with pytest.raises(hs.InputError, match=r"^forecasting 3 sequences 1,000,000 steps ahead "
                       r"\(1 value a step\) needs about 76 MB of memory, more than the 50 MB"):
        series.forecast([x, x, x], 10**6)  # 4 x 1e6 x (3 + 2 x 8 rows) bytes


def test_sample_is_sized_against_memory(models, monkeypatch):
    """The same for ``sample``: 1,000 strings of 100,000 symbols (1e8 symbols, within the
    fixed per-call count) need about 1.2 GB, refused on a machine of 1 GB before any
    drawing."""
    import hiddenstate as hs

    rnn = hs.load(models["rnn"])
    monkeypatch.setattr("hiddenstate._limits.available_memory", lambda: 10**9)
    monkeypatch.setattr("jax.random.split", lambda *a, **k: pytest.fail("the work started"))
    with pytest.raises(hs.InputError) as info:
        rnn.sample(1000, max_length=100_000)
    assert str(info.value) == ("drawing 1,000 strings of up to 100,000 symbols needs about 1.2 GB "
                               "of memory, more than the 1 GB this machine allows; draw fewer "
                               "or shorter strings per call")


# -- a model file's size known before training -----------------------------------------------------


def _no_training(monkeypatch):
    monkeypatch.setattr("hiddenstate.train.fit",
                        lambda *a, **k: pytest.fail("training started"))


def test_a_loss_curve_too_long_to_save_is_refused_before_training(models, tmp_path, capsys,
                                                                   monkeypatch):
    """Finding "autoencoder fit --max-iter 850000 trains, then is refused at save as
    '<memory>: not a hiddenstate model file, or corrupted'": the command line refuses it
    before training, with the numbers; Python users are warned before training (they
    may never save)."""
    from hiddenstate._errors import ModelSizeWarning

    _no_training(monkeypatch)
    out = tmp_path / "m.hs"
    data = models["ae"].parent / "t.csv"
    assert main(["autoencoder", "fit", str(data), "--max-iter", "850000", "--out",
                 str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and not out.exists(), err
    assert err[0].startswith("hiddenstate: error: the model file's header would need about "
                             "22.1 MB, over its limit of 16.8 MB (MAX_HEADER_BYTES): a loss "
                             "curve of up to 850,000 values (max_iter) takes up to 22.1 MB; "
                             "the settings take "), err
    assert re.search(r"; choose max_iter <= 64\d,\d{3}; it could not be saved$", err[0]), err
    assert "<memory>" not in err[0] and "corrupted" not in err[0]
    X, _ = make_donut(50)
    with pytest.warns(ModelSizeWarning, match="850,000 values"), pytest.raises(
            pytest.fail.Exception, match="training started"):
        Autoencoder(2, max_iter=850_000).fit(X)


def test_a_vocabulary_too_large_to_save_is_refused_before_training(tmp_path, capsys,
                                                                    monkeypatch):
    """Finding "classify fit with 1.2 million distinct tokens trains 12 s, then is
    refused at save": with the header limit lowered to 40 KB, 5,000 distinct tokens are
    refused before training, naming the vocabulary's size."""
    monkeypatch.setattr("hiddenstate._serialize.MAX_HEADER_BYTES", 40_000)
    _no_training(monkeypatch)
    (tmp_path / "s.txt").write_text("\n".join(f"w{i} x{i} y{i} z{i} v{i}" for i in range(1000)))
    (tmp_path / "y.txt").write_text("\n".join("ab"[i % 2] for i in range(1000)))
    out = tmp_path / "clf.hs"
    assert main(["classify", "fit", str(tmp_path / "s.txt"), "--labels",
                 str(tmp_path / "y.txt"), "--max-iter", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and not out.exists(), err
    assert re.search(r"the settings and a vocabulary of 5,00\d tokens take [\d.]+ KB; keep "
                     r"fewer tokens \(min_count, max_features\); it could not be saved$",
                     err[0]), err


def test_checkpoints_too_large_are_refused_before_training(tmp_path, monkeypatch):
    """Finding "with checkpoints the run dies at a checkpoint write and can never
    finish": a checkpoint holds the loss and validation curves; 400,000 epochs (a model
    file of 10 MB would fit) need 21 MB of checkpoint header, refused before training."""
    from hiddenstate import InputError

    _no_training(monkeypatch)
    X, _ = make_donut(50)
    est = Autoencoder(2, max_iter=400_000, checkpoint_dir=tmp_path / "ckpt")
    with pytest.raises(InputError, match=r"^a checkpoint's header would need about 20.\d MB, "
                       r"over its limit of 16.8 MB \(MAX_HEADER_BYTES\): two curves of up to "
                       r"400,000 values \(max_iter\) take up to 20.8 MB; choose max_iter <= "
                       r"32\d,\d{3} or train without checkpoints$"):
        est.fit(X)
    assert not hasattr(est, "model_")


def test_save_names_the_cause_when_the_header_is_too_large(models, tmp_path, monkeypatch):
    """A fitted model whose header passes the limit (partial_fit grows its curve a call
    at a time): save refuses it naming the curve, never "<memory>" or "corrupted"."""
    import hiddenstate as hs

    est = hs.load(models["ae"])
    monkeypatch.setattr("hiddenstate._serialize.MAX_HEADER_BYTES", 2_000)
    with pytest.raises(hs.InputError) as info:
        est.save(tmp_path / "m.hs")
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'm.hs'}: the model file's header would need about")
    assert "its loss curve of 2 values takes" in message and "it cannot be saved" in message
    assert "<memory>" not in message and not (tmp_path / "m.hs").exists()
