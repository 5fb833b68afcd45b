"""SequenceAutoencoder's ``scale`` and ``missing`` settings: fitted, stored in the model
file, applied at every call; reconstructions in the data's units, errors in the scaled
ones; and the warnings a fit ends with (a loss still falling, a loss many times the
targets' variance)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import hiddenstate as hs
from hiddenstate._errors import InputError
from hiddenstate.train import History

SMALL = dict(cell="elman", max_iter=2, random_state=0)


def _waves(n=12, level=900.0, spread=30.0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(10)[:, None]
    return [(level + spread * np.c_[np.sin(t / 2 + p), 0.5 * np.cos(t / 3 + p)]
             + rng.normal(size=(10, 2))).astype(np.float32)[: 6 + i % 5]
            for i, p in enumerate(rng.uniform(0, 6, n))]


def _fit(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return hs.SequenceAutoencoder(3, **{**SMALL, **kw}).fit(X)


@pytest.mark.parametrize("scale", ["auto", "standard", "minmax", "series", "none"])
def test_scaling_round_trips_through_a_file_and_reconstructs_in_data_units(scale, tmp_path):
    X = _waves()
    est = _fit(X, scale=scale)
    steps = np.concatenate(X).astype(np.float64)
    kind = {"auto": "standard"}.get(scale, scale)
    assert est.scaling_.kind == kind
    if kind == "standard":
        np.testing.assert_allclose(est.scaling_.loc, steps.mean(0))
        np.testing.assert_allclose(est.scaling_.scale, steps.std(0))
    elif kind == "minmax":
        np.testing.assert_allclose(est.scaling_.scale, np.ptp(steps, 0))
    est.save(tmp_path / "m.hsm")
    back = hs.load(tmp_path / "m.hsm")
    assert back.scale == scale and back.scaling_.kind == kind
    pred = est.predict(X)
    for a, b in zip(back.predict(X), pred, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.reconstruction_error(X), est.reconstruction_error(X))
    # The reconstructions are in the data's units (values near 900, unless unscaled and
    # untrained), the errors in the scaled ones: the same numbers by hand.
    stats = est.scaling_.statistics(X)
    by_hand = [np.mean(((p.astype(np.float64) - x) / sc) ** 2)
               for p, x, (_, sc) in zip(pred, X, stats, strict=True)]
    np.testing.assert_allclose(est.reconstruction_error(X), by_hand, rtol=2e-3, atol=1e-5)
    if kind != "none":
        assert abs(np.mean(np.concatenate(pred)) - 900) < 60
    if kind not in ("series", "none"):  # global statistics: codes decode to data units
        codes = est.transform(X)
        decoded = est.inverse_transform(codes, [len(x) for x in X])
        np.testing.assert_allclose(decoded[0], pred[0], rtol=1e-5)


def test_missing_values_are_refused_or_interpolated_and_the_setting_is_stored(tmp_path):
    X = _waves()
    gappy = [x.copy() for x in X]
    gappy[2][3, 1] = np.nan
    with pytest.raises(InputError, match="missing='interpolate'") as info:
        _fit(gappy)
    assert (info.value.index, info.value.step, info.value.channel) == (2, 3, 1)
    est = _fit(gappy, missing="interpolate")
    est.save(tmp_path / "m.hsm")
    back = hs.load(tmp_path / "m.hsm")
    assert back.missing == "interpolate"
    filled = [x.copy() for x in gappy]
    filled[2][3, 1] = (gappy[2][2, 1] + gappy[2][4, 1]) / 2
    np.testing.assert_allclose(back.transform(gappy), est.transform(filled), rtol=1e-6)
    masked = np.ma.masked_invalid(gappy[2])
    np.testing.assert_allclose(back.transform([masked]), est.transform(filled[2:3]),
                               rtol=1e-6)


def test_a_detector_scores_in_scaled_units_and_keeps_its_scaling(tmp_path):
    X = _waves(n=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        det = hs.AnomalyDetector(hs.SequenceAutoencoder(3, **SMALL), calibration_fraction=0.25,
                                 random_state=0).fit(X)
    assert det.model_.scaling_.kind == "standard"
    scores = det.score_samples(X)
    assert np.all(np.abs(scores) < 10)  # errors of unit-variance values, not of ~900s
    det.save(tmp_path / "d.hsd")
    back = hs.load(tmp_path / "d.hsd")
    np.testing.assert_array_equal(back.score_samples(X), scores)
    np.testing.assert_array_equal(back.calibration_scores_, det.calibration_scores_)


def test_token_sequences_are_not_scaled_and_refuse_the_real_valued_settings():
    words = ["a b c", "b c a", "c a b a"] * 4
    est = _fit(words, embedding_dim=2)
    assert est.scaling_.kind == "none" and est._encoder_parts()["scaling"].kind == "none"
    for setting in ({"scale": "standard"}, {"missing": "interpolate"}):
        with pytest.raises(ValueError, match="applies to real-valued sequences"):
            _fit(words, embedding_dim=2, **setting)
    _fit(words, embedding_dim=2, scale="none")  # "none" is what tokens get anyway


def test_a_file_without_scaling_loads_unscaled(tmp_path):
    from hiddenstate import _serialize

    X = _waves(level=0.0, spread=1.0)
    est = _fit(X, scale="none")
    config, tensors = est._to_file()
    del config["scaling"], config["params"]["scale"], config["params"]["missing"]
    _serialize.save(tmp_path / "old.hsm", "SequenceAutoencoder", config, tensors)
    old = hs.load(tmp_path / "old.hsm")
    assert old.scale == "none" and old.scaling_.kind == "none"
    np.testing.assert_array_equal(old.reconstruction_error(X), est.reconstruction_error(X))


def test_continued_training_refuses_a_changed_scale_and_keeps_the_same():
    X = _waves()
    est = _fit(X, scale="minmax")
    with pytest.raises(ValueError, match=r"scale='standard' \(standard\) differs from the "
                       r"scaling this model was fitted with \('minmax'\)"):
        est.set_params(scale="standard").partial_fit(X)
    before = est.scaling_
    est.set_params(scale="minmax").partial_fit(X)  # the same: accepted, stats kept
    assert est.scaling_ is before
    auto = _fit(X)  # auto is standard for real values: "standard" continues it
    auto.set_params(scale="standard").partial_fit(X)
    with pytest.raises(ValueError, match="differs"):
        auto.set_params(scale="none", warm_start=True).fit(X)


# -- warnings a fit ends with ---------------------------------------------------------------------


def test_loss_many_times_the_variance_warns_without_scaling_only():
    X = _waves()  # values near 900, variance near 400
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(X, scale="none")
    text = [str(w.message) for w in caught if "variance" in str(w.message)]
    assert len(text) == 1 and "scale='standard'" in text[0], text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hs.SequenceAutoencoder(3, cell="elman", max_iter=2, random_state=0,
                               n_iter_no_change=1, tol=1.0).fit(X)  # scale="auto"


def test_loss_variance_hook_reads_the_real_steps_only():
    est = hs.SequenceAutoencoder()
    est.vocabulary_ = None
    xs = np.zeros((2, 4, 2), np.float32)
    xs[0, :2] = [[1, 10], [3, 30]]
    xs[1, :3] = [[5, 50], [7, 70], [9, 90]]
    xs[0, 2:] = 1e6  # padding: never read
    data = hs.estimators._base.TrainingData((xs, np.array([2, 3])))
    want = np.mean(np.var([[1, 10], [3, 30], [5, 50], [7, 70], [9, 90]], axis=0))
    assert est._target_variance(data) == pytest.approx(want)


@pytest.mark.parametrize("curve, warns", [
    ([2.0, 1.5, 1.2], True),            # three epochs, still falling
    ([2.0, 1.0, 0.995], False),         # converged after its first epoch (-0.5%)
    ([1.0, 0.95], True),                # two epochs
    ([1.0], True),                      # one epoch, from the untrained model's 1.3
    ([1.29], False),
])
def test_convergence_rule_covers_fits_shorter_than_n_iter_no_change(curve, warns):
    est = hs.Autoencoder(max_iter=len(curve), n_iter_no_change=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est._warn_convergence(History(loss=curve, initial_loss=1.3))
    assert (len(caught) == 1) == warns, caught


def test_a_three_epoch_fit_warns_while_falling_and_not_once_converged():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(3000, 1)) @ np.ones((1, 4))
         + 0.1 * rng.normal(size=(3000, 4))).astype(np.float32)
    with pytest.warns(ConvergenceWarning, match="from epoch 2 to epoch 3"):
        hs.Autoencoder(2, max_iter=3, batch_size=8, learning_rate=1e-4, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est = hs.Autoencoder(2, max_iter=3, batch_size=8, random_state=0).fit(X)
    assert est.n_iter_ == 3 < est.n_iter_no_change


# -- the command line -----------------------------------------------------------------------------


def test_seqae_and_detect_fit_take_scale_and_missing(tmp_path, capsys):
    from hiddenstate.cli import main

    series = tmp_path / "series.csv"
    t = np.arange(120) / 5
    np.savetxt(series, np.c_[900 + 30 * np.sin(t), np.cos(t)], fmt="%.4f", delimiter=",",
               header="x,y", comments="")
    model = tmp_path / "sa.hsm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert main(["seqae", "fit", str(series), "--window", "20", "--stride", "20",
                     "--n-components", "2", "--max-iter", "1", "--scale", "minmax",
                     "--missing", "interpolate", "--out", str(model)]) == 0
    est = hs.load(model)
    assert (est.scale, est.missing, est.scaling_.kind) == ("minmax", "interpolate", "minmax")
    np.testing.assert_allclose(est.scaling_.loc, [870, -1], atol=0.1)
    text = tmp_path / "t.txt"
    text.write_text("a b\nb a\n" * 4)
    assert main(["seqae", "fit", str(text), "--scale", "standard", "--out",
                 str(tmp_path / "t.hsm")]) == 2
    assert "scale='standard' applies to real-valued sequences" in capsys.readouterr().err
    try:
        code = main(["detect", "fit", "--model", "sequence-ae", "--help"])
    except SystemExit as stop:
        code = stop.code
    assert code == 0
    out = capsys.readouterr().out
    assert "--scale auto|minmax|none|series|standard" in out and "--missing" in out
