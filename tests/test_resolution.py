"""The two-point resolution test: its answers on known images, and that it cannot be gamed."""

import numpy as np
import pytest
from scipy import ndimage

from pssr_nb.errors import InputError
from pssr_nb.pair_target import default_kind, make_target, separations
from pssr_nb.phantoms import MICROSCOPES
from pssr_nb.resolution import compare, measure, standard_outputs

CONFOCAL = MICROSCOPES["confocal"]
FWHM = CONFOCAL.psf_fwhm


@pytest.fixture(scope="module")
def target():
    """Confocal point pairs from 0.6 to 2 FWHM, 16 per separation, 60 controls."""
    seps = np.geomspace(0.6 * FWHM, 2.0 * FWHM, 14)
    return make_target(CONFOCAL, 4, "points", 16, controls=60, seed=3, separations_nm=seps)


@pytest.fixture(scope="module")
def hr_scans(target):
    return [target.scan("hr", k).astype(np.float64) for k in range(3)]


def _d50(target, images):
    return measure(target, images).limits(levels=(0.5,), n_boot=100)[0.5]


def test_the_layout_is_what_the_test_needs():
    seps = separations(MICROSCOPES["sem"], 4)
    assert np.all(seps[1:] / seps[:-1] <= 1.10 + 1e-9)
    assert seps[0] == pytest.approx(0.75 * 8.0) and seps[-1] >= 6 * 16.0
    # an 8 nm PSF sampled every 16 nm misses most points: EM is tested with lines
    assert default_kind(MICROSCOPES["sem"], 4) == "lines"
    assert default_kind(CONFOCAL, 4) == "points"
    t = make_target(CONFOCAL, 4, "points", 5, controls=7, seed=0, separations_nm=[200, 300])
    assert len(t.pair_centres) == 10 and len(t.control_centres) == 7
    assert t.truth.shape[0] % 32 == 0 and t.truth.min() >= 0
    again = make_target(CONFOCAL, 4, "points", 5, controls=7, seed=0, separations_nm=[200, 300])
    np.testing.assert_array_equal(t.truth, again.truth)
    np.testing.assert_array_equal(t.scan("lr", 1), again.scan("lr", 1))
    assert not np.array_equal(t.scan("lr", 1), t.scan("lr", 2))  # independent noise draws


def test_the_noiseless_truth_resolves_near_the_sparrow_limit(target):
    # two Gaussians of this PSF show a dip from 2 sigma = 0.85 FWHM on
    d50 = _d50(target, [target.truth])
    assert 0.8 * FWHM < d50["nm"] < 1.0 * FWHM
    assert d50["ci_low"] <= d50["nm"] <= d50["ci_high"]


def test_more_blur_gives_a_coarser_resolution(target):
    sharp = _d50(target, [target.truth])
    sigma = FWHM / 2.3548 / CONFOCAL.hr_pixel_size
    blurred = _d50(target, [ndimage.gaussian_filter(target.truth, sigma)])
    assert blurred["nm"] > 1.25 * sharp["nm"] and blurred["ci_low"] > sharp["ci_high"]


def test_noise_makes_the_scan_coarser_than_its_truth(target, hr_scans):
    assert _d50(target, hr_scans)["nm"] > _d50(target, [target.truth])["nm"]


def test_an_affine_map_of_the_intensities_changes_nothing(target, hr_scans):
    before = measure(target, hr_scans)
    after = measure(target, [3.7 * im + 120 for im in hr_scans])
    np.testing.assert_array_equal(before.resolved, after.resolved)
    np.testing.assert_array_equal(before.false_resolved, after.false_resolved)


@pytest.mark.parametrize("gamma", [0.4, 2.5])
def test_a_gamma_curve_does_not_make_it_finer(target, hr_scans, gamma):
    honest = _d50(target, hr_scans)
    lo, hi = min(im.min() for im in hr_scans), max(im.max() for im in hr_scans)
    curved = _d50(target, [((im - lo) / (hi - lo)) ** gamma for im in hr_scans])
    assert curved["nm"] is None or curved["nm"] >= honest["ci_low"]  # None: coarser still


def test_a_blur_is_caught(target, hr_scans):
    honest = _d50(target, hr_scans)
    blurred = _d50(target, [ndimage.gaussian_filter(im, 2.0) for im in hr_scans])
    assert blurred["nm"] is None or blurred["ci_low"] > honest["ci_high"], (blurred, honest)


def test_a_single_object_is_rarely_called_two(target, hr_scans):
    curve = measure(target, hr_scans)
    d50 = curve.limits(levels=(0.5,), n_boot=50)[0.5]["nm"]
    at = np.interp(np.log(d50), np.log(curve.separations_nm), curve.false_resolved)
    assert at <= 0.05


def test_an_image_without_the_pairs_resolves_nothing(target):
    flat = np.full(target.truth.shape, 5.0) + np.random.default_rng(0).normal(0, 1, (3, 1, 1))
    curve = measure(target, list(flat))
    assert not curve.resolved.any()
    assert curve.limits(n_boot=20)[0.5] == {"nm": None, "ci_low": None, "ci_high": None}


def test_compare_reports_every_method_with_intervals(target):
    outputs = standard_outputs(target, 2, predict=lambda lr: np.kron(lr, np.ones((4, 4))))
    report = compare(target, outputs, n_boot=30)
    methods = [r["method"] for r in report["rows"]]
    assert methods == ["truth", "HR scan", "bicubic", "model"]
    truth = report["rows"][0]
    assert truth["d50_nm"] <= truth["d95_nm"] and truth["draws"] == 1
    assert len(report["curves"]["model"]["p_resolved"]) == len(report["separations_nm"])
    with pytest.raises(InputError, match="HR grid"):
        measure(target, [target.truth[:-4]])


def test_em_line_pairs_are_dark_on_a_bright_section():
    t = make_target(MICROSCOPES["sem"], 4, None, 4, controls=4, seed=0, separations_nm=[12, 40])
    assert t.kind == "lines" and t.polarity == -1 and t.line_length >= 32
    centre = np.rint(t.control_centres[0]).astype(int)
    assert t.truth[centre[0], centre[1]] < np.median(t.truth) - 0.2
    assert _d50(t, [t.truth])["nm"] == pytest.approx(12, rel=0.01)  # both resolved: the smallest
