"""Metrics done right (issue "Benchmark and validation")."""

import numpy as np
import pytest
from skimage import metrics as skm

from pssr_nb.metrics import (
    care_normalize,
    mean_sd,
    ms_ssim,
    psnr,
    psnr_ceiling,
    score,
    ssim,
    tile_scores,
)
from pssr_nb.phantoms import simulate


@pytest.fixture(scope="module")
def images():
    truth = simulate("em", (256, 256), 4, seed=0).truth.astype(np.float64)
    rng = np.random.default_rng(0)
    return truth, truth + rng.normal(0, 0.05, truth.shape)


def test_psnr_and_ssim_agree_with_scikit_image(images):
    truth, noisy = images
    assert psnr(noisy, truth, 1.0) == pytest.approx(
        skm.peak_signal_noise_ratio(truth, noisy, data_range=1.0)
    )
    expected = skm.structural_similarity(
        truth,
        noisy,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
    )
    assert ssim(noisy, truth, 1.0) == pytest.approx(expected)
    assert psnr(truth + 0.1, truth, 1.0) == pytest.approx(20.0)  # MSE 0.01


def test_ms_ssim_is_one_for_identical_images_and_falls_with_noise(images):
    truth, noisy = images
    assert ms_ssim(truth, truth, 1.0) == pytest.approx(1.0, abs=1e-6)
    assert ms_ssim(noisy, truth, 1.0) < ms_ssim(0.5 * (noisy + truth), truth, 1.0) < 1


def test_care_normalisation_forgives_gain_and_offset_but_not_noise(images):
    truth, noisy = images
    fixed = score(noisy, truth, "fixed")
    assert score(3 * noisy + 10, truth, "care")["psnr"] == pytest.approx(
        score(noisy, truth, "care")["psnr"]
    )
    assert score(3 * noisy + 10, truth, "fixed")["psnr"] < fixed["psnr"] - 20
    fitted, target = care_normalize(noisy, truth)
    assert np.percentile(target, 0.1) == pytest.approx(0) and fitted.shape == truth.shape


def test_each_image_and_tile_gets_its_own_score(images):
    truth, noisy = images
    other = simulate("em", (256, 256), 4, seed=1).truth
    assert score(noisy, truth)["psnr"] != score(other + 0.01, other)["psnr"]
    tiles = tile_scores(noisy, truth, tile=128)
    assert [(t["y"], t["x"]) for t in tiles] == [(0, 0), (0, 128), (128, 0), (128, 128)]
    assert len({round(t["psnr"], 6) for t in tiles}) == 4
    summary = mean_sd(tiles)
    assert summary["psnr_mean"] == pytest.approx(np.mean([t["psnr"] for t in tiles]))
    assert summary["psnr_sd"] > 0


def test_ssim_map_averages_to_ssim_and_care_fit_undoes_gain_and_offset():
    from pssr_nb.metrics import care_fit, ssim, ssim_map

    rng = np.random.default_rng(3)
    truth = rng.random((64, 64))
    pred = truth + rng.normal(0, 0.1, truth.shape)
    assert float(ssim_map(pred, truth, 1.0).mean()) == pytest.approx(
        ssim(pred, truth, 1.0), abs=1e-3
    )
    a, b, target = care_fit(5 * truth + 2, truth)
    np.testing.assert_allclose(a * (5 * truth + 2) + b, target, atol=1e-9)


@pytest.mark.parametrize("photons", [5.0, 30.0, 200.0])
def test_the_ceiling_is_what_the_truth_itself_scores_against_a_noisy_reference(photons):
    truth = simulate("fluorescence", (256, 256), 4, seed=1).truth.astype(np.float64)
    rng = np.random.default_rng(int(photons))
    noisy = rng.poisson(truth * photons) / photons + rng.normal(0, 0.02, truth.shape)
    reference = np.round(noisy / noisy.max() * 255)  # an 8-bit file, as real pairs come
    actual = score(truth, reference)["psnr"]  # a perfect restoration, CARE-scored
    assert psnr_ceiling(reference) == pytest.approx(actual, abs=0.2)


def test_a_noiseless_reference_leaves_room_and_more_noise_lowers_the_ceiling(images):
    truth, noisy = images
    rng = np.random.default_rng(1)
    noisier = truth + rng.normal(0, 0.1, truth.shape)
    assert psnr_ceiling(truth) > 35  # only its finest structure reads as noise
    assert psnr_ceiling(noisy, "fixed") - psnr_ceiling(noisier, "fixed") == pytest.approx(
        6.0, abs=0.2
    )
