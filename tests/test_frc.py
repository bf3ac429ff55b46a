"""Fourier ring correlation (issue "Benchmark and validation": resolution, measured)."""

import numpy as np
import pytest
from scipy import ndimage

from pssr_nb.baselines import interpolate
from pssr_nb.errors import InputError
from pssr_nb.frc import average, frc, shifted_repeats
from pssr_nb.phantoms import simulate


def test_an_image_with_itself_correlates_fully_at_every_frequency():
    image = simulate("em", (128, 128), 4, seed=0).truth
    curve = frc(image, image, pixel_size=4.0)
    np.testing.assert_allclose(curve.correlation[1:], 1.0, atol=1e-9)
    assert curve.resolution("1/7") is None  # never falls: limited by the pixels


def test_independent_noise_correlates_near_zero():
    rng = np.random.default_rng(1)
    curve = frc(rng.normal(size=(256, 256)), rng.normal(size=(256, 256)))
    # Each ring's value scatters about 0 by ~sqrt(2 / its pixel count).
    assert abs(curve.correlation[1:].mean()) < 0.02
    assert np.abs(curve.correlation[64:]).mean() < 0.05
    assert curve.crossing("1/7") < 0.05  # falls below at once


def test_two_noisy_scans_resolve_less_the_more_blurred_they_are():
    ps = simulate("em", (256, 256), 4, seed=2)
    rng = np.random.default_rng(3)
    resolutions = []
    for sigma in (0.0, 2.0, 4.0):
        field = ndimage.gaussian_filter(ps.truth.astype(float), sigma) if sigma else ps.truth
        first = field + rng.normal(0, 0.05, field.shape)
        second = field + rng.normal(0, 0.05, field.shape)
        resolutions.append(frc(first, second, pixel_size=4.0).resolution("half-bit"))
    assert resolutions[0] < resolutions[1] < resolutions[2]
    assert 8.0 <= resolutions[0]  # at best two pixels (Nyquist)


def test_half_bit_threshold_falls_with_ring_size():
    rng = np.random.default_rng(4)
    curve = frc(rng.normal(size=(128, 128)), rng.normal(size=(128, 128)))
    assert curve.half_bit[2] > curve.half_bit[-1] > 0.17
    assert set(curve.summary()) == {"resolution_1/7_px", "resolution_half-bit_px"}


def test_frc_refuses_mismatched_or_tiny_images():
    with pytest.raises(InputError, match="one shape"):
        frc(np.zeros((32, 32)), np.zeros((32, 31)))
    with pytest.raises(InputError, match="at least 16"):
        frc(np.zeros((8, 8)), np.zeros((8, 8)))
    with pytest.raises(InputError, match="Unknown FRC threshold"):
        frc(np.ones((32, 32)), np.ones((32, 32))).crossing("1/2")


def _bicubic_repeats(shift):
    ps = simulate("em", (256, 256), 4, seed=5)
    units = ps.normalization("lr")
    first = interpolate(units.apply(ps.reacquire("lr", seed=1)), 4, 0.0, "bicubic")
    second = interpolate(units.apply(ps.reacquire("lr", seed=2, shift=shift)), 4, 0.0, "bicubic")
    return first, second


def test_texture_locked_to_the_output_grid_is_no_resolution_on_shifted_repeats():
    """A painter adds the same texture to both repeats: it fools repeats on one grid only."""
    texture = ndimage.gaussian_filter(np.random.default_rng(6).normal(size=(256, 256)), 1.0)
    texture *= 0.3 / texture.std()
    same = _bicubic_repeats(0)
    honest_same = frc(*same, pixel_size=4.0).resolution("1/7")
    painted_same = frc(same[0] + texture, same[1] + texture, pixel_size=4.0).resolution("1/7")
    assert painted_same is None or painted_same < 0.7 * honest_same  # fooled
    a, b = _bicubic_repeats(18)  # the benchmark's offset at x4: 4.5 LR pixels
    honest = shifted_repeats(a, b, 18, 4.0).resolution("1/7")
    b_painted = b + texture[: b.shape[0], : b.shape[1]]  # the same texture, output-locked
    painted = shifted_repeats(a + texture, b_painted, 18, 4.0).resolution("1/7")
    assert painted >= 0.95 * honest  # not fooled: the texture no longer lines up


def test_shifted_repeats_line_up_the_common_field():
    ps = simulate("em", (128, 128), 4, seed=7)
    moved = ps.truth[2:, 2:]
    curve = shifted_repeats(ps.truth, np.pad(moved, ((0, 2), (0, 2))), 2, 4.0)
    np.testing.assert_allclose(curve.correlation[1:], 1.0, atol=1e-9)


def test_an_average_of_repeat_pairs_keeps_their_spread():
    rng = np.random.default_rng(8)
    field = ndimage.gaussian_filter(rng.normal(size=(128, 128)), 2)
    curves = [
        frc(field + rng.normal(0, 0.1, field.shape), field + rng.normal(0, 0.1, field.shape), 4.0)
        for _ in range(3)
    ]
    mean = average(curves)
    summary = mean.summary()
    assert summary["draws"] == 3 and summary["resolution_1/7_nm_sd"] >= 0
    np.testing.assert_allclose(mean.correlation, np.mean([c.correlation for c in curves], 0))
