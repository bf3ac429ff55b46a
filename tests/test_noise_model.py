"""Poisson-Gaussian noise models and their estimation from single images."""

import math

import numpy as np
import pytest

from pssr_nb.noise_model import (
    NoiseModel,
    binned_variance,
    fit_line,
    image_noise_model,
    local_noise,
)


def test_physical_parameters_round_trip_through_the_line():
    model = NoiseModel.from_physical(photons=25, read_noise=0.04, zero_level=-0.1)
    assert model.photons == pytest.approx(25)
    assert model.read_noise == pytest.approx(0.04)
    # Background light (zero level below 0) adds shot noise at signal 0.
    assert model.variance(0.0) == pytest.approx(0.04**2 + 0.1 / 25)
    assert NoiseModel.from_physical(math.inf, 0.1).photons == math.inf


def test_plus_and_minus_are_inverse_and_shot_noise_never_goes_negative():
    lr, hr = NoiseModel(0.05, 0.002), NoiseModel(0.005, 0.0005)
    assert lr.minus(hr).plus(hr).gain == pytest.approx(lr.gain)
    assert lr.minus(hr).plus(hr).constant == pytest.approx(lr.constant)
    assert hr.minus(lr).gain == 0.0
    assert lr.scaled(0.25).variance(1.0) == pytest.approx(0.25 * lr.variance(1.0))


def test_fit_line_recovers_shot_and_read_noise_from_a_residual():
    rng = np.random.default_rng(0)
    signal = rng.uniform(0.05, 1.0, 400_000)
    residual = rng.poisson(signal * 40) / 40 - signal + rng.normal(0, 0.03, signal.size)
    model = fit_line(*binned_variance(signal, residual, bins=10))
    assert model.photons == pytest.approx(40, rel=0.05)
    assert model.read_noise == pytest.approx(0.03, rel=0.1)


def test_fit_line_without_shot_noise_is_flat():
    rng = np.random.default_rng(1)
    signal = rng.uniform(0, 1, 100_000)
    model = fit_line(*binned_variance(signal, rng.normal(0, 0.05, signal.size), bins=8))
    assert model.gain < 0.0005
    assert model.read_noise == pytest.approx(0.05, rel=0.05)


def test_robust_variance_ignores_a_few_outliers():
    rng = np.random.default_rng(2)
    values = rng.normal(0, 1, 10_000)
    values[:100] = 50.0
    _, plain, _ = binned_variance(np.zeros_like(values), values, bins=1)
    _, robust, _ = binned_variance(np.zeros_like(values), values, bins=1, robust=True)
    assert plain[0] > 20 and robust[0] == pytest.approx(1.0, rel=0.1)


def test_local_noise_cancels_structure_along_the_axes():
    yy, xx = np.mgrid[0:64, 0:64]
    signal, noise = local_noise(0.3 * yy + 0.2 * xx + 0.01 * xx**2 + 0.02 * yy**2)
    assert np.abs(noise).max() < 1e-9
    assert signal.shape == (63, 63)


def test_image_noise_model_on_a_noisy_textured_image():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:512, 0:512] / 512
    clean = 0.1 + 0.8 * (0.5 + 0.5 * np.sin(6 * xx) * np.cos(4 * yy))
    noisy = rng.poisson(clean * 30) / 30 + rng.normal(0, 0.04, clean.shape)
    model = image_noise_model(noisy)
    assert model.photons == pytest.approx(30, rel=0.1)
    assert model.read_noise == pytest.approx(0.04, rel=0.15)
