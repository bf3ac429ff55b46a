import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from pssr_nb.errors import InputError
from pssr_nb.losses import gaussian_window, make_loss, ms_ssim, ssim_components, window_and_scales


def test_ssim_matches_scikit_image():
    rng = np.random.default_rng(0)
    a = rng.random((64, 80))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    expected = structural_similarity(
        a, b, data_range=1.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    ta, tb = (torch.from_numpy(v)[None, None] for v in (a, b))
    ssim, _ = ssim_components(ta, tb, gaussian_window(11, 1.5, ta.device, ta.dtype))
    assert ssim.item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("size", [3, 8, 16, 32, 64, 128, 160, 176, 256])
def test_ms_ssim_works_on_every_tile_size(size):
    x = torch.rand(2, 1, size, size)
    assert torch.allclose(ms_ssim(x, x), torch.ones(2), atol=1e-5)
    noisy = (x + 0.3 * torch.randn_like(x)).clamp(0, 1)
    value = ms_ssim(noisy, x)
    assert torch.all(value < 0.99) and torch.all(value > 0)


def test_scales_adapt_to_the_tile():
    assert window_and_scales(256, 256) == (11, 5)
    assert window_and_scales(160, 200) == (11, 4)  # PSSR2 needs 5 scales of 11 px: 176 px
    assert window_and_scales(32, 32) == (11, 2)
    assert window_and_scales(8, 9) == (7, 1)
    with pytest.raises(InputError):
        window_and_scales(2, 10)


@pytest.mark.parametrize("name", ["msssim_l1", "l1", "mse"])
def test_losses_are_zero_for_identity_and_give_gradients(name):
    loss = make_loss(name)
    target = torch.rand(2, 1, 48, 40)
    assert loss(target, target).item() == pytest.approx(0.0, abs=1e-5)
    pred = torch.rand(2, 1, 48, 40, requires_grad=True)
    value = loss(pred, target)
    value.backward()
    assert value.item() > 0 and torch.isfinite(pred.grad).all()
    with pytest.raises(InputError):
        make_loss("perceptual")


def test_worse_predictions_cost_more():
    loss = make_loss("msssim_l1")
    target = torch.rand(4, 1, 64, 64)
    small = loss(target + 0.02 * torch.randn_like(target), target)
    large = loss(target + 0.2 * torch.randn_like(target), target)
    assert large > small
