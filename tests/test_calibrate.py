"""The physical crappifier and noise profiles of real pairs (issue "Calibrate", first part)."""

import numpy as np
import pytest

from pssr_nb.calibrate import PointScanParams, matched_pair, noise_profiles, variance_by_level
from pssr_nb.crappify import Crappifier
from pssr_nb.errors import InputError
from pssr_nb.phantoms import simulate


@pytest.mark.parametrize(
    "params",
    [
        PointScanParams(),
        PointScanParams(scale=2, mode="area", blur=1.5, photons=50, background=0.1),
        PointScanParams(photons=0, read_noise=0.05),
    ],
)
def test_point_scan_settings_round_trip_through_a_crappifier(params):
    assert PointScanParams.from_crappifier(params.crappifier()) == params


def test_crappifiers_of_another_form_are_not_point_scan_settings():
    assert PointScanParams.from_crappifier(Crappifier.default(4)) is None  # ranges


def test_matched_pair_undoes_gain_and_offset():
    ps = simulate("fluorescence", (128, 128), 4, seed=1)
    signal, lr = matched_pair(ps.hr[::4, ::4] * 3.0 + 50, ps.hr, 4)
    np.testing.assert_allclose(lr, signal, atol=1e-9)
    with pytest.raises(InputError, match="same field"):
        matched_pair(-ps.hr[::4, ::4].astype(float), ps.hr, 4)


def test_variance_grows_with_signal_for_shot_noise_and_matches_the_crappifier():
    rng = np.random.default_rng(0)
    signal = rng.uniform(0.1, 1.0, 200_000)
    residual = rng.poisson(signal * 50) / 50 - signal
    means, variances = variance_by_level(signal, residual, bins=8)
    slope = np.polyfit(means, variances, 1)[0]
    assert slope == pytest.approx(1 / 50, rel=0.05)


def test_a_better_crappifier_gives_a_closer_noise_profile():
    ps = simulate("em", (256, 256), 4, seed=2)
    weak = noise_profiles(
        ps.lr, ps.hr, PointScanParams(photons=2000, read_noise=0.001).crappifier()
    )
    assert weak["real"].std() > 2 * weak["synthetic"].std()
    close = noise_profiles(ps.lr, ps.hr, PointScanParams(photons=8, read_noise=0.01).crappifier())
    assert abs(close["real"].std() - close["synthetic"].std()) < 0.2 * close["real"].std()
