"""The hiddenstate command line, run in-process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hiddenstate import load
from hiddenstate.cli import main
from hiddenstate.datasets import make_donut, read_table, write_table

from .test_recursive import _toy

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def donut_csv(tmp_path):
    X, _ = make_donut(300)
    path = tmp_path / "donut.csv"
    write_table(path, X, column_names=["x1", "x2", "x3", "x4"])
    return path


def test_fit_transform_reconstruct_score_plot(tmp_path, donut_csv, capsys):
    model = tmp_path / "ae.safetensors"
    assert main(["autoencoder", "fit", str(donut_csv), "--n-components", "2",
                 "--max-iter", "50", "--batch-size", "64", "--random-state", "0",
                 "--out", str(model)]) == 0
    err = capsys.readouterr().err
    assert "trained 50 epochs" in err and model.exists()

    # Each command writes what the saved model's own method gives on the file's rows.
    est, X = load(model), read_table(donut_csv)[0]
    assert est.n_iter_ == 50 and est.loss_curve_[-1] < 0.5 * est.loss_curve_[0]
    codes = tmp_path / "codes.npy"
    assert main(["autoencoder", "transform", str(model), str(donut_csv), "--out", str(codes)]) == 0
    np.testing.assert_allclose(np.load(codes), est.transform(X), rtol=1e-5, atol=1e-6)

    recon = tmp_path / "recon.csv"
    assert main(["autoencoder", "reconstruct", str(model), str(donut_csv),
                 "--out", str(recon)]) == 0
    values, names = read_table(recon)
    assert names == ["x1", "x2", "x3", "x4"]
    np.testing.assert_allclose(values, est.predict(X), rtol=1e-5, atol=1e-6)

    capsys.readouterr()
    assert main(["autoencoder", "score", str(model), str(donut_csv)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "reconstruction_error" and len(lines) == 301
    np.testing.assert_allclose([float(v) for v in lines[1:]], est.reconstruction_error(X),
                               rtol=1e-5)

    png = tmp_path / "curve.png"
    assert main(["autoencoder", "plot", str(model), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_builtin_data_and_tiles(tmp_path):
    model = tmp_path / "digits.safetensors"
    assert main(["autoencoder", "fit", "digits", "--n-components", "16", "--max-iter", "2",
                 "--out", str(model)]) == 0
    png = tmp_path / "tiles.png"
    assert main(["autoencoder", "plot", str(model), "--kind", "tiles", "--out", str(png)]) == 0
    assert png.stat().st_size > 0


def test_bad_cell_is_reported_with_line_and_column(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,oops\n")
    model = tmp_path / "m.safetensors"
    assert main(["autoencoder", "fit", str(bad), "--out", str(model)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hiddenstate: error:")
    assert "line 3" in err and "column 2" in err and "oops" in err
    assert "Traceback" not in err
    assert not model.exists()


def test_bad_option_values_list_the_valid_ones(tmp_path, donut_csv, capsys):
    assert main(["autoencoder", "fit", str(donut_csv), "--activation", "swish",
                 "--out", str(tmp_path / "m.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "activation" in err and "sigmoid" in err and "swish" in err
    assert main(["autoencoder", "fit", str(donut_csv), "--max-iter", "ten", "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hiddenstate: error: argument --max-iter:") and "'ten'" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_model_file_and_feature_mismatch(tmp_path, donut_csv, capsys):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a model at all")
    assert main(["autoencoder", "transform", str(junk), str(donut_csv)]) == 2
    assert "not a hiddenstate model file" in capsys.readouterr().err

    model = tmp_path / "m.safetensors"
    assert main(["autoencoder", "fit", str(donut_csv), "--max-iter", "2", "--out", str(model)]) == 0
    narrow = tmp_path / "narrow.npy"
    np.save(narrow, np.ones((3, 2), np.float32))
    capsys.readouterr()
    assert main(["autoencoder", "transform", str(model), str(narrow)]) == 2
    assert "2 features" in capsys.readouterr().err

    before = model.read_bytes()
    assert main(["autoencoder", "fit", str(tmp_path / "missing.csv"), "--out", str(model)]) == 2
    assert model.read_bytes() == before


def test_reproduce_only_donut_writes_the_report(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["reproduce", "--only", "donut", "--out", str(out)]) == 0
    assert (out / "report.html").exists()
    results = json.loads((out / "results.json").read_text())
    assert "donut" in json.dumps(results)
    assert "final MSE" in capsys.readouterr().out
    assert main(["reproduce", "--only", "nosuch", "--out", str(out)]) == 2


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip()


def test_fit_in_blocks(tmp_path, donut_csv):
    """The command trains the model ``Autoencoder.fit_file`` trains, block by block."""
    import jax

    from hiddenstate import Autoencoder

    model = tmp_path / "m.safetensors"
    assert main(["autoencoder", "fit", str(donut_csv), "--chunk-rows", "100", "--max-iter", "3",
                 "--random-state", "0", "--out", str(model)]) == 0
    got = load(model)
    want = Autoencoder(max_iter=3, random_state=0).fit_file(donut_csv, chunk_rows=100)
    assert got.n_iter_ == 3 and got.loss_curve_ == pytest.approx(want.loss_curve_, rel=1e-6)
    assert got.loss_curve_[-1] < got.loss_curve_[0]  # three epochs of 3 blocks trained it
    for a, b in zip(jax.tree.leaves(got.model_), jax.tree.leaves(want.model_), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_rnn_fit_sample_evaluate_and_datasets(tmp_path, capsys):
    assert main(["datasets", "reber", "-n", "200", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.split()
    assert len(lines) == 200 and all(s.startswith("B") and s.endswith("E") for s in lines)
    data = tmp_path / "reber.txt"
    data.write_text("\n".join(lines) + "\n")
    model = tmp_path / "rnn.safetensors"
    assert main(["rnn", "fit", str(data), "--cell", "gru", "--max-iter", "2",
                 "--random-state", "0", "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["rnn", "sample", str(model), "-n", "5", "--seed", "1"]) == 0
    assert len(capsys.readouterr().out.split()) == 5
    assert main(["rnn", "evaluate", str(model), str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["sequences"] == 200 and 0 <= result["sampled_in_grammar"] <= 1
    bad = tmp_path / "bad.txt"
    bad.write_text("BTXSE\nBTQSE\n")
    assert main(["rnn", "fit", str(bad), "--alphabet", "BTSXPVE", "--out",
                 str(tmp_path / "x.safetensors")]) == 2
    assert "line 2, column 3" in capsys.readouterr().err


def test_rae_fit_predict_and_label_mismatch(tmp_path, capsys):
    # The data and settings of test_recursive.py's shared fit (RECIPE): the same programs,
    # which the run's compilation cache holds when that file ran first (and the other way).
    sents, y = _toy(300)
    labels = np.where(y == 1, "pos", "neg")
    (tmp_path / "s.txt").write_text("\n".join(sents))
    (tmp_path / "l.txt").write_text("\n".join(labels))
    model = tmp_path / "rae.safetensors"
    assert main(["rae", "fit", str(tmp_path / "s.txt"), "--labels", str(tmp_path / "l.txt"),
                 "--n-components", "8", "--max-iter", "15", "--learning-rate", "0.01",
                 "--random-state", "0",
                 "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["rae", "predict", str(model), "the film was great"]) == 0
    out = json.loads(capsys.readouterr().out)
    proba = load(model).predict_proba(["the film was great"])[0]
    assert out["probability"] == pytest.approx(proba.max(), rel=1e-6) and proba.max() >= 0.5
    assert out["label"] == str(load(model).classes_[proba.argmax()])
    (tmp_path / "short.txt").write_text("pos\nneg\n")
    assert main(["rae", "fit", str(tmp_path / "s.txt"), "--labels", str(tmp_path / "short.txt"),
                 "--out", str(tmp_path / "x.safetensors")]) == 2
    short = tmp_path / "short.txt"
    assert (f"{tmp_path / 's.txt'}, line 3: no label for this sentence: {tmp_path / 's.txt'} "
            f"has 300 sentences but {short} has 2 labels") in capsys.readouterr().err


class _Stop(BaseException):  # not an Exception: the CLI turns those into one line
    pass


def test_reproduce_passes_every_set_as_typed(tmp_path, monkeypatch, capsys):
    import hiddenstate.experiments as experiments

    seen = {}

    def fake_reproduce(names, out_dir, **kwargs):
        seen.update(names=names, out_dir=out_dir, **kwargs)
        raise _Stop

    monkeypatch.setattr(experiments, "reproduce", fake_reproduce)
    sets = ["donut.n_samples=200", "donut.random_state=3"]
    with pytest.raises(_Stop):
        main(["reproduce", "--only", "donut", "--quick", "--out", str(tmp_path),
              "--set", sets[0], "--set", sets[1]])
    assert seen["names"] == ["donut"] and seen["overrides"] == sets and seen["quick"] is True
    out = capsys.readouterr().out
    assert "n_samples=200" in out and "random_state=3" in out  # the resolved config is shown
    seen.clear()
    with pytest.raises(_Stop):
        main(["reproduce", "--only", "donut", "--out", str(tmp_path)])
    assert seen["overrides"] == []


def test_reproduce_rejects_bad_overrides_and_names_before_running(tmp_path, monkeypatch, capsys):
    import hiddenstate.experiments as experiments

    monkeypatch.setattr(experiments, "reproduce", lambda *a, **k: pytest.fail("ran"))
    for bad in (["--set", "donut.nosuch=1"], ["--set", "donut.n_samples=many"],
                ["--set", "donut"], ["--set", "reber.n_train=5"]):
        capsys.readouterr()
        assert main(["reproduce", "--only", "donut", "--out", str(tmp_path), *bad]) == 2, bad
        err = capsys.readouterr().err
        assert err.startswith("hiddenstate: error:") and len(err.strip().splitlines()) == 1
    assert main(["reproduce", "--only", "nosuch"]) == 2
    assert "invalid choice: 'nosuch'" in capsys.readouterr().err


def test_reproduce_help_lists_the_experiments_and_their_fields(capsys):
    from hiddenstate.experiments import EXPERIMENT_NAMES

    assert main(["reproduce", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPERIMENT_NAMES)
    assert "--set NAME.FIELD=VALUE" in out and "donut: n_samples=1000" in out


def test_bench_dispatches_to_the_harness(monkeypatch, capsys):
    import types

    from hiddenstate.cli import bench

    harness = bench._harness()
    assert callable(harness.run_workloads) and "W1" in harness.WORKLOADS
    calls = []
    fake = types.SimpleNamespace(WORKLOADS={"W1": None, "W2": None},
                                 run_workloads=lambda names, **kw: calls.append((names, kw)))
    monkeypatch.setattr(bench, "_harness", lambda: fake)
    assert main(["bench", "--quick"]) == 0
    assert calls[-1][0] == ["W1", "W2"] and calls[-1][1]["quick"] is True
    assert main(["bench", "W2"]) == 0 and calls[-1][0] == ["W2"]
    assert main(["bench", "--all", "W1"]) == 2
    assert "give workload names or --all, not both" in capsys.readouterr().err


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "autoencoder" in capsys.readouterr().out
    assert main(["--help"]) == 0


def test_rnn_builtin_reber_data(capsys):
    """The built-in reber data: 5000 strings of the grammar (the seed's 1000 sample
    about 0.989 in the grammar), and --help says so."""
    from hiddenstate.cli import rnn
    from hiddenstate.datasets import in_reber_grammar

    seqs, alphabet = rnn._data("reber", None, 0)
    assert len(seqs) == rnn.BUILTIN_STRINGS == 5000 and alphabet == "BTSXPVE"
    assert all(in_reber_grammar(s) and len(s) > 10 for s in seqs)
    assert main(["rnn", "fit", "--help"]) == 0
    assert "5000 strings" in " ".join(capsys.readouterr().out.split())


def test_reproduce_strict_exits_1_when_a_row_misses_its_target(tmp_path, monkeypatch, capsys):
    import hiddenstate.experiments as experiments
    from hiddenstate.report import ExperimentResult, ResultRow

    rows = [ResultRow("donut", "final MSE", 1.2e-4, 5e-4, 1.0, "seed algorithm", passed=False,
                      target="within 5% of 3.0e-4"),
            ResultRow("donut", "final MSE", 1.2e-4, 3e-4, 1.0, "ours", passed=True)]
    monkeypatch.setattr(experiments, "reproduce", lambda *a, **k: [
        ExperimentResult("donut", rows, {}, {}, 1.0)])
    argv = ["reproduce", "--only", "donut", "--out", str(tmp_path)]
    assert main(argv) == 0  # the report is written either way
    assert main([*argv, "--strict"]) == 1
    err = capsys.readouterr().err
    assert "1 row(s) missed their targets (--strict): donut / seed algorithm / final MSE" in err
    rows[0].passed = None  # nothing to meet is not a miss
    assert main([*argv, "--strict"]) == 0
    assert main(["reproduce", "--help"]) == 0
    assert "--strict" in capsys.readouterr().out
