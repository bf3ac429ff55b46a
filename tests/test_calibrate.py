"""Calibration of the crappifier (issue "Calibrate"): estimator, fit, model choice, outputs."""

import dataclasses
import json

import numpy as np
import pytest

from pssr_nb.calibrate import (
    CalibrateParams,
    PointScanParams,
    calibrate_lr_only,
    calibrate_pairs,
    compare_noise,
)
from pssr_nb.crappifier_fit import (
    Family,
    NoiseDistance,
    Parameter,
    fit_family,
    point_scan_families,
)
from pssr_nb.crappify import Crappifier, Downsample, Gaussian, Offset, Poisson
from pssr_nb.errors import InputError
from pssr_nb.noise_model import NoiseModel
from pssr_nb.normalize import percentile_normalization
from pssr_nb.pair_profile import profile_pair
from pssr_nb.phantoms import simulate


def known_pair(photons: float, read: float, seed: int = 0, size: int = 512):
    """A phantom field imaged with known Poisson-Gaussian noise, as files would hold it.

    The HR scan is clean (2000 photons); the LR scan decimates 4x and counts
    ``photons`` at intensity 1 with Gaussian ``read`` noise. Both are then scaled
    to grey values with different gains and offsets, as two detector settings
    would. Returns the LR, the HR, the LR's dark level, and the LR noise in the
    HR's normalised units (what calibration reports).
    """
    truth = simulate("fluorescence", (size, size), 4, seed=seed).truth.astype(np.float32)
    truth /= np.percentile(truth, 99.9)
    steps = [Downsample(4)] + ([Poisson(photons)] if photons else [])
    lr = Crappifier(steps + ([Gaussian(read)] if read else []))(truth, seed=seed + 1)
    hr = Crappifier([Poisson(2000.0), Gaussian(0.002)])(truth, seed=seed + 2)
    hr_file, lr_file = 2000 * hr + 50, 700 * lr + 300
    norm = percentile_normalization(hr_file)
    k, c = 2000 / norm.span, (50 - norm.low) / norm.span  # truth -> HR normalised units
    known = NoiseModel.from_physical(photons / k if photons else np.inf, read * k, c)
    return lr_file, hr_file, 300.0, known


@pytest.fixture(scope="module")
def calibrations():
    """Calibration of three known pairs: Poisson+Gaussian, Poisson only, Gaussian only."""
    out = {}
    for name, (photons, read) in {
        "poisson+gaussian": (20, 0.05),
        "poisson": (20, 0),
        "gaussian": (0, 0.08),
    }.items():
        lr, hr, dark, known = known_pair(photons, read)
        params = CalibrateParams(dark_level=dark, trials=10, blur=False)
        out[name] = known, calibrate_pairs([(lr, hr)], params)
    return out


@pytest.mark.parametrize("family", ["poisson+gaussian", "poisson", "gaussian"])
def test_the_fit_chooses_the_family_that_made_the_noise(calibrations, family):
    _, calibration = calibrations[family]
    assert calibration.ranking.chosen.family == f"{family}, decimate"
    # The area-sampling families fit worse: the pair was point-scanned.
    worst_decimate = max(
        r.distance for r in calibration.ranking.results if r.family.endswith("decimate")
    )
    best_area = min(r.distance for r in calibration.ranking.results if r.family.endswith("area"))
    assert best_area > calibration.ranking.results[0].distance + calibration.ranking.tolerance
    assert worst_decimate > 0


@pytest.mark.parametrize("family", ["poisson+gaussian", "poisson"])
def test_physical_estimate_and_fit_recover_photons_and_read_noise_within_10_percent(
    calibrations, family
):
    known, calibration = calibrations[family]
    for estimate in (calibration.lr_noise, calibration.implied_lr_noise()):
        assert estimate.photons == pytest.approx(known.photons, rel=0.1)
        assert estimate.read_noise == pytest.approx(known.read_noise, rel=0.1, abs=0.01)


def test_gaussian_noise_is_recovered_as_read_noise(calibrations):
    known, calibration = calibrations["gaussian"]
    assert calibration.lr_noise.read_noise == pytest.approx(known.read_noise, rel=0.1)
    assert calibration.implied_lr_noise().read_noise == pytest.approx(known.read_noise, rel=0.1)
    assert calibration.lr_noise.photons > 50 * 20  # no detectable shot noise


