"""The scaling stored with sequence models (estimators/_scaling.py)."""

import numpy as np
import pytest

from hiddenstate._errors import ModelFileError
from hiddenstate.estimators._scaling import Scaling, fit_scaling

RNG = np.random.default_rng(0)
SEQS = [RNG.normal(900.0, 50.0, size=(n, 2)).astype(np.float32) for n in (7, 12, 30)]


def _steps(seqs):
    return np.concatenate(seqs).astype(np.float64)


@pytest.mark.parametrize("kind", ["standard", "minmax", "series", "none"])
def test_round_trip(kind):
    scaling = fit_scaling(kind, SEQS)
    scaled = scaling.transform(SEQS)
    back = scaling.inverse(scaled, scaling.statistics(SEQS))
    for a, b in zip(SEQS, back, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5)


def test_standard_and_minmax_statistics():
    steps = _steps(fit_scaling("standard", SEQS).transform(SEQS))
    np.testing.assert_allclose(steps.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(steps.std(0), 1, atol=1e-5)
    steps = _steps(fit_scaling("minmax", SEQS).transform(SEQS))
    np.testing.assert_allclose(steps.min(0), 0, atol=1e-6)
    np.testing.assert_allclose(steps.max(0), 1, atol=1e-6)


def test_series_uses_each_sequences_own_statistics():
    scaled = fit_scaling("series", SEQS).transform(SEQS)
    for s in scaled:
        np.testing.assert_allclose(s.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(s.std(0), 1, atol=1e-4)


def test_constant_channel_is_only_shifted():
    seqs = [np.column_stack([np.full(5, 3.0), np.arange(5.0)]).astype(np.float32)]
    for kind in ("standard", "minmax", "series"):
        out = fit_scaling(kind, seqs).transform(seqs)[0]
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out[:, 0], 0.0)


def test_config_round_trip_and_refusals():
    scaling = fit_scaling("standard", SEQS)
    back = Scaling.from_config(scaling.to_config(), 2, "m")
    np.testing.assert_array_equal(back.loc, scaling.loc)
    np.testing.assert_array_equal(back.scale, scaling.scale)
    assert Scaling.from_config(None, 2, "m").kind == "none"
    for bad in ({"kind": "auto"}, {"kind": "standard"}, {"kind": "zscore"},
                {"kind": "minmax", "loc": [0, 0], "scale": [1, 0]},
                {"kind": "standard", "loc": [0], "scale": [1]}, "standard"):
        with pytest.raises(ModelFileError, match="m: "):
            Scaling.from_config(bad, 2, "m")
    with pytest.raises(ValueError, match="scale must be one of"):
        fit_scaling("auto", SEQS)


def test_missing_values_refused_with_position_or_interpolated():
    from hiddenstate._errors import InputError
    from hiddenstate.estimators._inputs import read_sequences

    a = np.array([[1.0, 10.0], [np.nan, 20.0], [3.0, np.nan], [5.0, np.nan]])
    with pytest.raises(InputError, match="step 1, feature 0 .NaN.*missing='interpolate'") as e:
        read_sequences([np.zeros((2, 2)), a])
    assert (e.value.index, e.value.step, e.value.channel) == (1, 1, 0)
    out = read_sequences([a], missing="interpolate").arrays[0]
    np.testing.assert_allclose(out, [[1, 10], [2, 20], [3, 20], [5, 20]])
    assert out.dtype == np.float32
    table = np.ma.masked_invalid([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    with pytest.raises(InputError, match="masked .missing. value at step 1"):
        read_sequences(table)
    out = read_sequences(table, missing="interpolate").arrays
    np.testing.assert_allclose(out[0][:, 0], [1, 2, 3])
    with pytest.raises(InputError, match="feature 1 has no value at any step"):
        read_sequences([np.array([[1.0, np.nan], [2.0, np.nan]])], missing="interpolate")
    with pytest.raises(InputError, match=r"\(inf\)"):
        read_sequences([np.array([[1.0], [np.inf]])], missing="interpolate")
