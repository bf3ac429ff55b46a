import numpy as np
import pytest
import torch

from pssr_nb.crappify import Downsample
from pssr_nb.errors import InputError
from pssr_nb.sampling import lr_offset, upsample


@pytest.mark.parametrize("method", ["nearest", "bilinear", "bicubic"])
@pytest.mark.parametrize("scale,offset", [(2, 0.0), (4, 0.0), (3, 1.0), (4, 2.0)])
def test_upsampling_reproduces_samples_at_their_acquired_positions(method, scale, offset):
    lr = np.random.default_rng(1).random((9, 7)).astype(np.float32)
    hr = upsample(lr, scale, offset, method)
    assert hr.shape == (9 * scale, 7 * scale)
    o = int(offset)
    np.testing.assert_allclose(hr[o::scale, o::scale], lr, atol=1e-5)


@pytest.mark.parametrize("offset", [0.0, 1.5])
def test_bilinear_is_exact_on_a_linear_ramp_between_samples(offset):
    hr_truth = np.tile(np.arange(64, dtype=np.float32), (64, 1))
    lr = hr_truth[:16, :16] * 0 + (
        4 * np.arange(16, dtype=np.float32) + offset
    )  # ramp sampled at 4i+offset
    hr = upsample(lr, 4, offset, "bilinear")
    inner = slice(int(np.ceil(offset)), int(4 * 15 + offset) + 1)
    np.testing.assert_allclose(hr[:, inner], hr_truth[:, inner], atol=1e-4)


@pytest.mark.parametrize("mode", ["decimate", "area", "bilinear"])
def test_downsample_modes_sample_where_lr_offset_says(mode):
    """On a linear ramp every mode returns the ramp's value at its stated position."""
    ramp = torch.arange(32, dtype=torch.float32).repeat(32, 1).reshape(1, 1, 32, 32)
    lr = Downsample(4, mode)(ramp)[0, 0]
    positions = 4 * np.arange(8) + lr_offset(4, mode)
    np.testing.assert_allclose(lr[0].numpy(), positions, atol=1e-5)


def test_torch_and_numpy_paths_agree():
    lr = np.random.default_rng(2).random((2, 5, 6)).astype(np.float32)
    a = upsample(lr, 3, 1.0, "bicubic")
    b = upsample(torch.from_numpy(lr), 3, 1.0, "bicubic").numpy()
    np.testing.assert_array_equal(a, b)
    assert a.shape == (2, 15, 18)


def test_bad_arguments():
    with pytest.raises(InputError):
        lr_offset(4, "lanczos")
    with pytest.raises(InputError):
        lr_offset(4, "decimate", phase=4)
    with pytest.raises(InputError):
        upsample(np.zeros((4, 4)), 2, 0, "spline")