@pytest.mark.parametrize("seed", [0, 1])
def test_simulated_microscopes_photons_are_recovered_within_10_percent(seed):
    """The built-in phantoms: photons per pixel of the LR scan, in the HR's units."""
    ps = simulate("em", (512, 512), 4, seed=seed)
    photons = ps.noise_model("lr").photons
    params = CalibrateParams(dark_level=ps.microscope.offset, trials=10, blur=False)
    calibration = calibrate_pairs([(ps.lr, ps.hr)], params)
    assert calibration.lr_noise.photons == pytest.approx(photons, rel=0.1)
    assert calibration.implied_lr_noise().photons == pytest.approx(photons, rel=0.1)
    assert calibration.ranking.chosen.family.startswith("poisson")


def test_the_crappifier_adds_less_noise_than_the_lr_has_when_the_hr_is_noisy():
    ps = simulate("em", (256, 256), 4, seed=3)  # the HR has a tenth of the LR's dwell
    calibration = calibrate_pairs([(ps.lr, ps.hr)], CalibrateParams(), fit=False)
    assert calibration.physical.photons > calibration.lr_noise.photons * 1.05
    assert calibration.ranking is None and calibration.rows()[0]["family"] == "physical estimate"


def test_a_dose_range_widens_the_calibrated_crappifier_around_its_centre():
    ps = simulate("em", (256, 256), 4, seed=3)
    one = calibrate_pairs([(ps.lr, ps.hr)], CalibrateParams(dose_range=1.0), fit=False)
    wide = calibrate_pairs([(ps.lr, ps.hr)], CalibrateParams(), fit=False)  # 2x by default
    assert wide.crappifier.typical() == one.crappifier
    assert wide.implied_lr_noise() == one.implied_lr_noise()  # the centre's noise
    assert wide.crappifier.steps[1].photons == pytest.approx(
        (one.physical.photons / 2, one.physical.photons * 2)
    )
    lr_only = calibrate_lr_only([ps.lr], CalibrateParams(dose_range=2.0))
    assert isinstance(lr_only.crappifier.steps[1].photons, tuple)


def test_lr_only_calibration_is_close_without_any_hr():
    lr, hr, _, known = known_pair(20, 0.05, seed=2)
    calibration = calibrate_lr_only([lr], CalibrateParams())
    assert calibration.lr_noise.photons == pytest.approx(known.photons, rel=0.25)
    assert calibration.source == "lr_only" and "LR images alone" in calibration.warnings[0]
    with_hr = calibrate_lr_only([lr], CalibrateParams(), hr_planes=[hr])
    assert with_hr.physical.photons >= calibration.physical.photons


def test_a_user_defined_family_is_fitted_within_its_declared_range():
    lr, hr, _, known = known_pair(0, 0.06, seed=3, size=256)
    profile = profile_pair(lr, hr, 4)
    family = Family(
        "decimate + my read noise",
        {"sigma": Parameter(0.0, 0.2)},
        lambda v: Crappifier([Downsample(4), Gaussian(v["sigma"])]),
    )
    result = fit_family(family, NoiseDistance([profile]), trials=12, seed=0)
    assert result.values["sigma"] == pytest.approx(known.read_noise, rel=0.1)
    assert result.trials == 12


def test_the_fit_is_seeded():
    lr, hr, _, _ = known_pair(20, 0.05, seed=4, size=256)
    profile = profile_pair(lr, hr, 4)
    family = point_scan_families([profile], noises=("poisson",), blur=(False,))[0]
    first = fit_family(family, NoiseDistance([profile], seed=1), trials=6, seed=1)
    again = fit_family(family, NoiseDistance([profile], seed=1), trials=6, seed=1)
    assert first.values == again.values and first.distance == again.distance


def test_save_writes_a_crappifier_training_reads_and_a_report(tmp_path):
    lr, hr, dark, _ = known_pair(20, 0.05, seed=5, size=256)
    calibration = calibrate_pairs(
        [(lr, hr)], CalibrateParams(trials=6, blur=False, dark_level=dark), names=["cell_05"]
    )
    path = calibration.save(tmp_path / "calibrate")
    assert Crappifier.load(path) == calibration.crappifier
    report = json.loads((tmp_path / "calibrate" / "calibration.json").read_text())
    assert report["pairs"][0]["name"] == "cell_05"
    assert report["ranking"][0]["distance"] <= report["ranking"][-1]["distance"]
    assert report["physical_estimate"]["lr_noise"]["photons"] > 0
    assert sorted(p.name for p in (tmp_path / "calibrate").iterdir()) == [
        "calibration.json",
        "crappifier.json",
    ]


