"""Real LR/HR pairs on one grid and one intensity scale (issue "Calibrate": the noise profile)."""

import dataclasses

import numpy as np
import pytest
import torch

from pssr_nb.crappify import Blur, Crappifier, Downsample
from pssr_nb.errors import InputError
from pssr_nb.pair_profile import Surround, noise_overlap, profile_pair, residuals
from pssr_nb.phantoms import simulate
from pssr_nb.point_scan import PointScanParams


@pytest.fixture(scope="module")
def field():
    """A smooth noiseless fluorescence field, 512 x 512, intensities 0..1."""
    truth = simulate("fluorescence", (512, 512), 4, seed=5).truth.astype(np.float64)
    return truth / truth.max()


def test_a_point_scan_at_another_phase_is_cropped_onto_the_grid(field):
    lr = field[2::4, 1::4] * 3.0 + 10.0
    profile = profile_pair(lr, field, 4)
    assert profile.mode == "decimate"
    assert profile.offset == pytest.approx((2.0, 1.0), abs=0.1)
    # After cropping, LR pixel i sits on HR pixel 4 i: the noiseless residual vanishes.
    assert np.abs(profile.residual).max() < 1e-3


def test_binning_is_recognised_as_area_sampling(field):
    lr = field.reshape(128, 4, 128, 4).mean(axis=(1, 3))
    profile = profile_pair(lr, field, 4)
    assert profile.mode == "area"
    assert np.abs(profile.residual).max() < 1e-3


def test_an_lr_shifted_by_whole_lr_pixels_is_cropped_and_a_half_pixel_is_reported(field):
    lr = field[8::4, 4::4]  # starts 2 LR pixels down, 1 right
    profile = profile_pair(lr, field, 4)
    assert np.abs(profile.residual).max() < 1e-3 and not profile.warnings
    from scipy import ndimage

    shifted = ndimage.shift(field, (0, 0.5), order=3, mode="nearest")[::4, ::4]  # half an HR px
    blurred = profile_pair(shifted, field, 4, name="cells_01")
    assert blurred.misregistration == pytest.approx(0.5, abs=0.1)
    assert "cells_01" in blurred.warnings[0] and "misregistered" in blurred.warnings[0]


def test_contrast_matching_undoes_gain_and_offset_of_the_lr(field):
    rng = np.random.default_rng(0)
    hr = field * 1000 + 200 + rng.normal(0, 5, field.shape)
    lr = field[::4, ::4] * 40 + 7
    profile = profile_pair(lr, hr, 4, dark_level=7.0)
    # Everything in the HR's normalised units: the LR matches the downsampled HR
    # (up to the HR's own noise, SD 0.005 in these units).
    assert np.abs(profile.lr - profile.signal).mean() < 0.01
    span = np.ptp(np.percentile(hr, [0.1, 99.9]))
    assert profile.contrast[0] == pytest.approx(40 * span / 1000, rel=0.01)
    # The dark level maps to where the HR's zero is in those units.
    zero_in_hr_units = (200 - np.percentile(hr, 0.1)) / np.ptp(np.percentile(hr, [0.1, 99.9]))
    assert profile.zero_level == pytest.approx(zero_in_hr_units, abs=0.01)


def test_a_pair_of_different_fields_or_inverted_contrast_is_refused(field):
    with pytest.raises(InputError, match="does not get brighter"):
        profile_pair(-field[::4, ::4], field, 4)
    with pytest.raises(InputError, match="smaller than"):
        profile_pair(field[::2, ::2], field, 4)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (Crappifier([Downsample(4)]), None, 1.0),
        (Crappifier([Downsample(4, "area")]), None, 1 / 16),
        (Crappifier([Downsample(4)]), Crappifier([Downsample(4, "area")]), 1 / 16),
        (Crappifier([Blur(2.0), Downsample(4)]), None, 1 / (4 * np.pi * 4.0)),
        (Crappifier([Downsample(4)]), Surround(Downsample(4)), 0.0),
        (Crappifier([Downsample(4, "area")]), Surround(Downsample(4, "area")), 0.0),
    ],
)
def test_noise_overlap_of_linear_sampling(first, second, expected):
    assert noise_overlap(first, second) == pytest.approx(expected, rel=0.02, abs=1e-9)


def test_noise_overlap_matches_white_noise_through_both_operators():
    rng = np.random.default_rng(1)
    noise = torch.from_numpy(rng.normal(size=(1, 1, 1024, 1024)))
    a, b = Crappifier([Blur(1.0), Downsample(4)]), Crappifier([Downsample(4, "area")])
    empirical = float((a(noise) * b(noise)).mean())
    assert empirical == pytest.approx(noise_overlap(a, b), rel=0.1)


def test_the_surround_follows_structure_but_not_the_pixel_itself():
    ramp = np.add.outer(np.arange(64.0) * 100, np.arange(64.0))
    for mode, centre in (("decimate", 0.0), ("area", 1.5)):
        level = Surround(Downsample(4, mode))(torch.from_numpy(ramp)[None, None])[0, 0]
        assert float(level[2, 3]) == pytest.approx((8 + centre) * 100 + 12 + centre)


def test_the_right_crappifier_reproduces_the_real_residual_and_a_wrong_one_does_not(field):
    rng = np.random.default_rng(2)
    hr = rng.poisson(field * 2000) / 2000
    lr = rng.poisson(field[::4, ::4] * 20) / 20
    profile = profile_pair(lr, hr, 4)
    # In the HR's normalised units (x - low) / span: photons scale with the span, and
    # the field's dim background sits at -low / span.
    low, high = np.percentile(hr, [0.1, 99.9])
    point_scan = PointScanParams(photons=20 * (high - low), background=low / (high - low))
    right = residuals(profile, dataclasses.replace(point_scan, read_noise=0).crappifier())
    point_scan.photons *= 10
    wrong = residuals(profile, dataclasses.replace(point_scan, read_noise=0).crappifier())
    assert right["synthetic"].std() == pytest.approx(right["real"].std(), rel=0.05)
    assert wrong["synthetic"].std() < 0.6 * wrong["real"].std()
    with pytest.raises(InputError, match="downsamples by 2"):
        residuals(profile, PointScanParams(scale=2).crappifier())
