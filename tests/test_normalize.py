import numpy as np
import pytest

from pssr_nb.errors import InputError
from pssr_nb.normalize import Normalization, percentile_normalization


def test_uint16_round_trip_through_float_units():
    data = np.random.default_rng(0).integers(100, 40000, (64, 64)).astype(np.uint16)
    norm = percentile_normalization(data, (0, 100))
    assert norm.low == 100 or norm.low == data.min()
    y = norm.apply(data)
    assert y.dtype == np.float32 and y.min() == 0 and y.max() == 1
    np.testing.assert_array_equal(norm.invert(y), data)


def test_16bit_data_is_not_treated_as_8bit():
    data = np.linspace(0, 4095, 100).astype(np.uint16)  # 12-bit data in a 16-bit container
    y = percentile_normalization(data, (0, 100)).apply(data)
    assert y.max() == pytest.approx(1.0) and np.unique(y).size == 100


def test_invert_saturates_instead_of_wrapping():
    norm = Normalization(0.0, 255.0, "uint8")
    np.testing.assert_array_equal(norm.invert(np.array([-0.5, 0.5, 1.5])), [0, 128, 255])
    assert norm.invert(np.array([0.5]), "float32").dtype == np.float32


def test_constant_image_has_no_division_by_zero():
    norm = percentile_normalization(np.full((8, 8), 7, np.uint8))
    assert norm.span == 1.0
    assert np.all(np.isfinite(norm.apply(np.full((8, 8), 7, np.uint8))))


def test_nan_pixels_are_ignored_and_all_nan_is_an_error():
    data = np.array([np.nan, 0.0, 1.0, 2.0, np.inf], dtype=np.float32)
    norm = percentile_normalization(data, (0, 100))
    assert (norm.low, norm.high) == (0.0, 2.0)
    with pytest.raises(InputError, match="no finite"):
        percentile_normalization(np.full(4, np.nan))


def test_signed_and_float_data_keep_their_sign():
    data = np.array([-1000, 0, 1000], dtype=np.int16)
    norm = percentile_normalization(data, (0, 100))
    np.testing.assert_allclose(norm.apply(data), [0, 0.5, 1])
    np.testing.assert_array_equal(norm.invert(norm.apply(data)), data)


def test_dict_round_trip_and_bad_percentiles():
    norm = Normalization(1.0, 3.0, "uint16", 0.1, 99.9)
    assert Normalization.from_dict(norm.to_dict()) == norm
    with pytest.raises(InputError):
        percentile_normalization(np.arange(10), (50, 10))