def test_pairs_from_different_samplings_are_refused():
    field = simulate("fluorescence", (256, 256), 4, seed=6).truth.astype(float)
    binned = field.reshape(64, 4, 64, 4).mean(axis=(1, 3))
    with pytest.raises(InputError, match="disagree"):
        calibrate_pairs([(field[::4, ::4], field), (binned, field)], fit=False)
    with pytest.raises(InputError, match="at least one"):
        calibrate_pairs([])


@pytest.mark.parametrize(
    "params",
    [
        PointScanParams(),
        PointScanParams(scale=2, mode="area", blur=1.5, photons=50, background=0.1),
        PointScanParams(photons=30, background=-0.2, read_noise=0.02),
        PointScanParams(photons=0, read_noise=0.05),
    ],
)
def test_point_scan_settings_round_trip_through_a_crappifier(params):
    assert PointScanParams.from_crappifier(params.crappifier()) == params


def test_crappifiers_of_another_form_are_not_point_scan_settings():
    assert PointScanParams.from_crappifier(Crappifier.default(4)) is None  # ranges
    assert PointScanParams.from_crappifier(Crappifier([Downsample(4), Offset(0.1)])) is None


def test_point_scan_from_a_noise_model():
    params = PointScanParams.from_noise(NoiseModel.from_physical(25, 0.03, -0.1), scale=2)
    assert (params.photons, params.background) == pytest.approx((25, 0.1))
    assert params.read_noise == pytest.approx(0.03)


@pytest.mark.shared_data
def test_real_confocal_low_high_snr_pair_calibrates_with_a_reported_fit(shared_data):
    from pssr_nb.io import read_image

    folder = shared_data / "gigadb_hagen_pairs"
    lr = read_image(folder / "nucleus_lowsnr.png").data
    hr = read_image(folder / "nucleus_highsnr.png").data
    calibration = calibrate_pairs(
        [(lr, hr)], CalibrateParams(scale=1, trials=8, blur=False), names=["nucleus"]
    )
    report = calibration.report()
    assert report["pairs"][0]["misregistration_hr_px"] < 0.35
    assert 0 < report["ranking"][0]["distance"] < 0.5
    assert "poisson" in calibration.ranking.chosen.family  # shot noise is there
    assert 10 < calibration.lr_noise.photons < 1000


def test_the_noise_comparison_puts_the_right_crappifier_on_the_real_curve(calibrations):
    """The curves the notebook draws: the fitted family's variance lies on the real
    one, a crappifier with ten times the photons' noise does not."""
    _, calibration = calibrations["poisson+gaussian"]
    comparison = calibration.comparison(top=2)
    assert list(comparison.residuals)[0] == "real" and len(comparison.curves) == 3
    wrong = dataclasses.replace(
        PointScanParams.from_crappifier(calibration.crappifier.typical()), photons=2.0
    ).crappifier()
    against = compare_noise(
        calibration.profiles[0], {"right": calibration.crappifier.typical(), "wrong": wrong}
    )
    real = against.curves["real"][1]
    assert np.abs(against.curves["right"][1] / real - 1).mean() < 0.15
    assert np.abs(against.curves["wrong"][1] / real - 1).mean() > 1
    means, variances = calibration.noise_levels()
    assert means.shape == variances.shape == (12,)
    plt = pytest.importorskip("matplotlib.pyplot")
    from pssr_nb.plotting import noise_profile_figure, physical_estimate_figure

    for fig in (noise_profile_figure(against), physical_estimate_figure(calibration)):
        assert len(fig.axes) >= 1
        plt.close(fig)


def test_calibration_reports_each_fitted_family_and_stops_when_the_report_raises():
    ps = simulate("em", (256, 256), 4, seed=2)
    params = CalibrateParams(trials=2, blur=False)
    seen = []
    calibration = calibrate_pairs([(ps.lr, ps.hr)], params, progress=lambda *a: seen.append(a))
    families = len(calibration.ranking.results)
    assert seen == [(i, families) for i in range(1, families + 1)]

    class Cancel(Exception):
        pass

    def cancel(done, total):
        raise Cancel

    with pytest.raises(Cancel):
        calibrate_pairs([(ps.lr, ps.hr)], params, progress=cancel)
